"""Honest and false waits, and which actions did not end ok, against the real test server.

A template's wait check sees a rejection's status and body (and nothing
else: the client keeps no other body); one it refuses is a *false wait*, an
error. Every action that ended told to wait or failed is named by its index
in the schedule, so whoever sent it can ask the system what it applied.
The test server answers ``/reject`` with 503 ``busy`` and ``/status/NNN``
with NNN ``ok``.
"""

from __future__ import annotations

import pytest

from harness.loadgen import Constant, LoadPlan, RequestTemplate, RetryPolicy, WaitCheck, run_load
from harness.loadgen.engine import scheduled_arrivals
from tests.loadgen.conftest import ServerProcess


def _plan(url: str, *templates: RequestTemplate, rate: float = 200, **kw: object) -> LoadPlan:
    return LoadPlan(
        url=url,
        templates=templates,
        shape=Constant(rate_per_s=rate, duration_s=0.5),
        arrivals="even",
        max_requests=10_000,
        max_duration_s=10,
        **kw,  # type: ignore[arg-type]
    )


def _busy_is_honest(seen: list[tuple[int, bytes]]) -> WaitCheck:
    def check(status: int, body: bytes) -> bool:
        seen.append((status, body))
        return body == b"busy"

    return check


def test_a_wait_check_tells_honest_waits_from_false_ones_by_the_body(
    server: ServerProcess,
) -> None:
    seen: list[tuple[int, bytes]] = []
    check = _busy_is_honest(seen)
    result = run_load(
        _plan(
            server.url,
            RequestTemplate("ok", "/fast", wait_check=check),
            RequestTemplate("honest", "/reject", wait_check=check),
            RequestTemplate("false", "/status/503", wait_check=check),
            RequestTemplate("unchecked", "/status/429"),
        )
    )
    counts = {t.name: t for t in result.templates}
    assert counts["ok"].ok == counts["ok"].actions > 10
    assert counts["honest"].rejected == counts["honest"].actions > 10
    false = counts["false"]
    assert false.errors == false.false_waits == false.actions > 10
    assert counts["unchecked"].rejected == counts["unchecked"].actions > 10  # no check: honest
    assert result.false_waits == false.actions
    assert result.errors == false.actions
    assert sum(s.false_waits for s in result.series) == false.actions
    assert "is no honest wait" in result.first_error
    # The check saw every checked rejection with its body, and nothing else.
    assert sorted(set(seen)) == [(503, b"busy"), (503, b"ok")]
    assert len(seen) == counts["honest"].actions + false.actions
    assert "false waits" in result.summary()


def test_every_action_not_ok_is_named_by_its_index_in_the_schedule(
    server: ServerProcess,
) -> None:
    plan = _plan(
        server.url,
        RequestTemplate("ok", "/fast"),
        RequestTemplate("wait", "/reject"),
        RequestTemplate("broken", "/status/500"),
        RequestTemplate("false", "/status/503", wait_check=lambda _s, body: body == b"busy"),
    )
    result = run_load(plan)
    picked: dict[str, list[int]] = {"ok": [], "wait": [], "broken": [], "false": []}
    for index, _, template in scheduled_arrivals(plan):
        picked[plan.templates[template].name].append(index)
    assert result.rejected_actions == tuple(picked["wait"])
    assert result.failed_actions == tuple(sorted(picked["broken"] + picked["false"]))
    assert len(result.rejected_actions) + len(result.failed_actions) + result.ok == 100
    # Figures for reports; the indexes are for whoever sent the actions.
    assert "rejected_actions" not in result.to_json()
    assert "failed_actions" not in result.to_json()


def test_the_indexes_are_the_same_in_several_worker_processes(server: ServerProcess) -> None:
    plan = _plan(
        server.url,
        RequestTemplate("ok", "/fast"),
        RequestTemplate("wait", "/reject"),
        workers=2,
    )
    result = run_load(plan)
    waits = [i for i, _, t in scheduled_arrivals(plan) if plan.templates[t].name == "wait"]
    assert result.rejected_actions == tuple(waits)
    assert result.failed_actions == ()


@pytest.mark.parametrize("retries", [0, 2])
def test_a_failing_wait_check_is_counted_not_fatal(server: ServerProcess, retries: int) -> None:
    def broken(_status: int, _body: bytes) -> bool:
        raise RuntimeError("bug in the check")

    retry = RetryPolicy.immediate(retries) if retries else RetryPolicy.none()
    result = run_load(
        _plan(server.url, RequestTemplate("x", "/reject", wait_check=broken), retry=retry)
    )
    assert result.errors == result.actions == 100
    assert result.false_waits == 0
    assert "wait check failed" in result.first_error
