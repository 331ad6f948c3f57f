"""A flood's answers (harness/flood/answers.py): honest waits, false waits, failed but applied.

``surge_answered`` counts a 429/503 as "told to wait" only when it carries the
system's honest code and the system did not apply the action; a failure the
system applied anyway is "failed but applied", and breaks the check however
few. Where the system cannot tell, the old judgement stands and says so.
The engine's result is stood in for by the figures the judge reads; the
engine is tested in tests/loadgen, floods end to end in tests/incidents.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from harness.adapters.http import HttpAdapter, NoControl
from harness.contracts import ReportsAppliedKeys
from harness.errors import AdminCallError
from harness.experiment.flooding import FloodApplier, answered_in
from harness.flood import FloodRun, applied_check, flood_checks, honest_wait
from harness.flood.answers import action_key
from harness.library import find_topology
from harness.loadgen import Progress
from harness.model.faults import Flood
from harness.systems.bank.adapter import BankAdapter, BankControl

BANK = find_topology("bank")
JOURNEYS = {j.name: j for j in BANK.journeys}
RUN_ID = "domino-0123456789ab"


def _body(code: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": "-", "cause": []}}).encode()


def test_a_wait_is_honest_only_with_one_of_the_systems_honest_codes() -> None:
    check = honest_wait(BankAdapter(), JOURNEYS["remittance"])
    assert check is not None
    assert check(429, _body("OV001"))  # flow control: position and Retry-After
    assert check(503, _body("MT001"))  # maintenance, nothing debited
    assert not check(503, _body("NT003"))  # the fragile app's "server error", money gone
    assert not check(503, _body("SV002"))
    assert not check(503, b"<html>busy</html>")
    assert not check(503, b"")


def test_an_adapter_without_honest_codes_cannot_tell_and_checks_nothing() -> None:
    assert honest_wait(HttpAdapter(), JOURNEYS["remittance"]) is None


def test_the_applied_keys_are_matched_to_the_actions_not_ok_by_their_index() -> None:
    result = SimpleNamespace(rejected_actions=(1, 4), failed_actions=(2, 3, 7))
    keys = frozenset(
        {
            *(action_key(RUN_ID, i) for i in (0, 2, 3, 4, 5)),
            "domino-otherrun0000-2",  # another flood's
            f"{RUN_ID}-x",
        }
    )
    check = applied_check(result, RUN_ID, keys)  # type: ignore[arg-type]
    assert (check.applied, check.waits_applied, check.failures_applied) == (5, 1, 2)
    assert check.failed_but_applied == 3


def _result(**fields: Any) -> Any:
    figures: dict[str, Any] = {
        "valid": True,
        "invalid_reason": "",
        "actions": 1000,
        "ok": 600,
        "rejected": 400,
        "errors": 0,
        "false_waits": 0,
        "rejected_actions": (),
        "failed_actions": (),
        "ok_latency": SimpleNamespace(p99_ms=120.0),
        "attempts_per_action": 1.0,
        "series": [],
    }
    return SimpleNamespace(**{**figures, **fields})


def _run(result: Any, keys: frozenset[str] | None, *unchecked: str) -> FloodRun:
    flood = Flood(journeys=("exchange-deposit",), peak_per_s=300)
    run = FloodRun(flood, hold_s=6, slo_p95_ms=800, run_id=RUN_ID, waits_checked=True)
    run.result = result
    if keys is not None:
        run.applied = applied_check(result, RUN_ID, keys)
    run.unchecked = list(unchecked)
    return run


def _answered(run: FloodRun) -> Any:
    (answered, _), _ = flood_checks([run])
    assert answered.name == "surge_answered"
    return answered


def test_honest_waits_with_nothing_applied_are_answers() -> None:
    result = _result(rejected_actions=tuple(range(600, 1000)))
    answered = _answered(_run(result, frozenset(action_key(RUN_ID, i) for i in range(600))))
    assert answered.holds, answered.detail
    assert "400 told to wait, 0 failed (0.0%), 0 failed but applied" in answered.detail


def test_one_failure_the_system_applied_breaks_surge_answered() -> None:
    # 1 timeout in 1,000 is within the 1% a surge may fail, but its deposit went through.
    result = _result(ok=600, rejected=399, errors=1, failed_actions=(999,))
    applied = frozenset(action_key(RUN_ID, i) for i in (*range(600), 999))
    answered = _answered(_run(result, applied))
    assert not answered.holds
    assert "1 failed (0.1%), 1 failed but applied" in answered.detail


def test_a_wait_whose_action_was_applied_is_a_false_wait_and_failed_but_applied() -> None:
    result = _result(rejected_actions=tuple(range(600, 1000)))
    applied = frozenset(action_key(RUN_ID, i) for i in (*range(600), 600, 601))
    run = _run(result, applied)
    answered = _answered(run)
    assert not answered.holds
    assert "398 told to wait, 2 failed (0.2%, 2 of them false waits), 2 failed but applied" in (
        answered.detail
    )
    outcomes = run.outcomes()
    assert outcomes is not None
    assert outcomes.as_dict() == {
        "actions": 1000,
        "ok": 600,
        "told_to_wait": 398,
        "failed": 2,
        "false_waits": 2,
        "failed_but_applied": 2,
    }
    assert run.applied is not None
    assert run.applied.as_dict()["waits_applied"] == 2


def test_one_false_wait_breaks_surge_answered_though_nothing_was_applied() -> None:
    # The remittance flood under a remit outage, hardened-looking but for one NT003.
    result = _result(ok=600, rejected=399, errors=1, false_waits=1, failed_actions=(999,))
    answered = _answered(_run(result, frozenset(action_key(RUN_ID, i) for i in range(600))))
    assert not answered.holds
    assert "1 failed (0.1%, 1 of them false waits), 0 failed but applied" in answered.detail


def test_a_system_that_cannot_tell_keeps_the_old_judgement_and_says_so() -> None:
    reason = "could not check which failed actions were applied: adapter http cannot say"
    answered = _answered(_run(_result(), None, reason))
    assert answered.holds, answered.detail
    assert "failed but applied" not in answered.detail.split(";")[0]
    assert answered.detail.endswith(f"; {reason}")


# -- the applier asks the system, where it can ------------------------------------------


class _Keys:
    """A control that can say which keys it applied (or fails to)."""

    def __init__(self, keys: frozenset[str] | Exception) -> None:
        self.keys = keys
        self.asked: list[str] = []

    def applied_keys(self, prefix: str) -> frozenset[str]:
        self.asked.append(prefix)
        if isinstance(self.keys, Exception):
            raise self.keys
        return self.keys


def _applier(control: object, adapter: object | None = None) -> FloodApplier:
    stack = SimpleNamespace(
        topology=BANK,
        adapter=adapter or BankAdapter(),
        injector=SimpleNamespace(control=control),
    )
    return FloodApplier(stack, lambda: 0.0, [])  # type: ignore[arg-type]


def _flood_run(*journeys: str) -> FloodRun:
    run = FloodRun(Flood(journeys=journeys, peak_per_s=100), hold_s=6, slo_p95_ms=800)
    run.run_id = RUN_ID
    run.result = _result(ok=1, errors=2, rejected=0, failed_actions=(1, 2))
    return run


def test_the_bank_control_has_the_ability_and_a_control_without_it_does_not() -> None:
    assert issubclass(BankControl, ReportsAppliedKeys)
    assert not isinstance(NoControl(), ReportsAppliedKeys)


def test_the_applier_asks_for_the_floods_own_keys_and_matches_them() -> None:
    control = _Keys(frozenset({action_key(RUN_ID, 0), action_key(RUN_ID, 2)}))
    run = _flood_run("exchange-deposit")
    _applier(control).check_applied([run])
    assert control.asked == [f"{RUN_ID}-"]
    assert run.applied is not None
    assert run.applied.failed_but_applied == 1
    assert run.unchecked == []


@pytest.mark.parametrize(
    ("control", "journeys", "reason"),
    [
        (NoControl(), ("exchange-deposit",), "adapter bank cannot say which keys it applied"),
        (
            _Keys(AdminCallError("bank did not answer")),
            ("exchange-deposit",),
            "bank did not answer",
        ),
        (_Keys(frozenset()), ("balance",), "its journeys send no key ({uuid} in a header)"),
    ],
)
def test_what_cannot_be_checked_is_said(
    control: object, journeys: tuple[str, ...], reason: str
) -> None:
    run = _flood_run(*journeys)
    _applier(control).check_applied([run])
    assert run.applied is None
    assert run.unchecked == [f"could not check which failed actions were applied: {reason}"]
    assert run.outcomes() is not None
    assert run.outcomes().failed_but_applied is None  # type: ignore[union-attr]


def test_journeys_without_a_key_in_a_mixed_flood_are_named() -> None:
    run = _flood_run("exchange-deposit", "balance")
    _applier(_Keys(frozenset())).check_applied([run])
    assert run.applied is not None
    assert run.unchecked == ["balance send no key: their failed actions were not checked"]


def test_a_false_wait_is_still_an_answer_in_the_floods_evidence() -> None:
    # A flood the system answered only with false waits met the system: not inconclusive.
    second = Progress(
        t_s=3,
        offered_per_s=50,
        achieved_per_s=50,
        admitted_per_s=10,
        rejected_per_s=5,
        errors_per_s=30,
        in_flight=4,
        dropped=0,
        p50_ms=10.0,
        p99_ms=20.0,
        lag_p99_ms=1.0,
        false_waits_per_s=20,
    )
    assert answered_in(second) == 35  # the other 10 errors were timeouts: no answer
