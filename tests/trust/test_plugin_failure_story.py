"""A failing pytest test on a Domino stack says why, not only what.

An inner pytest session (pytester) on the foreign test system (tests/foreign:
a gateway that calls a primary, and a fallback when the primary fails) runs
tests whose assertions fail under a fault. Each failure's report must name
the fault (kind, edge, settings, when it was held), every journey call with
its phase (steady state, during the fault, recovery after it) and where the
faulted edge sits on the journey's declared path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.toxiproxy.binary import find_toxiproxy

pytest_plugins = ["pytester"]

#: Found before pytester moves HOME and the working directory to its own folder.
TOXIPROXY = find_toxiproxy()
FOREIGN = Path(__file__).resolve().parents[1] / "foreign" / "domino.yaml"

INNER = """
from harness import Latency


def test_1_quote_stays_fast_while_the_primary_is_slow(inject, domino_user, domino_journey):
    quote = domino_journey("quote")
    assert domino_user.run(quote).ok
    inject(Latency(edge="gateway->primary", latency_ms=300))
    seen = domino_user.run(quote)
    assert seen.latency_ms < 100


def test_2_after_the_fault_the_quote_is_an_error(domino_stack, domino_user, domino_journey):
    with domino_stack.inject(Latency(edge="gateway->primary", latency_ms=50)):
        pass
    assert domino_user.run(domino_journey("quote")).status == 599


def test_3_passes(domino_user, domino_journey):
    assert domino_user.run(domino_journey("quote")).ok
"""

SECTION = "Domino: faults, journey calls and phases"


def test_a_failing_assertion_under_a_fault_names_the_fault_edge_path_and_phase(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(TOXIPROXY))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--domino-topology={FOREIGN}", timeout=120
    )
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    first, _, second = out.partition("test_2_after_the_fault_the_quote_is_an_error")
    assert out.count(SECTION) == 2  # the failing tests only

    assert "latency on edge gateway->primary: Latency(edge='gateway->primary', " in first
    assert "latency_ms=300" in first
    assert "still held when the test failed" in first
    assert "phase: steady state, before any fault" in first
    assert "phase: during latency on edge gateway->primary" in first
    assert (
        "inferred path: gateway->primary is a soft dependency of quote "
        "(declared: hard client->gateway; soft gateway->primary, gateway->fallback)"
    ) in first

    assert "latency_ms=50" in second
    assert ", removed at " in second
    assert "phase: recovery, after latency on edge gateway->primary ended" in second
