"""The open-loop property, falling behind, and latency from the intended send time."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.loadgen import (
    Constant,
    HttpClient,
    LoadPlan,
    LoadResult,
    Progress,
    RequestTemplate,
    run_load,
    run_load_async,
)
from tests.loadgen.conftest import ServerProcess

SLOW = (RequestTemplate("slow", "/slow"),)
FAST = (RequestTemplate("fast", "/fast"),)
RATE_TOLERANCE = 0.10  # achieved arrival rate within +-10 % of the schedule


async def _closed_loop_rate(url_port: int, users: int, duration_s: float) -> float:
    """What a closed-loop client (send, wait for the answer, repeat) achieves."""
    client = HttpClient("127.0.0.1", url_port)
    data = b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    done = 0
    end = asyncio.get_running_loop().time() + duration_s

    async def user() -> None:
        nonlocal done
        while asyncio.get_running_loop().time() < end:
            await client.request(data, 5.0)
            done += 1

    await asyncio.gather(*(user() for _ in range(users)))
    client.close()
    return done / duration_s


def test_arrivals_follow_the_schedule_while_the_server_is_slow(server: ServerProcess) -> None:
    seen: list[Progress] = []
    plan = LoadPlan(
        url=server.url,
        templates=SLOW,
        shape=Constant(rate_per_s=50, duration_s=3),
        arrivals="even",
        max_requests=1_000,
        max_duration_s=10,
    )
    result = run_load(plan, progress=seen.append)

    assert result.valid, result.invalid_reason
    assert result.stop_reason == "schedule"
    assert result.intended == 150
    assert result.actions == 150
    assert result.ok == 150
    assert result.achieved_rate_per_s == pytest.approx(50, rel=RATE_TOLERANCE)
    for second in result.series[:3]:
        assert second.sent == pytest.approx(50, rel=RATE_TOLERANCE), result.series
    # the server felt the schedule too: 150 requests spread over ~3 s, 50 per second
    times = sorted(s.at for s in server.requests("/slow"))
    assert len(times) == 150
    assert (len(times) - 1) / (times[-1] - times[0]) == pytest.approx(50, rel=RATE_TOLERANCE)
    # every answer took the server's 200 ms, measured from the intended send
    assert 200 <= result.latency.p50_ms < 300, result.latency
    assert result.lag.p99_ms < plan.lag_bound_p99_ms
    # about 10 in flight (50/s x 0.2 s): the engine did not wait for answers
    assert max(s.in_flight for s in result.series) >= 9
    # the live progress hook saw the offered and achieved rates
    assert len(seen) >= 2
    assert seen[1].offered_per_s == 50
    assert seen[1].achieved_per_s == pytest.approx(50, rel=RATE_TOLERANCE)

    # the same server, driven closed loop by 4 users: at most 4 / 0.2 s = 20/s
    closed_rate = asyncio.run(_closed_loop_rate(server.port, users=4, duration_s=1.0))
    assert closed_rate < 0.5 * 50


def test_poisson_arrivals_follow_the_schedule(server: ServerProcess) -> None:
    plan = LoadPlan(
        url=server.url,
        templates=SLOW,
        shape=Constant(rate_per_s=50, duration_s=1.5),
        arrivals="poisson",
        seed=11,
        max_requests=1_000,
        max_duration_s=10,
    )
    result = run_load(plan)
    assert result.valid, result.invalid_reason
    # every arrival the seeded process drew was sent, none dropped or late
    assert result.actions == result.intended == len(server.requests("/slow"))
    assert 50 <= result.intended <= 100  # 75 expected, Poisson-distributed


def test_a_run_that_fell_behind_is_invalid(server: ServerProcess) -> None:
    # 50/s x 200 ms needs ~10 in flight; a cap of 3 cannot keep the schedule
    plan = LoadPlan(
        url=server.url,
        templates=SLOW,
        shape=Constant(rate_per_s=50, duration_s=1),
        arrivals="even",
        max_in_flight=3,
        max_requests=1_000,
        max_duration_s=10,
    )
    result = run_load(plan)
    assert not result.valid
    assert result.dropped > 0
    assert "dropped" in result.invalid_reason
    assert "max in-flight cap (3)" in result.invalid_reason
    assert result.actions + result.dropped == result.intended == 50
    assert "INVALID" in result.summary()


def test_latency_counts_from_the_intended_send_time(server: ServerProcess) -> None:
    """A blocked event loop delays sends; the delay shows as latency and lag."""
    block_s = 0.3
    plan = LoadPlan(
        url=server.url,
        templates=FAST,
        shape=Constant(rate_per_s=50, duration_s=1.5),
        arrivals="even",
        max_requests=1_000,
        max_duration_s=10,
    )

    async def main() -> LoadResult:
        loop = asyncio.get_running_loop()
        # the schedule starts ~50 ms after run_load_async begins; block it at ~0.5 s
        loop.call_later(0.55, time.sleep, block_s)
        return await run_load_async(plan)

    result = asyncio.run(main())
    assert result.ok == 75
    # the server answers in about a millisecond, but the arrivals intended during
    # the block were sent up to 300 ms late: that wait is the users' latency
    assert result.lag.max_ms >= 0.8 * block_s * 1000
    assert result.latency.max_ms >= result.lag.max_ms
    assert result.latency.p99_ms >= 0.6 * block_s * 1000
    # and a generator that falls behind its schedule says so
    assert not result.valid
    assert "engine lag p99" in result.invalid_reason
    delayed = [s for s in result.series if s.lag_p99_ms >= 100]
    assert delayed, result.series
