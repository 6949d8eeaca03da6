#!/usr/bin/env bash
# Pushes the built images to a registry, one multi-arch image per name:
#
#   publish.sh REGISTRY NAME...
#
# For each NAME (otelcol-tiered, otelcol-tiered-sidecar, ...) and each arch of
# IMAGE_ARCHES: tags the image of $IMAGES_DIR/NAME-linux-ARCH.id as
# REGISTRY/NAME:VERSION-ARCH and pushes it; then pushes the list
# REGISTRY/NAME:VERSION over those arches (docker manifest: no buildx). Writes
# what cosign signs and attests, by digest:
#   $IMAGES_DIR/published.txt       REGISTRY/NAME@<list digest>, one a line
#   $IMAGES_DIR/published-arch.txt  REGISTRY/NAME@<image digest> <its SBOM file>
# A registry on loopback is spoken to over plain HTTP (the engine allows it
# for 127.0.0.0/8 by default; `docker manifest` needs --insecure).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REGISTRY NAME..." >&2
  exit 2
fi
registry=${1%/}
shift
: "${DOCKER:=docker}" "${VERSION:?}" "${IMAGES_DIR:?}" "${IMAGE_ARCHES:?}"
insecure=()
case $registry in 127.*|localhost:*|localhost/*) insecure=(--insecure) ;; esac

: > "$IMAGES_DIR/published.txt"
: > "$IMAGES_DIR/published-arch.txt"
for name in "$@"; do
  refs=()
  for arch in $IMAGE_ARCHES; do
    idf=$IMAGES_DIR/$name-linux-$arch.id
    if [ ! -f "$idf" ]; then
      echo "publish: $idf missing: run make images-build IMAGE_ARCHES=\"$IMAGE_ARCHES\" first" >&2
      exit 1
    fi
    ref=$registry/$name:$VERSION-$arch
    $DOCKER tag "$(cat "$idf")" "$ref"
    $DOCKER push -q "$ref" >/dev/null
    digest=$($DOCKER image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" | grep -F "$registry/$name@" | head -1)
    [ -n "$digest" ] || { echo "publish: no digest for $ref after the push" >&2; exit 1; }
    echo "$digest $IMAGES_DIR/$name-linux-$arch.cdx.json" >> "$IMAGES_DIR/published-arch.txt"
    refs+=("$ref")
  done
  list=$registry/$name:$VERSION
  $DOCKER manifest rm "$list" >/dev/null 2>&1 || true
  $DOCKER manifest create "${insecure[@]}" "$list" "${refs[@]}" >/dev/null
  digest=$($DOCKER manifest push "${insecure[@]}" --purge "$list" | grep -o 'sha256:[0-9a-f]\{64\}' | tail -1)
  [ -n "$digest" ] || { echo "publish: no digest for the list $list" >&2; exit 1; }
  echo "$registry/$name@$digest" >> "$IMAGES_DIR/published.txt"
  echo "$list ($IMAGE_ARCHES): $registry/$name@$digest"
done
