"""The matrix on a foreign system (``tests/foreign``: stdlib-Python HTTP/1.0 services, real
Toxiproxy, local backend): a journey stuck in one slow call through the whole fault window is
judged, not passed as contained; a cell whose fault met no traffic (the fallback edge, crossed
only when the primary fails) is inconclusive in JUnit, the JSON, the heatmap and the exit code.

The timing, which the foreign system makes deterministic: ``report`` works 1.2 s, then asks the
primary for an extra with no deadline. Its second call starts about 1.3 s into the run, before
the fault at 2.0 s, and asks the primary at about 2.5 s, under the fault (2.5 s of latency,
held 2.5 s): it is answered only when the latency is removed, at 4.5 s, so its next call starts
after the window. No ``report`` call *starts* in the window; the one in flight is the evidence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import find_topology
from harness.explore.matrix import MatrixResult, MatrixTimings, run_matrix
from harness.explore.report import exit_code, render_heatmap
from tests.explore.outputs import read_all

FOREIGN = Path(__file__).resolve().parent / "domino.yaml"
PRIMARY, FALLBACK = "gateway->primary|latency-above", "gateway->fallback|latency-above"


@pytest.fixture(scope="module")
def result() -> MatrixResult:
    return run_matrix(
        find_topology(FOREIGN),
        edges=["gateway->primary", "gateway->fallback"],
        kinds=["latency-above"],
        timings=MatrixTimings(steady_s=2.0, hold_s=2.5, recovery_s=1.0),
        latency_ms=(300, 2500),
        observe=False,
        prune=False,
    )


def test_a_journey_stuck_in_a_slow_call_through_the_window_is_judged_not_contained(
    result: MatrixResult,
) -> None:
    (cell,) = [c for c in result.cells if c.id == PRIMARY]
    assert cell.outcome == "violation", render_heatmap(result)
    assert cell.touched, cell.evidence
    report = next(j for j in cell.journeys if j.journey == "report")
    assert report.in_flight >= 1  # judged on the call that began before the fault
    assert (report.verdict, report.failure, report.violation) == ("failed", "slow", True)
    assert report.failure_ms is not None
    assert report.failure_ms > 1800  # past its SLO: it waited for the latency to go
    assert cell.violations == ["report"]
    # The gateway's 0.5 s deadline and the fallback kept quotes within their SLO.
    quote = next(j for j in cell.journeys if j.journey == "quote")
    assert quote.verdict == "healthy", quote.reason


def test_a_cell_whose_fault_met_no_traffic_is_inconclusive_in_every_output(
    result: MatrixResult, tmp_path: Path
) -> None:
    (cell,) = [c for c in result.cells if c.id == FALLBACK]
    assert cell.outcome == "inconclusive", render_heatmap(result)
    assert not cell.touched
    words = read_all(result, tmp_path)
    for output, said in words.items():
        assert said == {PRIMARY: "failed", FALLBACK: "inconclusive"}, output
    assert exit_code(result) == 1  # the violation decides; the "?" never passes
    assert result.extra["latency_bounds"] == [
        {"edge": edge, "below_ms": 300, "above_ms": 2500, "why": "given (--latency-ms)"}
        for edge in ("gateway->fallback", "gateway->primary")
    ]
