"""What counts as evidence that a fault touched traffic (harness/evidence.py).

The stack here is a stand-in for the two things ``touched`` reads (the
topology and each edge's proxy name): the counters themselves are given.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.experiment.evidence import Counters, touched
from harness.library import find_topology
from harness.model.faults import Crash, Down, Fault, Timeout

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "domino.yaml"

QUIET = Counters(proxy_bytes={}, edge_calls={})
HANG = Timeout(edge="checkout->catalog")


def _stack() -> Any:
    topology = find_topology(SHOP)
    return SimpleNamespace(
        topology=topology, edges={e.name: SimpleNamespace(proxy=e.name) for e in topology.edges}
    )


def _judge(
    fault: Fault,
    *,
    active: dict[str, int] | None = None,
    crossings: dict[str, tuple[str, ...]] | None = None,
    before: Counters = QUIET,
    after: Counters = QUIET,
) -> tuple[bool, str]:
    return touched(_stack(), fault, before, after, 5, active_calls=active, crossings=crossings)


def test_counted_bytes_are_evidence() -> None:
    grew = Counters(proxy_bytes={"checkout->catalog": 300}, edge_calls={})
    ok, why = _judge(HANG, after=grew)
    assert ok
    assert why == "checkout->catalog: 300 bytes through the proxy, 0 calls"


def test_live_counted_requests_are_evidence_and_named() -> None:
    before = Counters(proxy_bytes={}, edge_calls={}, proxy_requests={})
    grew = Counters(
        proxy_bytes={"checkout->catalog": 300},
        edge_calls={},
        proxy_requests={"checkout->catalog": 4},
    )
    ok, why = _judge(HANG, before=before, after=grew)
    assert ok
    assert why == "checkout->catalog: 4 requests (300 bytes) through the proxy, 0 calls"


def test_no_counted_bytes_and_no_crossings_is_untouched() -> None:
    ok, why = _judge(HANG, active={"checkout": 3})
    assert not ok
    assert "no bytes and no calls crossed checkout->catalog" in why


def test_a_journey_observed_crossing_the_edge_in_flight_is_inferred_evidence() -> None:
    ok, why = _judge(
        HANG,
        active={"checkout": 2, "browse": 4},
        crossings={"checkout": ("storefront->checkout", "checkout->catalog"), "browse": ()},
    )
    assert ok
    assert why.startswith("inferred: 2 checkout call(s), observed to cross checkout->catalog")
    assert "browse" not in why


def test_journeys_not_crossing_the_edge_or_not_in_flight_are_no_evidence() -> None:
    crossings = {"checkout": ("checkout->catalog",), "browse": ("storefront->catalog",)}
    for active in ({"browse": 4}, {"checkout": 0}):
        ok, _ = _judge(HANG, active=active, crossings=crossings)
        assert not ok, active


def test_a_service_fault_is_inferred_from_any_edge_into_it() -> None:
    ok, why = _judge(
        Crash(service="catalog"),
        active={"browse": 1},
        crossings={"browse": ("client->storefront", "storefront->catalog")},
    )
    assert ok
    assert "observed to cross storefront->catalog" in why


def test_an_edge_the_system_counts_itself_is_never_inferred() -> None:
    # The system counted no new call on the edge while it was held.
    counted = Counters(proxy_bytes={}, edge_calls={"checkout->catalog": 7})
    ok, _ = _judge(
        HANG,
        active={"checkout": 3},
        crossings={"checkout": ("checkout->catalog",)},
        before=counted,
        after=counted,
    )
    assert not ok


def test_a_down_edge_has_its_own_inference_not_the_crossings() -> None:
    ok, why = _judge(
        Down(edge="checkout->catalog"),
        active={"checkout": 3},
        crossings={"checkout": ("checkout->catalog",)},
    )
    assert not ok
    assert "no bytes crossed checkout->catalog or reached checkout" in why
