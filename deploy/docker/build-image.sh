#!/usr/bin/env bash
# Builds one image of otelcol-tiered FROM scratch (deploy/docker/Dockerfile)
# for one architecture, without buildx: the engine's classic builder takes
# `--platform linux/<arch>` with a scratch base and records the architecture
# in the image config, and nothing in the Dockerfile runs, so no emulator is
# needed.
#
#   build-image.sh NAME ARCH BINARY SBOM DESCRIPTION CONFIG...
#
# Tags NAME:VERSION-ARCH, and NAME:VERSION and NAME:latest when ARCH is the
# engine's own. Writes $IMAGES_DIR/NAME-linux-ARCH.id (the image ID: tests use
# it, since another build may move a tag). The labels (OCI annotation keys):
# source, revision, version, licenses, created (the commit's time, so that two
# builds of one commit agree), and the digest of SBOM, the CycloneDX SBOM of
# BINARY that `make sbom` ships beside the image.
#
# Called by the Makefile, which sets DOCKER, VERSION, IMAGES_DIR, CA_BUNDLE,
# IMAGE_SOURCE, IMAGE_REVISION, IMAGE_CREATED and IMAGE_LICENSES.
set -euo pipefail
if [ $# -lt 6 ]; then
  echo "usage: $0 NAME ARCH BINARY SBOM DESCRIPTION CONFIG..." >&2
  exit 2
fi
name=$1 arch=$2 binary=$3 sbom=$4 description=$5
shift 5
: "${DOCKER:=docker}" "${VERSION:?}" "${IMAGES_DIR:?}" "${CA_BUNDLE:?}"
: "${IMAGE_SOURCE:?}" "${IMAGE_REVISION:?}" "${IMAGE_CREATED:?}" "${IMAGE_LICENSES:?}"

ctx=$IMAGES_DIR/context/$name-linux-$arch
rm -rf "$ctx"
mkdir -p "$ctx/configs" "$ctx/var-lib/queue" "$ctx/var-lib/sink" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp "$binary" "$ctx/otelcol-tiered"
cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
cp "$@" "$ctx/configs/"

sbom_digest=sha256:$(sha256sum "$sbom" | cut -d' ' -f1)
tags=(-t "$name:$VERSION-$arch")
# The classic builder's layer cache ignores the platform: an arm64 build
# would reuse the amd64 image's first layers (or the other way round) and
# fail ("does not match the specified platform"). So no layer cache: a few
# COPYs, nothing runs.
if [ "$arch" = "$($DOCKER version --format '{{.Server.Arch}}')" ]; then
  tags+=(-t "$name:$VERSION" -t "$name:latest")
fi
previous=$($DOCKER image inspect -f '{{.Id}}' "$name:$VERSION-$arch" 2>/dev/null || true)
DOCKER_BUILDKIT=0 $DOCKER build -q --no-cache --platform "linux/$arch" -f deploy/docker/Dockerfile \
  --build-arg TITLE="$name" --build-arg DESCRIPTION="$description" \
  --label org.opencontainers.image.source="$IMAGE_SOURCE" \
  --label org.opencontainers.image.revision="$IMAGE_REVISION" \
  --label org.opencontainers.image.version="$VERSION" \
  --label org.opencontainers.image.licenses="$IMAGE_LICENSES" \
  --label org.opencontainers.image.created="$IMAGE_CREATED" \
  --label com.github.otelcol-tiered.sbom.digest="$sbom_digest" \
  --label com.github.otelcol-tiered.sbom.format="CycloneDX JSON" \
  --label com.github.otelcol-tiered.sbom.file="$(basename "$sbom")" \
  "${tags[@]}" "$ctx" >/dev/null 2> >(grep -v -e 'legacy builder is deprecated' -e 'BuildKit is currently disabled' -e 'environment-variable' -e '^ *$' >&2)
id=$($DOCKER image inspect -f '{{.Id}}' "$name:$VERSION-$arch")
echo "$id" > "$IMAGES_DIR/$name-linux-$arch.id"
# The image this one replaced, unless still used: rebuilds leave no leftovers.
if [ -n "$previous" ] && [ "$previous" != "$id" ]; then
  $DOCKER image rm "$previous" >/dev/null 2>&1 || true
fi
$DOCKER image inspect "$id" --format "$name:$VERSION-$arch {{.Os}}/{{.Architecture}} {{.Size}}" |
  awk '{printf "%s (%s): %.1f MB\n", $1, $2, $3/1e6}'
