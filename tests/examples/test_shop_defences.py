"""``domino defences`` on the Go shop from its domino.yaml alone (the generic adapter: no
settings known to Domino), measuring what its services are configured with
(``examples/shop/cmd``): storefront waits ``CATALOG_TIMEOUT_MS`` 2000 ms for catalog;
checkout waits for catalog with no deadline in ``naive`` and 300 ms in ``guarded``, then
charges the last price it saw.

Tolerance: the configured deadline lies in the measured range give or take max(50 ms,
10 %), as for declared values (:mod:`harness.explore.defences.declared`). Bounded: two
edges of guarded searched up to 2.3 s to 200 ms, one of naive up to 1 s (the shop's 5 s deadline
on checkout and the naive timeout budget behind it are ``bench/bench_defences.py``'s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import find_topology, start_stack
from harness.explore.defences import DefenceMap, compare_declared, measure_defences
from harness.model.topology import DeclaredDefences
from tests.examples.conftest import SHOP_DIR

SHOP = SHOP_DIR / "domino.yaml"


def _measure(profile: str, edges: list[str], max_ms: float) -> DefenceMap:
    with start_stack("local", topology=find_topology(SHOP), profile=profile) as stack:
        assert stack.settings == {}  # nothing known to Domino but the topology file
        return measure_defences(stack, edges, resolution_ms=200, max_ms=max_ms, calls=1)


@pytest.fixture(scope="module")
def guarded(shop_binaries: Path) -> DefenceMap:
    return _measure("guarded", ["storefront->catalog", "checkout->catalog"], 2300)


@pytest.fixture(scope="module")
def naive(shop_binaries: Path) -> DefenceMap:
    return _measure("naive", ["checkout->catalog"], 1000)


def test_the_shops_deadlines_are_measured_where_they_are_configured(guarded: DefenceMap) -> None:
    configured = {
        "storefront->catalog": DeclaredDefences(timeout_ms=2000, fallback=()),
        "checkout->catalog": DeclaredDefences(timeout_ms=300, fallback=()),
    }
    check = compare_declared(guarded, configured)
    assert check.mismatches == (), [m.describe() for m in check.mismatches]
    assert len(check.agree) == 4
    storefront = guarded.edge("storefront->catalog").deadline
    assert storefront is not None
    assert storefront.answer_status == 504  # "catalog timed out"
    checkout = guarded.edge("checkout->catalog").deadline
    assert checkout is not None
    assert (checkout.journey, checkout.answer_status) == ("checkout", 200)  # the last price


def test_naive_checkout_waits_for_catalog_past_any_deadline(naive: DefenceMap) -> None:
    deadline = naive.edge("checkout->catalog").deadline
    assert deadline is not None
    assert deadline.outcome == "waits_past_max"
    assert deadline.waited_ms == pytest.approx(1000, abs=100)
    assert deadline.answer_ok is True
