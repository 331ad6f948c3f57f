"""The kit's parts on their own: profiles, breaker, admission, kill switch, budgets, keys."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from services.kit import profiles
from services.kit.admission import AdmissionController
from services.kit.breaker import CircuitBreaker
from services.kit.budget import DEADLINE_HEADER, RequestBudget
from services.kit.errors import ERROR_CODES, ServiceError
from services.kit.idempotency import IDEMPOTENCY_SCHEMA, StoredAnswer, apply_once, check_key
from services.kit.killswitch import FeatureSwitch
from services.kit.profiles import PROFILES, KnobError, Knobs, resolve_knobs
from services.kit.storage import Database

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """A clock the test moves by hand, in seconds."""

    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


# -- profiles ------------------------------------------------------------------------------


def test_every_knob_is_documented_and_set_in_both_profiles() -> None:
    source = inspect.getsource(profiles)
    tree = ast.parse(source)
    knobs_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Knobs")
    lines = source.splitlines()
    for node in knobs_class.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above = lines[node.lineno - 2].strip()
            assert above.startswith("#:"), f"knob {node.target.id} has no '#:' comment"
    names = {f.name for f in dataclasses.fields(Knobs)}
    assert set(PROFILES) == {"fragile", "hardened"}
    for knobs in PROFILES.values():
        assert {f.name for f in dataclasses.fields(knobs)} == names


def test_profiles_differ_the_way_the_incidents_need() -> None:
    fragile, hardened = PROFILES["fragile"], PROFILES["hardened"]
    assert fragile.login_fetches_card
    assert not hardened.login_fetches_card
    assert fragile.request_budget_s is None
    assert hardened.request_budget_s is not None
    assert fragile.dependency_timeout_s >= 5 > hardened.dependency_timeout_s
    for knob in (
        "circuit_breaker",
        "retry_backoff",
        "bulkheads",
        "admission_control",
        "truthful_codes",
        "fx_kill_switch",
        "maintenance_aware",
        "card_points_cache",
        "degrade_card_features",
        "deadline_propagation",
    ):
        assert getattr(hardened, knob), knob
        assert not getattr(fragile, knob), knob


def test_knobs_override_one_at_a_time_and_mistakes_are_named() -> None:
    knobs = resolve_knobs("fragile", {"login_fetches_card": "false", "retries": "3"})
    assert knobs.login_fetches_card is False
    assert knobs.retries == 3
    assert knobs.dependency_timeout_s == PROFILES["fragile"].dependency_timeout_s
    with pytest.raises(KnobError, match="unknown knob 'nope'"):
        resolve_knobs("fragile", {"nope": 1})
    with pytest.raises(KnobError, match="takes true or false"):
        resolve_knobs("hardened", {"bulkheads": "maybe"})
    with pytest.raises(KnobError, match="unknown profile"):
        resolve_knobs("sturdy")


@pytest.mark.parametrize("keepalive_s", ["-1", "5", "30"])
def test_a_dependency_keepalive_the_server_would_outlast_is_refused(keepalive_s: str) -> None:
    """A client keeping an idle connection as long as the server (5 s) or longer would
    send calls on connections the server has just closed."""
    assert resolve_knobs("fragile", {"dependency_keepalive_s": "0"}).dependency_keepalive_s == 0
    assert resolve_knobs("hardened", {"dependency_keepalive_s": 4.5}).dependency_keepalive_s == 4.5
    with pytest.raises(KnobError, match=r"dependency_keepalive_s must be from 0 .* below 5"):
        resolve_knobs("hardened", {"dependency_keepalive_s": keepalive_s})


# -- circuit breaker -------------------------------------------------------------------


def _state(breaker: CircuitBreaker) -> str:
    """The breaker's state, read afresh (mypy would otherwise keep the first one it saw)."""
    return breaker.state


def test_breaker_opens_fails_fast_then_lets_one_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures_to_open=3, reset_s=2.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert _state(breaker) == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert _state(breaker) == "open"
    assert not breaker.allow()
    clock.now_s += 2.0
    assert breaker.allow()  # the one probe
    assert _state(breaker) == "half_open"
    assert not breaker.allow()  # nobody else while it is out
    breaker.record_failure()
    assert _state(breaker) == "open"
    clock.now_s += 2.0
    assert breaker.allow()
    breaker.record_success()
    assert _state(breaker) == "closed"
    assert breaker.allow()
    assert breaker.allow()


def test_a_probe_that_never_reports_does_not_hold_the_breaker_half_open() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures_to_open=1, reset_s=1.0, clock=clock)
    breaker.record_failure()
    clock.now_s += 1.0
    assert breaker.allow()  # the probe's caller is cancelled and never records
    assert not breaker.allow()
    clock.now_s += 1.0
    assert breaker.allow()


# -- admission control -----------------------------------------------------------------


def test_admission_keeps_room_for_priority_and_tells_the_rest_to_wait() -> None:
    clock = FakeClock()
    controller = AdmissionController(capacity=4, priority_reserve=2, max_lag_ms=100, clock=clock)
    assert controller.try_admit(priority=False) is None
    assert controller.try_admit(priority=False) is None
    held = controller.try_admit(priority=False)
    assert held is not None
    assert held.position == 1
    assert held.retry_after_s >= 1
    assert "in flight" in held.reason
    # Balance inquiry still gets in, up to the full capacity.
    assert controller.try_admit(priority=True) is None
    assert controller.try_admit(priority=True) is None
    assert controller.try_admit(priority=True) is not None
    second = controller.try_admit(priority=False)
    assert second is not None
    assert second.position == 3  # three requests held in the last second
    for _ in range(4):
        controller.release()
    assert controller.try_admit(priority=False) is None


def test_admission_holds_non_priority_requests_while_the_event_loop_lags() -> None:
    controller = AdmissionController(capacity=64, priority_reserve=16, max_lag_ms=100)
    controller.lag_ms = 250.0
    held = controller.try_admit(priority=False)
    assert held is not None
    assert "behind" in held.reason
    assert controller.try_admit(priority=True) is None


def test_retry_after_grows_with_the_queue_and_is_bounded() -> None:
    clock = FakeClock()
    controller = AdmissionController(capacity=1, priority_reserve=0, max_lag_ms=100, clock=clock)
    assert controller.try_admit(priority=False) is None
    answers = [controller.try_admit(priority=False) for _ in range(200)]
    assert all(a is not None for a in answers)
    retry_afters = [a.retry_after_s for a in answers if a is not None]
    assert retry_afters == sorted(retry_afters)
    assert retry_afters[-1] == 30


# -- kill switch -----------------------------------------------------------------------


def _switch(clock: FakeClock, *, armed: bool = True) -> FeatureSwitch:
    return FeatureSwitch(
        "bank",
        "fx",
        frozenset({"fx.shortfall"}),
        armed=armed,
        surge_per_s=10,
        suspend_s=30,
        clock=clock,
    )


def test_kill_switch_refuses_the_feature_but_not_its_declared_exception() -> None:
    clock = FakeClock()
    switch = _switch(clock)
    switch.check("fx.order")
    switch.suspend("operator")
    with pytest.raises(ServiceError) as refused:
        switch.check("fx.order")
    body = refused.value.body()["error"]
    assert body["code"] == "FS001"
    assert body["suspended"]["exceptions"] == ["fx.shortfall"]
    switch.check("fx.shortfall")
    assert switch.resume()
    switch.check("fx.order")


def test_a_surge_trips_the_switch_and_it_resumes_by_itself() -> None:
    clock = FakeClock()
    switch = _switch(clock)
    for _ in range(20):  # 10 per second over the 2-second window is the limit
        switch.record()
    switch.check("fx.order")
    switch.record()
    with pytest.raises(ServiceError, match="FS001"):
        switch.check("fx.order")
    assert switch.trips == 1
    clock.now_s += 30
    switch.check("fx.order")


def test_an_unarmed_switch_never_trips_and_cannot_be_set() -> None:
    clock = FakeClock()
    switch = _switch(clock, armed=False)
    for _ in range(1000):
        switch.record()
    switch.check("fx.order")
    with pytest.raises(ServiceError, match="TX003"):
        switch.suspend("operator")


# -- budgets ---------------------------------------------------------------------------


def test_the_callee_budget_is_cut_to_the_callers_deadline() -> None:
    hardened = PROFILES["hardened"]
    budget = RequestBudget.for_request(hardened, {DEADLINE_HEADER.lower(): "200"})
    remaining = budget.remaining_s()
    assert remaining is not None
    assert 0.1 < remaining <= 0.15  # 200 ms minus the answering margin
    unbounded = RequestBudget.for_request(PROFILES["fragile"], {DEADLINE_HEADER.lower(): "200"})
    assert unbounded.remaining_s() is None  # fragile ignores the caller's deadline


# -- idempotency and errors ------------------------------------------------------------


def test_keys_must_be_visible_ascii() -> None:
    assert check_key("order-42") == "order-42"
    assert check_key(None) is None
    for bad in ("", "with space", "x" * 129, "é"):
        with pytest.raises(ServiceError, match="RQ001"):
            check_key(bad)


def test_apply_once_replays_refuses_other_requests_and_stores_nothing_on_failure(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "keys.sqlite3", (IDEMPOTENCY_SCHEMA,))
    calls: list[int] = []

    def apply(_conn: object) -> StoredAnswer:
        calls.append(1)
        return StoredAnswer(201, {"n": len(calls)})

    first, replayed = apply_once(db, caller="c1", key="k", route="R", payload={"a": 1}, apply=apply)
    again, replayed_again = apply_once(
        db, caller="c1", key="k", route="R", payload={"a": 1}, apply=apply
    )
    assert (first, replayed) == (StoredAnswer(201, {"n": 1}), False)
    assert (again, replayed_again) == (StoredAnswer(201, {"n": 1}), True)
    assert len(calls) == 1
    with pytest.raises(ServiceError, match="TX002"):
        apply_once(db, caller="c1", key="k", route="R", payload={"a": 2}, apply=apply)
    other, _ = apply_once(db, caller="c2", key="k", route="R", payload={"a": 1}, apply=apply)
    assert other.body == {"n": 2}  # keys are per caller

    def fail(_conn: object) -> StoredAnswer:
        raise ServiceError("TX001")

    with pytest.raises(ServiceError, match="TX001"):
        apply_once(db, caller="c1", key="k2", route="R", payload={}, apply=fail)
    later, replayed_later = apply_once(
        db, caller="c1", key="k2", route="R", payload={}, apply=apply
    )
    assert not replayed_later
    assert later.body == {"n": 3}


def test_every_error_code_is_documented_with_its_status() -> None:
    doc = (ROOT / "docs" / "error-codes.md").read_text()
    for code in ERROR_CODES.values():
        row = next((line for line in doc.splitlines() if line.startswith(f"| {code.code} ")), None)
        assert row is not None, f"{code.code} missing from docs/error-codes.md"
        assert f"| {code.http_status} |" in row, f"{code.code}: status differs from the doc"
    with pytest.raises(KeyError):
        ServiceError("XX999")
