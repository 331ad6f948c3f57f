"""JUnit, the JSON, the heatmap (terminal and HTML) and the exit code agree on every cell, in
every state a cell can be in, strict or not; and a journey that was not judged never lets a
cell pass."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import find_topology
from harness.experiment import RunResult
from harness.explore.attribution import Attribution
from harness.explore.cells import Cell
from harness.explore.matrix import CellResult, JourneyCell, MatrixResult, judge_cell
from harness.explore.report import exit_code, merge_matrices, render_heatmap, render_junit
from harness.model.faults import Latency
from harness.model.incident import Expectation, FaultStep
from harness.model.outcomes import JourneyVerdict, RunVerdict, WindowStats
from harness.model.topology import Slo
from tests.explore.outputs import read_all
from tests.specs_made import incident_spec

FOREIGN = Path(__file__).resolve().parents[1] / "foreign" / "domino.yaml"
JOURNEYS = ["login", "balance", "card-tab"]


def _j(
    journey: str,
    verdict: str,
    *,
    hard: bool = True,
    violation: bool = False,
    failure: str | None = None,
    finding: bool = False,
) -> JourneyCell:
    took = {"fast": 20.0, "slow": 9_100.0}.get(failure or "")
    return JourneyCell(
        journey,
        verdict,
        f"{verdict} for a reason",
        hard,
        violation,
        failure=failure,
        failure_ms=took,
        calls=5,
        p95_ms=took or 40.0,
        finding=finding,
    )


def _healthy(*names: str) -> tuple[JourneyCell, ...]:
    return tuple(_j(n, "healthy") for n in names)


def _every_state() -> list[CellResult]:
    """One cell per place, in every state a cell can be in."""
    violation_why = Attribution(
        "balance", "bank->fx|timeout", ("client->bank", "bank->fx"), "inferred", "b", ""
    )
    return [
        CellResult(
            "bank->card|down",
            "bank->card",
            "down",
            "down",
            "contained",
            (
                _j("login", "healthy"),
                _j("balance", "degraded"),
                _j("card-tab", "failed", failure="fast"),
            ),
            touched=True,
        ),
        CellResult(
            "client->bank|timeout",
            "client->bank",
            "timeout",
            "timeout",
            "contained",
            tuple(_j(n, "failed", failure="slow") for n in JOURNEYS),
            touched=True,
        ),
        CellResult(
            "card->pay|timeout",
            "card->pay",
            "timeout",
            "timeout",
            "failed-slow",
            (*_healthy("login", "balance"), _j("card-tab", "failed", failure="slow", finding=True)),
            touched=True,
        ),
        CellResult(
            "bank->pay|latency-above",
            "bank->pay",
            "latency-above",
            "latency",
            "violation",
            (
                _j("login", "failed", hard=False, violation=True, failure="fast"),
                _j("balance", "healthy"),
                _j("card-tab", "failed", failure="slow", finding=True),
            ),
            touched=True,
            attributions=(
                Attribution(
                    "login",
                    "bank->pay|latency-above",
                    ("client->bank", "bank->pay"),
                    "inferred",
                    "b",
                    "",
                ),
            ),
        ),
        CellResult(
            "bank->fx|timeout",
            "bank->fx",
            "timeout",
            "timeout",
            "violation",
            (
                *_healthy("login", "card-tab"),
                _j("balance", "failed", hard=False, violation=True, failure="slow"),
            ),
            touched=True,
            attributions=(violation_why,),
        ),
        CellResult(
            "bank->remit|reset-peer",
            "bank->remit",
            "reset-peer",
            "reset",
            "inconclusive",
            reasons=("fault never touched traffic: a fallback path?",),
        ),
        CellResult(
            "card->vault|down",
            "card->vault",
            "down",
            "down",
            "pruned",
            reasons=("implied by bank->card",),
        ),
    ]


def _matrix(cells: list[CellResult], *, strict: bool) -> MatrixResult:
    return MatrixResult("bank", "hardened", "local", JOURNEYS, cells, len(cells), strict=strict)


@pytest.mark.parametrize("strict", [False, True])
def test_every_output_says_the_same_of_every_cell(tmp_path: Path, strict: bool) -> None:
    result = _matrix(_every_state(), strict=strict)
    words = read_all(result, tmp_path)
    expected = {
        "bank->card|down": "passed",
        "client->bank|timeout": "passed",  # only the user's own timeout can end that wait
        "card->pay|timeout": "failed" if strict else "passed",
        "bank->pay|latency-above": "failed",
        "bank->fx|timeout": "failed",
        "bank->remit|reset-peer": "inconclusive",
        "card->vault|down": "skipped",
    }
    for output, said in words.items():
        assert said == expected, output
    assert exit_code(result) == 1
    assert result.outcome == "violation"


@pytest.mark.parametrize("strict", [False, True])
def test_the_run_exit_code_is_the_worst_cell_and_agrees_with_the_outcome(strict: bool) -> None:
    cells = {c.outcome: c for c in _every_state() if c.id != "client->bank|timeout"}
    for present, code, outcome in (
        (["contained", "pruned"], 0, "contained"),
        (["contained", "failed-slow"], 1 if strict else 0, "failed-slow"),
        (
            ["failed-slow", "inconclusive"],
            1 if strict else 3,
            "failed-slow" if strict else "inconclusive",
        ),
        (["inconclusive", "violation", "failed-slow"], 1, "violation"),
    ):
        result = _matrix([cells[o] for o in present], strict=strict)
        assert (exit_code(result), result.outcome) == (code, outcome), present
        junit = render_junit(result)
        assert ("<failure" in junit) == (code == 1), present
        assert ("<error" in junit) == ("inconclusive" in present), present


def test_a_failed_slow_finding_shows_its_time_everywhere(tmp_path: Path) -> None:
    result = _matrix(_every_state(), strict=True)
    text = render_heatmap(result)
    assert "S card->pay|timeout: card-tab failed-slow (9,100 ms)" in text
    assert "X latency-above on bank->pay broke login failed-fast (20 ms)" in text
    junit = render_junit(result)
    assert 'message="failed slow on a hard dependency: card-tab failed-slow (9,100 ms)"' in junit
    relaxed = render_junit(_matrix(_every_state(), strict=False))
    assert "finding (fails only with --strict): card-tab failed-slow (9,100 ms)" in relaxed
    data = result.as_dict()
    (cell,) = [c for c in data["cells"] if c["id"] == "card->pay|timeout"]
    (card,) = [j for j in cell["journeys"] if j["journey"] == "card-tab"]
    assert (card["label"], card["failure_ms"], card["finding"]) == ("failed-slow", 9100.0, True)
    assert data["counts"]["failed-slow"] == 1


def test_a_journey_not_judged_in_the_window_makes_the_cell_inconclusive() -> None:
    topology = find_topology(FOREIGN)
    fault = Latency(edge="gateway->primary", latency_ms=2500)
    cell = Cell("gateway->primary", "latency-above", fault, ("gateway->primary",), 1)
    slo = Slo(1000.0, 0.99)

    def verdict(journey: str, judged: str, calls: int) -> JourneyVerdict:
        stats = WindowStats(journey, 2.0, 4.5, calls, calls, 0, 40.0, 40.0, 40.0, 40.0)
        return JourneyVerdict(journey, judged, stats, slo, "measured")  # type: ignore[arg-type]

    during = (verdict("quote", "healthy", 5), verdict("report", "no_data", 0))
    run = RunResult(
        spec=incident_spec(
            timeline=(FaultStep(fault, 0.0, 2.5),), expect={"default": Expectation({}, {}, {})}
        ),
        profile="default",
        backend="local",
        toxiproxy_version="2.12.0",
        started_at="",
        duration_s=6.0,
        steady_window_s=(0.0, 2.0),
        fault_window_s=(2.0, 4.5),
        recovery_window_s=(4.5, 5.5),
        faults=[],
        observations=[],
        background=[],
        # A verdict that did not itself see the hole: the cell must not pass either way.
        verdict=RunVerdict("pass", (), (), during, during, during, ()),
    )
    judged = judge_cell(SimpleNamespace(topology=topology), cell, run)  # type: ignore[arg-type]
    assert judged.outcome == "inconclusive"
    assert judged.reasons == (
        "no call of report was in flight during the fault: nothing to judge it on",
    )


def _graph(agrees: bool) -> dict[str, object]:
    mismatches = [] if agrees else ["balance crosses bank->fx, not declared (undeclared)"]
    return {"edges": ["client->bank", "bank->fx"], "journeys": [], "mismatches": mismatches}


def _shard(cell: CellResult, index: int, *, agrees: bool) -> MatrixResult:
    source = {"source": "cache", "description": f"from cache (shard {index})"}
    extra = {"observed": _graph(agrees), "observed_agrees": agrees, "observed_source": source}
    return MatrixResult(
        "bank", "hardened", "local", JOURNEYS, [cell], 2, shard=(index, 2), strict=True, extra=extra
    )


def test_merged_shards_keep_the_observed_graph_and_a_disagreement_fails_a_strict_merge() -> None:
    first, second = [c for c in _every_state() if c.outcome in ("contained", "pruned")][:2]
    agreeing = merge_matrices([_shard(first, 1, agrees=True), _shard(second, 2, agrees=True)])
    assert agreeing.extra["observed"] == _graph(True)
    assert agreeing.extra["observed_agrees"] is True
    assert agreeing.extra["observed_source"]["source"] == "merged"
    assert "2 shard(s)' graphs, all the same" in agreeing.extra["observed_source"]["description"]
    assert exit_code(agreeing) == 0
    # One shard saw an undeclared dependency: its strict run failed, and so must the merge.
    split = merge_matrices([_shard(first, 1, agrees=True), _shard(second, 2, agrees=False)])
    assert split.extra["observed_agrees"] is False
    assert split.extra["observed"] == _graph(False)  # the disagreeing graph is the one shown
    assert "which differ" in split.extra["observed_source"]["description"]
    assert exit_code(split) == 1
    assert "declared != observed (--strict)" in render_junit(split)
