"""Latency that reaches real timeouts: the matrix's latency kinds and the cliff's search range
go past the callers' deadlines when they are known, far enough when they are not, and say
which bounds they used and why. A cliff probe far past the cliff costs one call, not four."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness import find_topology
from harness.contracts import ConfiguredLimits
from harness.explore.cells import latency_bounds
from harness.explore.cliff import find_cliff, search_range
from harness.model.faults import Latency
from harness.model.outcomes import Observation

FOREIGN = Path(__file__).resolve().parents[1] / "foreign" / "domino.yaml"


def test_matrix_latency_goes_past_a_known_deadline_however_long() -> None:
    # A 10 s deadline: 1.5x is 15 s (it used to be capped at 8 s, below the deadline).
    bounds = latency_bounds("gateway->primary", 10_000.0)
    assert (bounds.below_ms, bounds.above_ms) == (5_000, 15_000)
    assert "deadline on gateway->primary is 10000 ms" in bounds.why
    unknown = latency_bounds("gateway->primary", None)
    assert (unknown.below_ms, unknown.above_ms) == (300, 20_000)
    assert unknown.why.startswith("no caller deadline known for gateway->primary")
    # On the client edge the caller is Domino's own user, whose timeout is known.
    client = latency_bounds("client->gateway", None, users_timeout_ms=10_000.0)
    assert (client.below_ms, client.above_ms) == (300, 15_000)
    assert "1.5x the users' own 10000 ms timeout" in client.why
    given = latency_bounds("gateway->primary", 10_000.0, (100, 900))
    assert (given.below_ms, given.above_ms, given.why) == (100, 900, "given (--latency-ms)")


def test_cliff_search_range_goes_past_the_callers_wait_or_up_to_30_s() -> None:
    fragile = ConfiguredLimits("card->pay", deadline_ms=5_000.0, worst_wait_ms=10_000.0)
    top, why = search_range(1_000.0, fragile)
    assert top == 15_000.0
    assert "longest the caller waits (10000 ms" in why
    hardened = ConfiguredLimits("card->pay", deadline_ms=250.0, worst_wait_ms=250.0)
    assert search_range(1_000.0, hardened)[0] == 2_000.0  # twice the SLO is further
    assert search_range(1_000.0, ConfiguredLimits("e"), caller_deadline_ms=12_000.0)[0] == 18_000
    top, why = search_range(1_000.0, ConfiguredLimits("e"))
    assert top == 30_000.0
    assert why.startswith("no caller deadline known")
    assert search_range(1_000.0, fragile, max_ms=700.0) == (700.0, "given")


class _Journeys:
    """A user whose quote takes 40 ms plus the latency the fake stack holds."""

    def __init__(self, held: list[float]) -> None:
        self.held = held
        self.calls: list[float] = []
        self._origin_s = time.monotonic()

    def __enter__(self) -> _Journeys:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def token(self) -> str:
        return ""

    def rebase(self, origin_s: float) -> None:
        self._origin_s = origin_s

    def run(self, journey: Any) -> Observation:
        at_s = time.monotonic() - self._origin_s
        time.sleep(0.001)  # a real call takes time; the probe's window is measured around it
        self.calls.append(self.held[0])
        return Observation(journey.name, at_s, 40.0 + self.held[0], True, 200)


def test_a_probe_stops_once_it_cannot_be_healthy_and_the_cliff_says_its_range() -> None:
    topology = find_topology(FOREIGN)
    held = [0.0]
    user = _Journeys(held)

    @contextlib.contextmanager
    def inject(fault: Latency) -> Iterator[None]:
        held[0] = float(fault.latency_ms)
        try:
            yield
        finally:
            held[0] = 0.0

    adapter = SimpleNamespace(
        honest_codes=frozenset(),
        users=lambda _t: iter(lambda: None, 1),
        configured_limits=lambda _t, _s, edge: ConfiguredLimits(edge),
        caller_deadlines_ms=lambda _t, _s: {},
    )
    stack = SimpleNamespace(
        topology=topology, adapter=adapter, settings={}, inject=inject, client=lambda **_kw: user
    )
    cliff = find_cliff(stack, "gateway->primary", "quote", resolution_ms=50)  # type: ignore[arg-type]
    assert cliff.max_ms == 30_000.0
    assert cliff.max_why.startswith("no caller deadline known")
    assert "searched 0-30000 ms: no caller deadline known" in cliff.describe()
    assert cliff.cliff_ms is not None
    assert 960.0 <= cliff.cliff_ms <= 1_010.0  # the SLO (1000 ms) less the 40 ms base
    by_latency = {p.latency_ms: p for p in cliff.probes}
    top = by_latency[30_000.0]
    assert top.calls == 1  # one call 30 s late decides the probe: no three more
    assert (top.verdict, top.failure, top.label) == ("failed", "slow", "failed-slow")
    assert top.failure_ms == 30_040.0
    assert "+30000 ms: failed-slow after 30,040 ms" in cliff.describe()
    assert all(p.calls == 4 for p in cliff.probes if p.healthy)
    assert sum(user.calls.count(p.latency_ms) for p in cliff.probes if p.latency_ms) == sum(
        p.calls for p in cliff.probes if p.latency_ms
    )
