"""The steady state is judged on what users saw before the fault, not on what the fault did."""

from __future__ import annotations

from harness.model.faults import Timeout
from harness.model.incident import Expectation, FaultStep, IncidentSpec, JourneyLoad
from harness.model.outcomes import Observation, RunVerdict
from harness.model.topology import Slo
from harness.verdict import judge_run
from tests.specs_made import incident_spec

STEADY_END_S = 3.0


def _spec() -> IncidentSpec:
    return incident_spec(
        id="steady-boundary",
        profiles=("fragile",),
        journeys=(JourneyLoad("card-tab", 1, 100, Slo(1000.0, 0.99)),),
        timeline=(FaultStep(Timeout(edge="card->pay"), 0.0, 4.0),),
        expect={"fragile": Expectation({"card-tab": ("failed",)}, {}, {})},
        steady_state_s=STEADY_END_S,
        recovery_s=2.0,
        client_timeout_s=10.0,
    )


def _judge(observations: list[Observation]) -> RunVerdict:
    return judge_run(
        _spec(),
        "fragile",
        honest_codes=frozenset(),
        observations=observations,
        steady_window_s=(0.0, STEADY_END_S),
        fault_window_s=(STEADY_END_S, 7.0),
        recovery_window_s=(7.0, 9.0),
        untouched_faults=[],
        invariants=[],
    )


def _calls() -> list[Observation]:
    """Healthy baseline calls, failing calls under the fault, healthy recovery."""
    baseline = [Observation("card-tab", i * 0.1, 40.0, True, 200) for i in range(25)]
    faulted = [Observation("card-tab", 3.5 + i, 9000.0, False, 504, "NT004") for i in range(3)]
    recovery = [Observation("card-tab", 7.0 + i * 0.1, 40.0, True, 200) for i in range(15)]
    return [*baseline, *faulted, *recovery]


def test_a_call_sent_before_the_fault_and_answered_under_it_is_not_steady_state() -> None:
    straddler = Observation("card-tab", 2.95, 10_029.0, False, 504, "NT004")
    verdict = _judge([*_calls(), straddler])
    assert [v.verdict for v in verdict.steady] == ["healthy"]
    assert verdict.steady[0].stats.calls == 25
    assert verdict.outcome == "pass", verdict.reasons


def test_a_failure_answered_before_the_fault_still_spoils_the_steady_state() -> None:
    early_failure = Observation("card-tab", 2.0, 50.0, False, 500, "SV001")
    verdict = _judge([*_calls(), early_failure])
    assert [v.verdict for v in verdict.steady] == ["failed"]
    assert verdict.outcome == "inconclusive"
    assert any(r.startswith("steady state not met") for r in verdict.reasons)
