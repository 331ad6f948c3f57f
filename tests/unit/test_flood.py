"""Floods (harness/flood/, harness/faults.py:Flood): their checks, schedule and judgement.

The load engine's result is stood in for by its per-second series only
(what ``recovery_s`` reads); the engine itself is tested in tests/loadgen and
floods end to end by the K Bank and Toss Bank incidents (tests/incidents).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.errors import FaultSpecError
from harness.flood import FloodRun, crash_shape, recovery_s
from harness.model.faults import Flood, build_fault

DEPOSITS = {"journeys": ["exchange-deposit"], "peak_per_s": 400}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"journeys": [], "peak_per_s": 10}, "Flood.journeys must list the journeys"),
        ({**DEPOSITS, "peak_per_s": 0}, "Flood.peak_per_s must be > 0"),
        ({**DEPOSITS, "peak_per_s": 9_000}, "<= 5000"),
        ({**DEPOSITS, "base_per_s": 500}, "must not exceed peak_per_s"),
        ({**DEPOSITS, "retry": "sometimes", "retries": 1}, "Flood.retry must be one of"),
        ({**DEPOSITS, "retry": "immediate"}, "at least 1 with any other retry"),
        ({**DEPOSITS, "retries": 2}, "must be 0 with retry: none"),
        ({**DEPOSITS, "users": 0}, "Flood.users must be a whole number from 1 to 10000"),
        ({**DEPOSITS, "timeout_s": 0}, "Flood.timeout_s must be > 0"),
        ({**DEPOSITS, "tail_s": -1}, "Flood.tail_s must be >= 0"),
    ],
)
def test_a_bad_flood_is_refused_with_a_one_line_message(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(FaultSpecError) as raised:
        build_fault("flood", fields)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_flood_takes_one_journey_name_or_a_list() -> None:
    assert build_fault("flood", {"journeys": "fx-order", "peak_per_s": 50}) == Flood(
        journeys=("fx-order",), peak_per_s=50
    )


def test_the_crash_schedule_fills_the_hold_then_runs_the_tail_at_the_base_rate() -> None:
    flood = Flood(journeys=("exchange-deposit",), peak_per_s=400, base_per_s=20, tail_s=4)
    shape = crash_shape(flood, hold_s=8)
    assert shape.duration_s == pytest.approx(12)
    assert shape.rise_s == pytest.approx(0.8)  # seconds, not minutes
    assert shape.peak_rate_per_s == 400
    assert shape.plateau_rate_per_s == 200  # half the peak unless given
    assert shape.baseline_rate_per_s == 20
    assert shape.tail_s == 4


def _second(t_s: int, errors: int, p99_ms: float, completed: int = 10) -> Any:
    return SimpleNamespace(t_s=t_s, errors=errors, latency_p99_ms=p99_ms, completed=completed)


def _run(*seconds: Any) -> FloodRun:
    flood = Flood(journeys=("exchange-deposit",), peak_per_s=400, tail_s=4)
    run = FloodRun(flood, hold_s=8, slo_p95_ms=800)
    run.result = SimpleNamespace(series=list(seconds))  # type: ignore[assignment]
    return run


def test_recovery_is_the_first_second_after_the_trigger_from_which_every_second_is_healthy() -> (
    None
):
    run = _run(
        _second(6, 50, 3000),  # during the trigger: not judged
        _second(8, 20, 2000),
        _second(9, 0, 3000),  # no failures but slow: not healthy yet
        _second(10, 0, 200),
        _second(11, 0, 150),
    )
    assert recovery_s(run) == 2


def test_a_relapse_after_a_healthy_second_starts_the_count_again() -> None:
    run = _run(_second(8, 0, 100), _second(9, 3, 100), _second(10, 0, 100))
    assert recovery_s(run) == 2


def test_traffic_still_failing_at_the_end_never_recovered() -> None:
    run = _run(_second(8, 0, 100), _second(11, 40, 3000))
    assert recovery_s(run) is None


def test_only_the_tail_is_judged_and_a_second_without_answers_is_not_healthy() -> None:
    # The tail is seconds 8-11 (hold 8 s, tail 4 s): quiet seconds after it do not count,
    # and a second in which nothing was answered is no recovery.
    run = _run(_second(8, 5, 3000), _second(9, 0, 0, completed=0), _second(11, 9, 3000))
    run.result.series.append(_second(12, 0, 100))  # type: ignore[union-attr]
    assert recovery_s(run) is None


def test_calls_per_edge_per_flood_attempt_measure_amplification_through_the_system() -> None:
    run = _run()
    run.result = SimpleNamespace(attempts=200)  # type: ignore[assignment]
    run.edge_calls = {"bank->card": 300, "card->pay": 0, "bank->pay": 50}
    assert run.calls_per_ingress() == {"bank->card": 1.5, "bank->pay": 0.25}
