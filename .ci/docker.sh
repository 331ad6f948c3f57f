#!/usr/bin/env bash
# Docker for CI, air-gapped: an engine from Debian's packages and Domino's images
# built without a registry.
#
#   bash .ci/docker.sh start   install docker.io, docker-compose and debootstrap if
#                              missing; start dockerd if no engine answers (and
#                              remember that this script started it); build the
#                              images with docker/build-images.sh
#   bash .ci/docker.sh test    the docker tests, failing (not skipping) without Docker
#   bash .ci/docker.sh stop    fail if any Domino container or network is left
#                              (after removing them); stop dockerd only if `start`
#                              started it
#
# .ci/run calls `start`, then the tests, then `stop`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATE=.domino/ci
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log
DOCKERD_PIDFILE=/var/run/docker.pid
READY_TIMEOUT_S=${DOCKERD_READY_TIMEOUT_S:-60}
STOP_TIMEOUT_S=30
SUDO=""
[[ $(id -u) == 0 ]] || SUDO=sudo

started=$SECONDS
stamp() { echo "ci-docker: $* (+$((SECONDS - started))s)"; }
die() { echo "ci-docker: $*" >&2; exit 1; }

engine_up() { docker info >/dev/null 2>&1; }

# Poll until "$@" succeeds or $1 seconds pass; no fixed sleeps beyond the poll step.
wait_for() {
    local timeout_s=$1
    shift
    local deadline=$((SECONDS + timeout_s))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        stamp "apt-get install ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

dockerd_is_ours() {
    [[ -f $PIDFILE ]] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE '^(\S*/)?dockerd( |$)'
}

start_engine() {
    if engine_up; then
        # Not ours to stop: `stop` stops only an engine this `start` started.
        rm -f "$PIDFILE"
        stamp "a Docker engine is already running; using it, and leaving it running"
        return
    fi
    command -v dockerd >/dev/null || die "dockerd is not installed"
    mkdir -p "$STATE"
    stamp "starting dockerd (log: $LOG)"
    # Its own session: a Ctrl-C meant for the tests must not stop the engine
    # while they still have containers to remove.
    $SUDO setsid dockerd --pidfile "$DOCKERD_PIDFILE" >"$LOG" 2>&1 </dev/null &
    if ! wait_for "$READY_TIMEOUT_S" engine_up; then
        tail -n 20 "$LOG" >&2 || true
        die "dockerd did not answer within ${READY_TIMEOUT_S}s"
    fi
    # dockerd's own pid file, not $! (which may be sudo's pid).
    cp "$DOCKERD_PIDFILE" "$PIDFILE"
    stamp "dockerd is up ($(docker version --format '{{.Server.Version}}'))"
}

# Domino's leftovers: every container and network labelled domino.managed.
leftovers() {
    docker ps --all --quiet --filter label=domino.managed
    docker network ls --quiet --filter label=domino.managed
}

check_no_leftovers() {
    engine_up || return 0
    [[ -z $(leftovers) ]] && return 0
    echo "ci-docker: Domino left containers or networks behind:" >&2
    docker ps --all --filter label=domino.managed --format '  container {{.Names}} ({{.Status}})' >&2
    docker network ls --filter label=domino.managed --format '  network {{.Name}}' >&2
    docker ps --all --quiet --filter label=domino.managed | xargs -r docker rm --force --volumes >/dev/null
    docker network ls --quiet --filter label=domino.managed | xargs -r docker network rm >/dev/null
    return 1
}

stop_engine() {
    if ! dockerd_is_ours; then
        stamp "dockerd was not started by this script; leaving it running"
        rm -f "$PIDFILE"
        return
    fi
    local pid
    pid=$(cat "$PIDFILE")
    $SUDO kill -TERM "$pid"
    gone() { [[ ! -d /proc/$pid ]]; }
    if ! wait_for "$STOP_TIMEOUT_S" gone; then
        stamp "dockerd did not stop within ${STOP_TIMEOUT_S}s; killing it"
        $SUDO kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    stamp "dockerd stopped"
}

case ${1:-} in
start)
    install_packages
    start_engine
    stamp "building images (docker/build-images.sh)"
    bash docker/build-images.sh
    stamp "building the shop example's images (examples/shop/build-images.sh)"
    bash examples/shop/build-images.sh
    stamp "ready"
    ;;
test)
    DOMINO_REQUIRE_DOCKER=1 .venv/bin/pytest tests/docker "${@:2}"
    ;;
stop)
    status=0
    check_no_leftovers || status=1
    stop_engine
    exit "$status"
    ;;
*)
    echo "usage: bash .ci/docker.sh start|test|stop" >&2
    exit 2
    ;;
esac
