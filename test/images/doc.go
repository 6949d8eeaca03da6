// Package images tests what `make images` builds (make test builds the part
// it needs first: images-test-files, images-test): each tier binary holds
// exactly its tier's components and validates its tier's config; every
// binary is built with the release flags and is static; the arm64 sidecar
// is an aarch64 binary; each SBOM lists its binary's modules; each image is
// labelled, points at its SBOM by digest and says its architecture.
package images
