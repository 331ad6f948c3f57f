#!/usr/bin/env bash
# Build the shop's images without a container registry:
#   domino-shop/storefront:0.1.0 domino-shop/catalog:0.1.0
#   domino-shop/checkout:0.1.0   domino-shop/payments:0.1.0
#
#   bash examples/shop/build-images.sh
#
# Each is FROM scratch around one static binary from build.sh; `docker build`
# runs with --network=none and pulls nothing. Idempotent: unchanged binaries
# reuse Docker's layer cache. Every image carries the label
# org.domino.example=shop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VERSION=0.1.0
SERVICES=(storefront catalog checkout payments)
BUILT_BY=examples/shop/build-images.sh

started=$SECONDS
say() { printf '[shop images %3ds] %s\n' "$((SECONDS - started))" "$*"; }
die() { printf 'build-images.sh: %s\n' "$*" >&2; exit 1; }

# The classic builder: BuildKit would want a buildx plugin (not in Debian's
# docker.io) and may try to resolve images in a registry.
export DOCKER_BUILDKIT=0

docker info >/dev/null 2>&1 ||
    die "no Docker engine reachable (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock})"

say "build.sh: static binaries into bin/"
bash build.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for svc in "${SERVICES[@]}"; do
    tag=domino-shop/$svc:$VERSION
    docker build --network=none --build-arg "SERVICE=$svc" \
        --label "org.domino.built-by=$BUILT_BY" --tag "$tag" . >"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "docker build $tag failed"; }
    # The binary in the image runs (no libc needed) and is the one just built.
    got=$(docker run --rm --network=none "$tag" -version) || die "$tag does not run"
    [[ $got == "$svc $VERSION" ]] || die "$tag reports '$got'"
    say "ok: $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}'))"
done
# Dangling layers left by earlier builds of the same tags.
docker image prune --force --filter "label=org.domino.built-by=$BUILT_BY" >/dev/null
say "done"
