"""Which calls each window judges: the steady state what users saw before the fault, the
fault every call in flight while it was held (a hang is evidence, not an absence of data);
and how a failure failed."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from harness.experiment.observe import Observer
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
        _spec().experiment("fragile"),
        honest_codes=frozenset(),
        observations=observations,
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


# --- the fault judges every call in flight during it (issue 15) -------------------------------

FAULT_END_S = 7.0


def _expecting(*allowed: str) -> IncidentSpec:
    return incident_spec(
        id="in-flight",
        profiles=("fragile",),
        journeys=(JourneyLoad("card-tab", 1, 100, Slo(1000.0, 0.99)),),
        timeline=(FaultStep(Timeout(edge="card->pay"), 0.0, 4.0),),
        expect={"fragile": Expectation({"card-tab": allowed}, {}, {})},
        steady_state_s=STEADY_END_S,
        recovery_s=2.0,
        client_timeout_s=10.0,
    )


def _judge_expecting(observations: list[Observation], *allowed: str) -> RunVerdict:
    return judge_run(
        _expecting(*allowed).experiment("fragile"),
        honest_codes=frozenset(),
        observations=observations,
        untouched_faults=[],
        invariants=[],
    )


def _baseline() -> list[Observation]:
    return [Observation("card-tab", i * 0.1, 40.0, True, 200) for i in range(25)]


def _recovery() -> list[Observation]:
    return [Observation("card-tab", FAULT_END_S + 1.0 + i * 0.1, 40.0, True, 200) for i in range(5)]


def test_a_call_stuck_through_the_whole_fault_is_judged_failed_slow_not_no_data() -> None:
    # Sent 0.1 s before the fault, answered (a 200, but late) after it ended: no call
    # *started* in the window, yet the user waited through all of it.
    stuck = Observation("card-tab", 2.9, 4_600.0, True, 200)
    verdict = _judge_expecting([*_baseline(), stuck, *_recovery()], "healthy")
    (during,) = verdict.during
    assert during.verdict == "failed"
    assert during.failure == "slow"
    assert during.failure_ms == 4_600.0
    assert (during.stats.calls, during.stats.in_flight) == (1, 1)
    assert verdict.outcome == "fail"
    assert "failed-slow (4600 ms)" in verdict.checks[0].measured
    # Sent before the fault, it is no steady-state call either: the baseline stayed healthy.
    assert verdict.steady[0].verdict == "healthy"
    # Recovery judges what users met once the fault was gone: calls sent after it.
    assert verdict.recovery[0].stats.calls == 5


def test_a_call_never_answered_is_judged_with_the_time_it_waited() -> None:
    waiting = Observation("card-tab", 2.5, 6_800.0, False, None, "NT004", answered=False)
    verdict = _judge_expecting([*_baseline(), waiting, *_recovery()], "failed")
    (during,) = verdict.during
    assert (during.verdict, during.failure) == ("failed", "slow")
    assert during.stats.unanswered == 1
    assert verdict.outcome == "pass", verdict.reasons


def test_a_journey_with_no_call_in_flight_during_the_fault_makes_the_run_inconclusive() -> None:
    # The user thought through the whole window: nothing was judged, so nothing passed.
    verdict = _judge_expecting([*_baseline(), *_recovery()], "healthy")
    assert [v.verdict for v in verdict.during] == ["no_data"]
    assert verdict.outcome == "inconclusive"
    assert any("no call of card-tab was in flight during the fault" in r for r in verdict.reasons)


def test_failures_are_judged_by_how_they_fail() -> None:
    fast = [Observation("card-tab", 3.5 + i * 0.2, 25.0, False, 503, "PY001") for i in range(10)]
    slow = [Observation("card-tab", 3.5 + i, 1_500.0, False, 504, "NT004") for i in range(3)]
    calls = {"fast": fast, "slow": slow}
    for how, failing in calls.items():
        (during,) = _judge_expecting([*_baseline(), *failing, *_recovery()], "failed").during
        assert (during.verdict, during.failure, during.label) == ("failed", how, f"failed-{how}")
    (fast_one,) = _judge_expecting([*_baseline(), *fast, *_recovery()], "failed").during
    assert fast_one.failure_ms == 25.0
    # A spec's "failed" still allows either kind; "failed-fast"/"failed-slow" only theirs.
    for allowed, passes in (
        (("failed",), {"fast", "slow"}),
        (("failed-fast",), {"fast"}),
        (("failed-slow",), {"slow"}),
        (("healthy", "failed-slow"), {"slow"}),
    ):
        outcomes = {
            how: _judge_expecting([*_baseline(), *failing, *_recovery()], *allowed).outcome
            for how, failing in calls.items()
        }
        assert {how for how, o in outcomes.items() if o == "pass"} == passes, allowed


def test_a_code_seen_on_a_call_in_flight_at_the_fault_counts_as_seen() -> None:
    spec = incident_spec(
        id="code-in-flight",
        profiles=("fragile",),
        journeys=(JourneyLoad("card-tab", 1, 100, Slo(1000.0, 0.99)),),
        timeline=(FaultStep(Timeout(edge="card->pay"), 0.0, 4.0),),
        expect={"fragile": Expectation({}, {"card-tab": ("NT004",)}, {})},
        steady_state_s=STEADY_END_S,
        recovery_s=2.0,
        client_timeout_s=10.0,
    )
    straddler = Observation("card-tab", 2.8, 10_000.0, False, None, "NT004")
    verdict = judge_run(
        spec.experiment("fragile"),
        honest_codes=frozenset(),
        observations=[*_baseline(), straddler, *_recovery()],
        untouched_faults=[],
        invariants=[],
    )
    assert [c.passed for c in verdict.checks] == [True], verdict.checks


# --- a call still waiting when observation stops is recorded, not dropped ---------------------


class _HangingClient:
    """A user whose second call never returns (a slow drip no read timeout ends)."""

    def __init__(self, release: threading.Event) -> None:
        self._release = release
        self._calls = 0

    def token(self) -> str:
        return ""

    def rebase(self, _origin_s: float) -> None:
        pass

    def close(self) -> None:
        self._release.set()

    def run(self, journey: Any) -> Observation:
        self._calls += 1
        if self._calls > 1:
            self._release.wait(30)
        return Observation(journey.name, 0.0, 1.0, True, 200)


def test_a_call_still_waiting_when_observation_stops_is_recorded_unanswered() -> None:
    release = threading.Event()
    journey = SimpleNamespace(name="card-tab")
    stack = SimpleNamespace(
        entry_url="http://127.0.0.1:9",
        allowed_hosts=(),
        topology=SimpleNamespace(journeys=(journey,), entry_service="bank"),
        adapter=SimpleNamespace(users=lambda _t: iter(lambda: None, 1), timeout_code="NT004"),
        client=lambda **_kw: _HangingClient(release),
    )
    observer = Observer(
        stack,  # type: ignore[arg-type]
        [JourneyLoad("card-tab", 1, 0, Slo(1000.0, 0.99))],
        client_timeout_s=0.1,
        stop_grace_s=0.2,
    )
    observer.start()
    deadline = time.monotonic() + 5
    while observer.stats().in_flight == 0 or not observer.observations():
        assert time.monotonic() < deadline, "the user never made its second call"
        time.sleep(0.01)
    observer.stop()
    answered, waiting = observer.observations()
    assert answered.answered
    assert (waiting.answered, waiting.ok, waiting.code, waiting.status) == (
        False,
        False,
        "NT004",
        None,
    )
    assert waiting.latency_ms >= 290  # stop waited the 0.1 s client timeout + 0.2 s grace
    # An answer that comes after observation stopped is not recorded a second time.
    release.set()
    for user in [t for t in threading.enumerate() if t.name == "domino-card-tab-0"]:
        user.join(timeout=5)
        assert not user.is_alive()
    assert len(observer.observations()) == 2
