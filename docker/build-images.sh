#!/usr/bin/env bash
# Build Domino's images without a container registry (air-gapped mode).
#
#   bash docker/build-images.sh
#
# Produces, under the tags compose/docker-compose.yml uses:
#   domino/services:0.1.0              the four mock services (one image)
#   ghcr.io/shopify/toxiproxy:2.12.0   Domino's toxiproxy-server (Toxiproxy 2.12.0 with
#                                      Domino's toxics, from harness/toxiproxy/server) and
#                                      upstream's toxiproxy-cli, FROM scratch (upstream's
#                                      layout, under the tag the docker backend runs)
# from what such machines do reach: Debian's packages (debootstrap), PyPI (a
# wheelhouse built on the host with pip wheel) and the Go module proxy
# (Toxiproxy built with CGO_ENABLED=0). `docker build` runs with
# --network=none: nothing is fetched inside a build.
#
# Idempotent: a second run reuses the base image, the rootfs tarball, the
# wheelhouse and the Toxiproxy binaries kept under .domino/docker/, and
# Docker's layer cache; each is rebuilt from scratch when missing. The
# Toxiproxy binaries and image are rebuilt when Domino's server sources change
# (a digest of them is kept beside the binaries and as an image label); an
# image pulled from upstream under the same tag is replaced by Domino's build.
#
# Settings (environment):
#   DOMINO_PYTHON       Python whose installed packages pin the wheelhouse
#                       (default: .venv/bin/python, else python3)
#   DOMINO_BASE_IMAGE   use this base instead of building one with debootstrap,
#                       e.g. python:3.11-slim-bookworm where a registry is reachable
#   DEBIAN_MIRROR       debootstrap's mirror (default http://deb.debian.org/debian)
#   GO                  the go binary (default: go on PATH)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="$ROOT/.domino/docker"
SERVICES_IMAGE=domino/services:0.1.0
TOXIPROXY_VERSION=2.12.0
TOXIPROXY_IMAGE=ghcr.io/shopify/toxiproxy:$TOXIPROXY_VERSION
# Domino's toxiproxy-server: its Go sources, the version they stamp (main.go's
# Version, e.g. 2.12.0+domino.1) and a digest of them.
SERVER_SOURCES="$ROOT/harness/toxiproxy/server"
SERVER_VERSION=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$SERVER_SOURCES/main.go")
[[ $SERVER_VERSION == "$TOXIPROXY_VERSION+domino."* ]] ||
    { echo "build-images: cannot read Domino's server version from $SERVER_SOURCES/main.go" >&2; exit 1; }
SERVER_DIGEST=$(cd "$SERVER_SOURCES" &&
    find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) |
    LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
BASE_TAG=domino/debian-python3:bookworm
BASE_IMAGE=${DOMINO_BASE_IMAGE:-$BASE_TAG}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS_TAR="$CACHE/debian-bookworm-python3-rootfs.tar"
WHEELHOUSE="$CACHE/wheelhouse"
TOXIPROXY_BIN="$CACHE/toxiproxy-$SERVER_VERSION"
# Images built here carry this label; a pulled upstream image does not.
BUILT_BY=docker/build-images.sh

started=$SECONDS
say() { printf '[build-images %3ds] %s\n' "$((SECONDS - started))" "$*"; }
die() { printf 'build-images: %s\n' "$*" >&2; exit 1; }

# A classic `docker build`: BuildKit would want a buildx plugin (not in Debian's
# docker.io) and may try to resolve base images in a registry.
export DOCKER_BUILDKIT=0

docker info >/dev/null 2>&1 ||
    die "no Docker engine reachable (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}); start one, e.g. sudo bash .ci/docker.sh start"
mkdir -p "$CACHE"

# Run a command with its output in a log file, shown only when it fails.
quietly() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "failed: $* (log: $log)"; }
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Whatever an interrupted run leaves: temporary folders, and a background Go build.
CLEANUP=()
GO_PID=""
cleanup() {
    if [[ -n $GO_PID ]]; then
        # The background job is a subshell running `go`: stop both.
        kill $(ps -o pid= --ppid "$GO_PID") "$GO_PID" 2>/dev/null || true
    fi
    ((${#CLEANUP[@]} == 0)) || rm -rf "${CLEANUP[@]}"
}
trap cleanup EXIT

# -- 1. The base image: Debian's python3 from debootstrap, imported -------------------------
build_base() {
    if have_image "$BASE_IMAGE"; then
        say "base image $BASE_IMAGE: present"
        return
    fi
    [[ $BASE_IMAGE == "$BASE_TAG" ]] ||
        die "base image $BASE_IMAGE is not present; pull it, or unset DOMINO_BASE_IMAGE to build one"
    if [[ ! -s $ROOTFS_TAR ]]; then
        command -v debootstrap >/dev/null ||
            die "debootstrap is not installed (apt-get install debootstrap)"
        [[ $(id -u) == 0 ]] || die "debootstrap needs root to build the base root filesystem"
        local rootfs
        rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        CLEANUP+=("$rootfs" "$ROOTFS_TAR.tmp")
        say "debootstrap bookworm from $DEBIAN_MIRROR (about a minute)"
        debootstrap --variant=minbase --include=python3,python3-venv \
            bookworm "$rootfs" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
            die "debootstrap failed; see $CACHE/debootstrap.log"
        # Package caches and lists are not needed at run time.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
            "$rootfs"/var/log/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
        tar --numeric-owner -C "$rootfs" -cf "$ROOTFS_TAR.tmp" .
        mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
        rm -rf "$rootfs"
    else
        say "root filesystem: reusing $ROOTFS_TAR"
    fi
    say "docker import -> $BASE_TAG"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --message "debootstrap --variant=minbase --include=python3,python3-venv bookworm" \
        "$ROOTFS_TAR" "$BASE_TAG" >/dev/null
}

# -- 2. The wheelhouse: the services' dependencies, pinned to the project's venv --------------
build_wheelhouse() {
    local python=${DOMINO_PYTHON:-}
    if [[ -z $python ]]; then
        if [[ -x $ROOT/.venv/bin/python ]]; then python=$ROOT/.venv/bin/python; else python=python3; fi
    fi
    local image_py host_py
    image_py=$(docker run --rm --network=none --entrypoint python3 "$BASE_IMAGE" \
        -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    host_py=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    local wanted
    wanted=$("$python" "$ROOT/docker/pin_requirements.py" "$ROOT/docker/services-requirements.in" "$image_py")
    if [[ -f $WHEELHOUSE/requirements.txt && $(cat "$WHEELHOUSE/requirements.txt") == "$wanted" ]]; then
        say "wheelhouse: reusing $WHEELHOUSE ($(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels)"
        return
    fi
    local tmp="$WHEELHOUSE.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp"
    printf '%s\n' "$wanted" >"$tmp/requirements.txt"
    if [[ $host_py == "$image_py" ]]; then
        say "pip wheel (Python $host_py) -> wheelhouse"
        "$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$tmp" \
            --requirement "$tmp/requirements.txt"
    else
        # Binary wheels must match the image's Python, not this one.
        say "pip download for the image's Python $image_py (host has $host_py) -> wheelhouse"
        local arch platforms=()
        arch=$(uname -m)
        for tag in manylinux_2_36 manylinux_2_28 manylinux_2_17 manylinux2014; do
            platforms+=(--platform "${tag}_$arch")
        done
        "$python" -m pip download --quiet --disable-pip-version-check --dest "$tmp" \
            --only-binary=:all: --implementation cp --python-version "$image_py" \
            "${platforms[@]}" --requirement "$tmp/requirements.txt"
    fi
    rm -rf "$WHEELHOUSE" && mv "$tmp" "$WHEELHOUSE"
}

# -- 3. Toxiproxy, static, from the Go module proxy ------------------------------------------
# Domino's server from its sources (as `domino toxiproxy install` builds it), upstream's cli.
have_toxiproxy_binaries() {
    [[ -x $TOXIPROXY_BIN/toxiproxy-server && -x $TOXIPROXY_BIN/toxiproxy-cli ]] &&
        [[ $(cat "$TOXIPROXY_BIN/sources.sha256" 2>/dev/null) == "$SERVER_DIGEST" ]] &&
        [[ $("$TOXIPROXY_BIN/toxiproxy-server" -version 2>/dev/null) == *" $SERVER_VERSION" ]]
}

# The image holds Domino's server built from these very sources.
toxiproxy_image_current() {
    have_image "$TOXIPROXY_IMAGE" &&
        [[ $(docker image inspect --format '{{index .Config.Labels "org.domino.toxiproxy-sources"}}' "$TOXIPROXY_IMAGE") == "$SERVER_DIGEST" ]]
}

build_toxiproxy_binaries() {
    local go=${GO:-$(command -v go || true)}
    [[ -n $go ]] || die "go is not on PATH; install Go to build Toxiproxy from the Go module proxy"
    local gobin
    gobin=$(mktemp -d)
    (cd "$SERVER_SOURCES" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOWORK=off "$go" build \
        -trimpath -buildvcs=false -ldflags "-s -w" -o "$gobin/toxiproxy-server" .)
    local module=github.com/Shopify/toxiproxy/v2
    CGO_ENABLED=0 GOBIN=$gobin GOFLAGS=-mod=mod GOWORK=off "$go" install -trimpath \
        -ldflags "-s -w -X $module.Version=$TOXIPROXY_VERSION" "$module/cmd/cli@v$TOXIPROXY_VERSION"
    mkdir -p "$TOXIPROXY_BIN"
    mv "$gobin/toxiproxy-server" "$TOXIPROXY_BIN/toxiproxy-server"
    mv "$gobin/cli" "$TOXIPROXY_BIN/toxiproxy-cli"
    printf '%s\n' "$SERVER_DIGEST" >"$TOXIPROXY_BIN/sources.sha256"
    rm -rf "$gobin"
}

# -- 4. The images, with no network inside the build -------------------------------------------

# A digest of the services' source, kept as an image label: the docker backend
# refuses an image built from other code than the checkout it runs from.
# Same algorithm as harness.backends.docker.services_digest.
services_digest() {
    (cd "$ROOT" && find services -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort |
        xargs sha256sum | sha256sum | cut -d' ' -f1)
}

build_services_image() {
    local context="$CACHE/context-services"
    rm -rf "$context" && mkdir -p "$context/wheels"
    cp "$ROOT/docker/services.Dockerfile" "$context/Dockerfile"
    cp "$WHEELHOUSE"/* "$context/wheels/"
    tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' -cf - services | tar -C "$context" -xf -
    say "docker build $SERVICES_IMAGE (FROM $BASE_IMAGE, --network=none)"
    quietly "$CACHE/build-services.log" docker build --network=none \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "org.domino.services-digest=$(services_digest)" \
        --tag "$SERVICES_IMAGE" "$context"
    rm -rf "$context"
}

build_toxiproxy_image() {
    if toxiproxy_image_current; then
        say "$TOXIPROXY_IMAGE: Domino's server $SERVER_VERSION from these sources; keeping it"
        return
    fi
    if have_image "$TOXIPROXY_IMAGE" &&
        [[ $(docker image inspect --format '{{index .Config.Labels "org.domino.built-by"}}' "$TOXIPROXY_IMAGE") != "$BUILT_BY" ]]; then
        say "$TOXIPROXY_IMAGE: an image pulled from upstream (stock, without Domino's toxics); replacing its tag"
    fi
    local context="$CACHE/context-toxiproxy"
    rm -rf "$context" && mkdir -p "$context"
    cp "$ROOT/docker/toxiproxy.Dockerfile" "$context/Dockerfile"
    cp "$TOXIPROXY_BIN/toxiproxy-server" "$TOXIPROXY_BIN/toxiproxy-cli" "$context/"
    say "docker build $TOXIPROXY_IMAGE: Domino's server $SERVER_VERSION (FROM scratch, --network=none)"
    quietly "$CACHE/build-toxiproxy.log" docker build --network=none \
        --label "org.opencontainers.image.version=$SERVER_VERSION" \
        --label "org.domino.toxiproxy-sources=$SERVER_DIGEST" \
        --tag "$TOXIPROXY_IMAGE" "$context"
    rm -rf "$context"
}

# -- 5. Check what was built -------------------------------------------------------------------
check_images() {
    local version
    version=$(docker run --rm --network=none "$TOXIPROXY_IMAGE" -version)
    [[ $version == *" $SERVER_VERSION" ]] || die "$TOXIPROXY_IMAGE reports '$version', not $SERVER_VERSION"
    docker run --rm --network=none "$SERVICES_IMAGE" \
        python3 -c 'import fastapi, httpx, pydantic, uvicorn, services.kit.app' ||
        die "$SERVICES_IMAGE cannot import the services"
    say "ok: $SERVICES_IMAGE, $TOXIPROXY_IMAGE ($version)"
}

if toxiproxy_image_current || have_toxiproxy_binaries; then
    toxiproxy_image_current || say "toxiproxy $SERVER_VERSION binaries: reusing $TOXIPROXY_BIN"
else
    # The Go build is CPU-bound while debootstrap mostly waits for downloads
    # and dpkg: run them side by side.
    say "go build Domino's toxiproxy-server $SERVER_VERSION and go install toxiproxy-cli v$TOXIPROXY_VERSION, CGO_ENABLED=0 (in the background)"
    build_toxiproxy_binaries >"$CACHE/go-build.log" 2>&1 &
    GO_PID=$!
fi
build_base
build_wheelhouse
build_services_image
if [[ -n $GO_PID ]]; then
    if ! wait "$GO_PID"; then
        GO_PID=""
        tail -n 20 "$CACHE/go-build.log" >&2
        die "building Toxiproxy failed (log: $CACHE/go-build.log)"
    fi
    GO_PID=""
    say "toxiproxy binaries built"
fi
build_toxiproxy_image
check_images
# Dangling layers from earlier builds of the same tags.
docker image prune --force --filter "label=org.domino.built-by=$BUILT_BY" >/dev/null
say "done"
