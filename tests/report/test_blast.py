"""The blast radius as the report data computes it, and the renderer's independence from it.

Computed from the sample's own faults and time series (:func:`blast_radius_from_run`)
and from a run's typed values (:func:`run_data`, through :func:`blast_radius_of`):
both go through the same function, so they must agree. The renderer only reads
the result; it never imports the verdict's rules.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from harness.experiment import RunResult
from harness.experiment.timeline import FaultWindow
from harness.model.faults import Timeout
from harness.model.incident import Expectation, FaultStep, JourneyLoad
from harness.model.outcomes import Observation
from harness.model.topology import Slo
from harness.report.blast import blast_radius_from_run
from harness.report.data import run_data
from harness.report.model import BlastRadius
from harness.verdict import judge_run
from tests.report.samples import with_second_fault_and_failures
from tests.specs_made import incident_spec

HTML_PACKAGE = Path(__file__).parents[2] / "harness" / "report" / "html"


def _verdicts(blast: BlastRadius) -> dict[str, list[str]]:
    """Per journey, the verdict of each place's cell, in the places' order."""
    return {
        journey: [place.cells[row].verdict for place in blast.places]
        for row, journey in enumerate(blast.journeys)
    }


def test_the_sample_holds_the_blast_radius_its_own_data_gives(sample: dict[str, Any]) -> None:
    for run in sample["runs"]:
        assert run["blast_radius"] == blast_radius_from_run(run).as_dict()


def test_one_faulted_place_takes_the_runs_own_fault_verdicts(sample: dict[str, Any]) -> None:
    fragile, hardened = (blast_radius_from_run(run) for run in sample["runs"])
    for blast, run in ((fragile, sample["runs"][0]), (hardened, sample["runs"][1])):
        assert blast.basis == "fault_phase"
        (place,) = blast.places
        assert (place.target, place.kinds, place.touched) == ("card->pay", ("timeout",), True)
        assert place.window_s == (3.0, 11.0)  # the fault phase
        during = run["verdict"]["journeys"]["during"]
        assert [(c.journey, c.verdict, c.detail) for c in place.cells] == [
            (j["journey"], j["verdict"], j["reason"]) for j in during
        ]
    assert _verdicts(fragile) == {
        "login": ["failed"],
        "balance": ["healthy"],
        "card-tab": ["failed"],
    }
    assert _verdicts(hardened) == {
        "login": ["healthy"],
        "balance": ["healthy"],
        "card-tab": ["degraded"],
    }


def test_several_places_judge_each_fault_window(sample: dict[str, Any]) -> None:
    blast = blast_radius_from_run(with_second_fault_and_failures(sample)["runs"][1])
    assert blast.basis == "place_windows"
    assert [p.target for p in blast.places] == ["card->pay", "bank->card"]
    card_pay, bank_card = blast.places
    assert card_pay.window_s == pytest.approx((3.173, 11.007), abs=1e-3)
    assert bank_card.window_s == (5.0, 8.0)
    assert bank_card.kinds == ("latency",)
    # Login failed (NT004 after 3 s) while bank->card was slow, and those calls also fall
    # in card->pay's longer window; balance never noticed; card-tab kept degrading
    # honestly (CD001) in both windows.
    assert _verdicts(blast) == {
        "login": ["failed", "failed"],
        "balance": ["healthy", "healthy"],
        "card-tab": ["degraded", "degraded"],
    }
    login = bank_card.cells[0]
    assert login.journey == "login"
    assert login.detail == "success 74% (SLO 99%), p95 3000 ms (SLO 800 ms); slow"


def test_honest_codes_are_the_runs_own(sample: dict[str, Any]) -> None:
    run = with_second_fault_and_failures(sample)["runs"][1]
    # card-tab answers CD001 as an error (not a degraded success): whether that is
    # honest is the run's own list to say.
    run["timeseries"]["card-tab"] = [
        [p[0], p[1], False, p[3] or "CD001", False] for p in run["timeseries"]["card-tab"]
    ]
    assert _verdicts(blast_radius_from_run(run))["card-tab"] == ["degraded", "degraded"]
    run["honest_codes"] = []
    assert _verdicts(blast_radius_from_run(run))["card-tab"] == ["failed", "failed"]


def test_a_fault_that_never_touched_traffic_is_marked(sample: dict[str, Any]) -> None:
    sample["runs"][0]["faults"][0]["touched"] = False
    (place,) = blast_radius_from_run(sample["runs"][0]).places
    assert place.touched is False


def test_a_fault_never_removed_is_held_to_the_end_of_the_fault_phase(
    sample: dict[str, Any],
) -> None:
    run = with_second_fault_and_failures(sample)["runs"][1]
    run["faults"][1]["removed_s"] = 0.0
    assert blast_radius_from_run(run).places[1].window_s == (5.0, 11.0)


def test_journeys_only_observed_are_listed_but_not_judged(sample: dict[str, Any]) -> None:
    run = with_second_fault_and_failures(sample)["runs"][1]
    run["timeseries"]["extra"] = [[6.0, 5.0, True, None]]
    blast = blast_radius_from_run(run)
    assert blast.journeys == ("login", "balance", "card-tab", "extra")
    assert [(p.cells[3].verdict, p.cells[3].detail) for p in blast.places] == [
        ("no_data", "not judged"),
        ("no_data", "not judged"),
    ]


def test_no_fault_no_place(sample: dict[str, Any]) -> None:
    sample["runs"][0]["faults"] = []
    assert blast_radius_from_run(sample["runs"][0]).as_dict()["places"] == []


# --- from a run's typed values ----------------------------------------------------------------


def _result(run: dict[str, Any], faults: list[FaultWindow]) -> RunResult:
    """A finished run rebuilt from the sample's hardened run: its calls, judged afresh."""
    slos = {j["journey"]: j["slo"] for j in run["verdict"]["journeys"]["during"]}
    spec = incident_spec(
        id="kbpay-2023-01-25",
        journeys=tuple(
            JourneyLoad(name, 1, 100, Slo(float(s["p95_ms"]), float(s["success_rate"])))
            for name, s in slos.items()
        ),
        timeline=(FaultStep(Timeout(edge="card->pay"), 0.0, 8.0),),
        expect={"hardened": Expectation({}, {}, {})},
        steady_state_s=3.0,
        recovery_s=4.0,
        client_timeout_s=8.0,
    )
    observations = [
        Observation(name, p[0], p[1], p[2], 200 if p[2] else None, p[3], (), bool(p[2] and p[3]))
        for name, points in run["timeseries"].items()
        for p in points
    ]
    honest = frozenset(run["honest_codes"])
    windows = {name: (float(a), float(b)) for name, (a, b) in run["windows"].items()}
    # The spec's phases (3 s, 8 s, 4 s) give the windows the sample's run was judged in.
    assert spec.experiment("hardened").fault_window_s == windows["fault"]
    verdict = judge_run(
        spec.experiment("hardened"),
        honest_codes=honest,
        observations=observations,
        untouched_faults=[],
        invariants=[],
    )
    return RunResult(
        spec=spec,
        profile="hardened",
        backend="local",
        toxiproxy_version="2.12.0",
        started_at="",
        duration_s=15.0,
        steady_window_s=windows["steady"],
        fault_window_s=windows["fault"],
        recovery_window_s=windows["recovery"],
        faults=faults,
        observations=observations,
        background=[],
        verdict=verdict,
        honest_codes=tuple(sorted(honest)),
    )


@pytest.mark.parametrize("places", [1, 2])
def test_run_data_computes_the_blast_radius_from_typed_values(
    sample: dict[str, Any], places: int
) -> None:
    run = with_second_fault_and_failures(sample)["runs"][1]
    faults = [FaultWindow(**f) for f in run["faults"][:places]]
    data = run_data(_result(run, faults))
    blast = data["blast_radius"]
    assert blast["basis"] == ("fault_phase" if places == 1 else "place_windows")
    # The typed path and the path from report data are the same computation.
    assert blast == blast_radius_from_run(data).as_dict()
    expected = {
        "login": "failed",  # the ten NT004 failures added at 5-7 s
        "balance": "healthy",
        "card-tab": "degraded",
    }
    for place in blast["places"]:
        assert {c["journey"]: c["verdict"] for c in place["cells"]} == expected


def test_the_renderer_never_imports_the_verdicts_rules() -> None:
    for module in sorted(HTML_PACKAGE.glob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        assert not imported & {"harness.verdict", "harness.report.blast"}, module.name
