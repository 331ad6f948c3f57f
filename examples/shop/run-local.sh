#!/usr/bin/env bash
# Run the shop by hand on loopback, without Domino, until Ctrl-C.
#
#   bash examples/shop/run-local.sh             # naive: checkout has no deadline on catalog
#   bash examples/shop/run-local.sh --guarded   # checkout gives up on catalog after 300 ms
#
# Ports: storefront SHOP_PORT (default 18080), catalog +1, checkout +2, payments +3.
# SHOP_CHECKOUT_CATALOG_URL points checkout (only) at another catalog address,
# e.g. a Toxiproxy listener in front of catalog, to slow that one edge.
# Builds first (build.sh). All four stop when this script stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

guarded="" profile=naive
case ${1:-} in
    "") ;;
    --guarded) guarded=300 profile=guarded ;;
    *) echo "usage: $0 [--guarded]" >&2; exit 2 ;;
esac

base=${SHOP_PORT:-18080}
sf=$base cat_port=$((base + 1)) co=$((base + 2)) pay=$((base + 3))
catalog_url=http://127.0.0.1:$cat_port
checkout_catalog_url=${SHOP_CHECKOUT_CATALOG_URL:-$catalog_url}

bash build.sh

pids=()
stop() {
    trap - EXIT INT TERM
    ((${#pids[@]} == 0)) || kill -TERM "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

start() { # name, then VAR=value ... for its environment
    local name=$1
    shift
    env BIND=127.0.0.1 "$@" "bin/$name" &
    pids+=($!)
}
start catalog PORT=$cat_port
start payments PORT=$pay
start checkout PORT=$co CATALOG_URL="$checkout_catalog_url" PAYMENTS_URL=http://127.0.0.1:$pay \
    ${guarded:+CATALOG_TIMEOUT_MS=$guarded}
start storefront PORT=$sf CATALOG_URL="$catalog_url" CHECKOUT_URL=http://127.0.0.1:$co

for port in "$sf" "$cat_port" "$co" "$pay"; do
    for _ in $(seq 50); do
        bin/catalog -healthcheck "http://127.0.0.1:$port/healthz" 2>/dev/null && continue 2
        sleep 0.1
    done
    echo "run-local.sh: nothing healthy on 127.0.0.1:$port after 5 s" >&2
    exit 1
done
cat <<MSG
shop up ($profile); storefront: http://127.0.0.1:$sf
  curl -s http://127.0.0.1:$sf/products
  curl -s -X POST -H 'Idempotency-Key: demo-1' -d '{"sku":"sku-1","qty":1}' http://127.0.0.1:$sf/checkout
  curl -s http://127.0.0.1:$pay/charges/count
Ctrl-C stops all four.
MSG
wait
