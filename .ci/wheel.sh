#!/usr/bin/env bash
# Domino as a team installs it: from a built wheel, in a fresh virtualenv, in a
# project outside this checkout. .ci/run calls it after `make test`.
#
#   bash .ci/wheel.sh
#
# 1. Build the wheel from a copy of the checkout (the checkout stays untouched).
# 2. A fresh virtualenv gets the wheel alone (Domino's core, no bank extra).
# 3. In a temporary project holding the Go shop (examples/shop with its
#    domino.yaml) and the team's own test (tests/packaging/team_shop_tests.py):
#    `domino toxiproxy install` builds Domino's server into the project's
#    DOMINO_HOME, `domino validate` checks ./domino.yaml, and the team's
#    pytest file passes through the plugin's fixtures.
# 4. `domino run kbpay-2023-01-25` without the bank extra exits 2 naming it;
#    with `domino-chaos[bank]` installed it passes.
#
# Settings (environment): PYTHON (default python3) makes the virtualenv;
# VENV (default .venv) holds the setuptools that builds the wheel.
# Dependencies come from the package index pip is configured with.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
checkout=$PWD
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1

started=$SECONDS
stamp() { echo "ci-wheel: $* (+$((SECONDS - started))s)"; }
die() { echo "ci-wheel: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/dist" "$tmp/project/tests" "$tmp/home" "$tmp/reports"

# 1. The wheel, built from what git would commit (tracked and new, not ignored files).
git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$tmp/src"
"$VENV/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/src"
wheel=$(echo "$tmp"/dist/domino_chaos-*.whl)
[[ -f $wheel ]] || die "no wheel was built in $tmp/dist"
stamp "built $(basename "$wheel")"

# 2. A fresh virtualenv with Domino's core only.
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet "$wheel"
"$tmp/venv/bin/python" - <<'EOF' || die "the core install pulled in the bank's web framework"
import importlib.util, sys
sys.exit(any(importlib.util.find_spec(n) for n in ("fastapi", "uvicorn", "pydantic")))
EOF
stamp "installed the wheel (core) into a fresh virtualenv"

# 3. The team's project: the shop's sources and domino.yaml, the team's test.
cp -r examples/shop/. "$tmp/project/"
rm -rf "$tmp/project/bin" "$tmp/project/.gocache"
cp tests/packaging/team_shop_tests.py "$tmp/project/tests/test_shop.py"
cd "$tmp/project"
in_venv() {  # in_venv COMMAND...: as the team runs it: the venv first on PATH, no checkout on sys.path
  env -u PYTHONPATH -u DOMINO_TOXIPROXY_BIN DOMINO_HOME="$tmp/home" \
    PATH="$tmp/venv/bin:$PATH" "$@"
}
in_venv domino toxiproxy install
[[ -x $tmp/home/tools/toxiproxy-server ]] \
  || die "domino toxiproxy install did not put toxiproxy-server in \$DOMINO_HOME/tools"
stamp "domino toxiproxy install built the server from the wheel's Go sources"
in_venv domino validate domino.yaml incidents/catalog-slow.yaml
in_venv python -m pytest -q -p no:cacheprovider tests
stamp "the team's pytest file passed against the shop"

# 4. The shipped bank: a clear refusal without its extra, a pass with it.
set +e
refusal=$(in_venv domino run kbpay-2023-01-25 --report "$tmp/reports/refused" 2>&1)
status=$?
set -e
[[ $status == 2 && $refusal == *"domino-chaos[bank]"* ]] \
  || die "domino run kbpay-2023-01-25 without the bank extra: exit $status, said: $refusal"
stamp "without the bank extra: exit 2, $refusal"
"$tmp/venv/bin/python" -m pip install --quiet "$wheel[bank]"
in_venv domino run kbpay-2023-01-25 --report "$tmp/reports/kbpay"
[[ -f $tmp/reports/kbpay/report.json ]] || die "no report.json from domino run kbpay-2023-01-25"
cd "$checkout"
stamp "domino run kbpay-2023-01-25 passed from the wheel with domino-chaos[bank]"
