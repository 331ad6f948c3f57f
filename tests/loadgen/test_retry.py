"""Client retry policies: attempt counts, Retry-After honoured and capped, amplification."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

import pytest

from harness.loadgen import (
    Constant,
    LoadPlan,
    LoadPlanError,
    RequestContext,
    RequestTemplate,
    RetryPolicy,
    run_load,
)
from tests.loadgen.conftest import Seen, ServerProcess


def _keyed(path: str) -> RequestTemplate:
    """A template whose Idempotency-Key is the same across an action's retries."""

    def key(ctx: RequestContext) -> dict[str, str]:
        return {"Idempotency-Key": f"action-{ctx.action_index}", "X-Attempt": str(ctx.attempt)}

    return RequestTemplate("keyed", path, header_factory=key)


def _plan(url: str, path: str, retry: RetryPolicy, **kw: object) -> LoadPlan:
    return LoadPlan(
        url=url,
        templates=(_keyed(path),),
        shape=Constant(rate_per_s=10, duration_s=0.5),  # 5 actions, evenly spaced
        arrivals="even",
        retry=retry,
        max_requests=kw.pop("max_requests", 1_000),  # type: ignore[arg-type]
        max_duration_s=10,
        **kw,  # type: ignore[arg-type]
    )


def _by_action(seen: list[Seen]) -> dict[str, list[Seen]]:
    groups: dict[str, list[Seen]] = defaultdict(list)
    for item in seen:
        groups[item.headers["idempotency-key"]].append(item)
    return groups


def test_no_retry_is_one_attempt_per_action(server: ServerProcess) -> None:
    result = run_load(_plan(server.url, "/reject", RetryPolicy.none()))
    assert result.actions == result.attempts == 5
    assert result.attempts_per_action == 1.0
    assert result.rejected == 5
    assert result.errors == 0


def test_immediate_retries_multiply_the_load(server: ServerProcess) -> None:
    result = run_load(_plan(server.url, "/reject", RetryPolicy.immediate(3)))
    assert result.valid, result.invalid_reason
    assert result.actions == 5
    assert result.attempts == 20
    assert result.attempts_per_action == 4.0
    assert result.rejected == 5  # each action's final outcome
    assert sum(s.rejected for s in result.series) == 20  # every attempt was turned away
    assert sum(s.retries_sent for s in result.series) == 15
    groups = _by_action(server.requests("/reject"))
    assert len(groups) == 5
    assert all([h.headers["x-attempt"] for h in g] == ["1", "2", "3", "4"] for g in groups.values())


def test_retry_after_is_honoured(server: ServerProcess) -> None:
    result = run_load(_plan(server.url, "/reject", RetryPolicy.retry_after(2, cap_s=5)))
    assert result.attempts == 15
    assert result.attempts_per_action == 3.0
    for attempts in _by_action(server.requests("/reject")).values():
        gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
        assert len(gaps) == 2
        # the server said Retry-After: 0.2
        assert all(0.19 <= g < 0.35 for g in gaps), gaps
    # the user waited for it: latency from intended send covers both waits
    assert result.latency.p50_ms >= 400


def test_retry_after_is_capped(server: ServerProcess) -> None:
    result = run_load(_plan(server.url, "/reject", RetryPolicy.retry_after(2, cap_s=0.02)))
    assert result.attempts == 15
    for attempts in _by_action(server.requests("/reject")).values():
        gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
        assert all(g < 0.12 for g in gaps), gaps


def test_backoff_with_full_jitter(server: ServerProcess) -> None:
    policy = RetryPolicy.backoff(3, base_delay_s=0.01, max_delay_s=0.04)
    result = run_load(_plan(server.url, "/status/500", policy))
    assert result.attempts == 20
    assert result.errors == 5
    assert result.first_error == "HTTP 500 from keyed"
    for attempts in _by_action(server.requests("/status/500")).values():
        gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
        assert all(g < 0.04 + 0.05 for g in gaps), gaps


def test_statuses_outside_the_retry_set_are_not_retried(server: ServerProcess) -> None:
    result = run_load(_plan(server.url, "/status/404", RetryPolicy.immediate(3)))
    assert result.attempts == 5
    assert result.errors == 5
    assert result.rejected == 0


def test_the_request_cap_bounds_retries_too(server: ServerProcess) -> None:
    result = run_load(_plan(server.url, "/reject", RetryPolicy.immediate(3), max_requests=6))
    assert result.attempts == 6
    assert len(server.requests("/reject")) == 6
    assert result.stop_reason == "request cap"


def test_backoff_delays_are_full_jitter_within_the_ceiling() -> None:
    policy = RetryPolicy.backoff(5, base_delay_s=0.1, max_delay_s=0.5)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (5, 0.5)]:
        delays = [policy.delay_s(attempt, None, rng) for _ in range(500)]
        assert 0 <= min(delays) < 0.1 * ceiling
        assert 0.9 * ceiling < max(delays) <= ceiling
    assert policy.delay_s(1, 3.0, rng) < 0.1  # plain backoff ignores Retry-After
    honouring = RetryPolicy.backoff(2, honour_retry_after=True, retry_after_cap_s=1.0)
    assert honouring.delay_s(1, 0.3, rng) == 0.3
    assert honouring.delay_s(1, 30.0, rng) == 1.0
    assert RetryPolicy.immediate(2).delay_s(2, 5.0, rng) == 0.0


def test_should_retry() -> None:
    policy = RetryPolicy.immediate(2)
    assert policy.should_retry(1, 503)
    assert policy.should_retry(2, None)  # a timeout or a dropped connection
    assert not policy.should_retry(3, 503)  # out of retries
    assert not policy.should_retry(1, 400)
    assert not RetryPolicy.none().should_retry(1, 503)


@pytest.mark.parametrize(
    "kwargs",
    [{"kind": "sometimes"}, {"kind": "immediate", "retries": -1}, {"kind": "none", "retries": 2}],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(LoadPlanError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
