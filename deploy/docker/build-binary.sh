#!/usr/bin/env bash
# Builds one binary of a tier distribution with ocb, for one architecture:
#
#   build-binary.sh MANIFEST ARCH OUT
#
# MANIFEST is a tier manifest (build/builder-config-<tier>.yaml, written by
# cmd/tiermanifest). ocb generates the tier's sources into the manifest's
# output_path; the module files are the all-in-one's ($DIST_DIR/go.mod and
# go.sum, renamed to the tier's module), so every image holds the dependency
# versions that `make test` tests, and the tier's packages are the
# all-in-one's, compiled with the same flags (ocb: -trimpath, -ldflags
# "-s -w", the manifest's build_tags; CGO off) and found in the build cache.
# ocb then compiles for linux/ARCH; the binary is moved to OUT.
#
# Reproducible: the binary holds no path (-trimpath), no VCS state
# (-buildvcs=false: the image's labels carry the revision) and no time; Go's
# build ID is a hash of the inputs. `make verify-reproducible` checks it.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 MANIFEST ARCH OUT" >&2
  exit 2
fi
manifest=$1 arch=$2 out=$3
: "${OCB:?}" "${DIST_DIR:?}" "${GO:=go}"
field() { sed -n "s/^  $1: *//p" "$manifest" | head -1; }
name=$(field name) src=$(field output_path) module=$(field module)
[ -n "$name" ] && [ -n "$src" ] && [ -n "$module" ] || { echo "$manifest: dist::name, output_path or module missing" >&2; exit 1; }

export CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
mkdir -p "$src" "$(dirname "$out")"
"$OCB" --config "$manifest" --skip-compilation --skip-get-modules
if [ "$(cd "$src" && pwd)" != "$(cd "$DIST_DIR" && pwd)" ]; then
  cp "$DIST_DIR/go.mod" "$DIST_DIR/go.sum" "$src/"
  (cd "$src" && "$GO" mod edit -module "$module")
  # The manifest's replaces (a tier's lean variants, e.g. the sidecar's
  # load_balancing => ../lean/loadbalancingexporter) on the all-in-one's
  # module graph: a directory replace with the upstream module's go.mod
  # leaves every other module's version as it is.
  sed -n '/^replaces:/,/^[^ #-]/s/^  *- *\(.*[^ ]\) *=> *\(.*\)$/\1=\2/p' "$manifest" | while IFS= read -r r; do
    (cd "$src" && "$GO" mod edit -replace "$r")
  done
fi
"$OCB" --config "$manifest" --skip-generate --skip-get-modules
test -x "$src/$name" || { echo "ocb built no $src/$name" >&2; exit 1; }
mv "$src/$name" "$out"
