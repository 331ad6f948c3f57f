"""Bounded always: request cap, time cap, mandatory caps, and safe targets only."""

from __future__ import annotations

import time

import pytest

from harness.errors import UnsafeTargetError, UsageError
from harness.loadgen import Constant, LoadPlan, LoadPlanError, RequestTemplate, run_load
from tests.loadgen.conftest import ServerProcess

FAST = (RequestTemplate("fast", "/fast"),)


def test_the_engine_stops_by_itself_at_the_request_cap(server: ServerProcess) -> None:
    plan = LoadPlan(
        url=server.url,
        templates=FAST,
        shape=Constant(rate_per_s=200, duration_s=30),
        max_requests=50,
        max_duration_s=30,
    )
    started = time.monotonic()
    result = run_load(plan)
    assert time.monotonic() - started < 3  # 50 at 200/s: a quarter of a second
    assert result.stop_reason == "request cap"
    assert result.attempts == 50
    assert len(server.requests("/fast")) == 50
    assert result.valid, result.invalid_reason


def test_the_engine_stops_by_itself_at_the_time_cap(server: ServerProcess) -> None:
    plan = LoadPlan(
        url=server.url,
        templates=FAST,
        shape=Constant(rate_per_s=20, duration_s=30),
        arrivals="even",
        max_requests=10_000,
        max_duration_s=1.0,
    )
    started = time.monotonic()
    result = run_load(plan)
    assert time.monotonic() - started < 2.5
    assert result.stop_reason == "time cap"
    assert result.intended == 20
    assert result.elapsed_s < 1.5


def test_in_flight_requests_at_the_time_cap_are_cancelled_and_invalidate(
    server: ServerProcess,
) -> None:
    plan = LoadPlan(
        url=server.url,
        templates=(RequestTemplate("hang", "/hang"),),
        shape=Constant(rate_per_s=20, duration_s=5),
        arrivals="even",
        timeout_s=30,
        max_requests=1_000,
        max_duration_s=0.5,
    )
    started = time.monotonic()
    result = run_load(plan)
    assert time.monotonic() - started < 2
    assert result.stop_reason == "time cap"
    assert result.cancelled == 10
    assert result.templates[0].cancelled == 10
    assert not result.valid
    assert "time cap" in result.invalid_reason


def test_an_unsafe_target_is_refused_before_any_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOMINO_ALLOW_TARGETS", raising=False)
    with pytest.raises(UnsafeTargetError, match=r"10\.1\.2\.3"):
        LoadPlan(
            url="http://10.1.2.3:8080",
            templates=FAST,
            shape=Constant(10, 1),
            max_requests=10,
            max_duration_s=5,
        )
    # a plan made while the host was allowed is checked again when it runs
    monkeypatch.setenv("DOMINO_ALLOW_TARGETS", "10.1.2.3")
    plan = LoadPlan(
        url="http://10.1.2.3:8080",
        templates=FAST,
        shape=Constant(10, 1),
        max_requests=10,
        max_duration_s=5,
    )
    monkeypatch.delenv("DOMINO_ALLOW_TARGETS")
    started = time.monotonic()
    with pytest.raises(UnsafeTargetError):
        run_load(plan)
    assert time.monotonic() - started < 0.5  # refused, not timed out


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:1", "ftp://127.0.0.1/", "http://u:p@127.0.0.1:1"]
)
def test_only_plain_http_urls(url: str) -> None:
    with pytest.raises(LoadPlanError):
        LoadPlan(url=url, templates=FAST, shape=Constant(1, 1), max_requests=1, max_duration_s=1)


@pytest.mark.parametrize(
    ("caps", "field"),
    [
        ({"max_requests": None, "max_duration_s": 5}, "max_requests"),
        ({"max_requests": 0, "max_duration_s": 5}, "max_requests"),
        ({"max_requests": 10, "max_duration_s": None}, "max_duration_s"),
        ({"max_requests": 10, "max_duration_s": float("inf")}, "max_duration_s"),
        ({"max_requests": 10, "max_duration_s": 0}, "max_duration_s"),
    ],
)
def test_a_plan_without_caps_is_refused(caps: dict[str, object], field: str) -> None:
    with pytest.raises(LoadPlanError, match=field):
        LoadPlan(url="http://127.0.0.1:1", templates=FAST, shape=Constant(1, 1), **caps)  # type: ignore[arg-type]


def test_the_caps_are_mandatory_arguments() -> None:
    with pytest.raises(TypeError, match="max_requests"):
        LoadPlan(url="http://127.0.0.1:1", templates=FAST, shape=Constant(1, 1), max_duration_s=1)  # type: ignore[call-arg]


def test_plan_errors_are_usage_errors() -> None:
    assert issubclass(LoadPlanError, UsageError)
    with pytest.raises(LoadPlanError, match="unique"):
        LoadPlan(
            url="http://127.0.0.1:1",
            templates=(FAST[0], FAST[0]),
            shape=Constant(1, 1),
            max_requests=1,
            max_duration_s=1,
        )
    with pytest.raises(LoadPlanError, match="path"):
        RequestTemplate("bad", "no-slash")
    with pytest.raises(LoadPlanError, match="header"):
        RequestTemplate("bad", "/", headers=(("X-A", "b\r\nInjected: 1"),))
