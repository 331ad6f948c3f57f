"""Before its start the engine opens the kept-alive connections its first milliseconds
need, and keeps the collector from walking what existed before the run."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time

import pytest

from harness.loadgen import Constant, LoadPlan, RequestTemplate, Spike
from harness.loadgen.client import HttpClient
from harness.loadgen.engine import MAX_WARM_CONNECTIONS, run_worker, warm_connections
from harness.loadgen.loop import old_objects_frozen
from tests.loadgen.conftest import ServerProcess

GET = b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"


def _plan(shape: Constant | Spike, **kw: object) -> LoadPlan:
    return LoadPlan(
        url="http://127.0.0.1:9",
        templates=(RequestTemplate("x", "/"),),
        shape=shape,
        max_requests=10,
        max_duration_s=10,
        **kw,  # type: ignore[arg-type]
    )


def test_a_worker_opens_two_milliseconds_of_its_peak_rate_plus_one() -> None:
    assert warm_connections(_plan(Constant(10_000, 1)), 1, 1000) == 21
    assert warm_connections(_plan(Constant(10_000, 1)), 2, 500) == 11
    assert warm_connections(_plan(Constant(100, 1)), 1, 1000) == 2
    spike = Spike(100, 5_000, duration_s=3, spike_start_s=1, spike_duration_s=1)
    assert warm_connections(_plan(spike), 1, 1000) == 11  # the spike's rate, not the base


def test_the_warm_up_is_bounded() -> None:
    assert warm_connections(_plan(Constant(10**6, 1)), 1, 1000) == MAX_WARM_CONNECTIONS
    assert warm_connections(_plan(Constant(10_000, 1)), 1, 5) == 5  # the in-flight cap


# A slow start (one request every 20 ms, so without a warm-up one connection would do)
# and a later spike whose rate asks for 21 connections ahead; three requests in all.
_SLOW_THEN_SPIKE = Spike(50, 10_000, duration_s=1, spike_start_s=0.5, spike_duration_s=0.1)


def _run_three(url: str, connection: str) -> LoadPlan:
    plan = LoadPlan(
        url=url,
        templates=(RequestTemplate("x", "/fast"),),
        shape=_SLOW_THEN_SPIKE,
        arrivals="even",
        max_requests=3,
        max_duration_s=10,
        connection=connection,  # type: ignore[arg-type]
    )
    # a start 0.5 s ahead: time enough to open every warm connection on a busy machine
    raw = asyncio.run(run_worker(plan, start_at=time.monotonic() + 0.5))
    assert raw.stop_reason == "request cap"
    return plan


def test_a_worker_opens_its_warm_connections_before_its_first_request(
    server: ServerProcess,
) -> None:
    plan = _run_three(server.url, "keep-alive")
    warm = warm_connections(plan, 1, plan.max_in_flight)
    assert warm == 21
    accepted = server.accepted()
    seen = server.requests("/fast")
    assert len(seen) == 3
    first_request_at = min(s.at for s in seen)
    assert [at < first_request_at for _, at in accepted] == [True] * warm
    assert {s.connection for s in seen} <= {connection for connection, _ in accepted}


def test_a_worker_with_a_connection_per_request_opens_none_ahead(
    server: ServerProcess,
) -> None:
    _run_three(server.url, "per-request")
    accepted = server.accepted()
    seen = server.requests("/fast")
    assert len(seen) == 3
    assert sorted(connection for connection, _ in accepted) == sorted(s.connection for s in seen)


def test_the_first_requests_use_the_connections_opened_before_them(
    server: ServerProcess,
) -> None:
    async def scenario() -> tuple[int, int]:
        client = HttpClient("127.0.0.1", server.port)
        try:
            opened = await client.open_idle(3, within_s=2.0)
            answers = await asyncio.gather(*(client.request(GET, 2.0) for _ in range(3)))
            assert [a.status for a in answers] == [200] * 3
            return opened, client.connections_opened
        finally:
            client.close()

    opened, connections_opened = asyncio.run(scenario())
    assert opened == connections_opened == 3  # no request had to open one
    assert len({seen.connection for seen in server.requests("/fast")}) == 3


def test_a_warm_up_that_cannot_connect_opens_nothing_and_leaves_the_error_to_requests() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> int:
        client = HttpClient("127.0.0.1", port)
        try:
            return await client.open_idle(4, within_s=1.0)
        finally:
            client.close()

    assert asyncio.run(scenario()) == 0


def test_a_client_with_a_connection_per_request_opens_none_ahead() -> None:
    async def scenario() -> int:
        client = HttpClient("127.0.0.1", 9, keep_alive=False)
        return await client.open_idle(4, within_s=1.0)

    assert asyncio.run(scenario()) == 0


def test_what_existed_before_a_run_is_kept_from_the_collector_only_during_it() -> None:
    before = gc.get_freeze_count()
    kept = [object() for _ in range(10)]
    with old_objects_frozen():
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == before
    with pytest.raises(RuntimeError), old_objects_frozen():
        raise RuntimeError("a run that fails still hands them back")
    assert gc.get_freeze_count() == before


def test_overlapping_runs_keep_the_objects_frozen_until_the_last_one_ends() -> None:
    assert gc.get_freeze_count() == 0, "this test needs a process nothing else froze"
    entered, leave = threading.Event(), threading.Event()

    def other_run() -> None:
        with old_objects_frozen():
            entered.set()
            assert leave.wait(10)

    other = threading.Thread(target=other_run)
    other.start()
    try:
        assert entered.wait(10)
        assert gc.get_freeze_count() > 0
        with old_objects_frozen():  # starts after the other, ends after it
            with old_objects_frozen():  # nested in this one
                pass
            assert gc.get_freeze_count() > 0
            leave.set()
            other.join(10)
            assert not other.is_alive()
            assert gc.get_freeze_count() > 0  # the other ended: this one still runs
        assert gc.get_freeze_count() == 0
    finally:
        leave.set()
        other.join(10)


def test_a_freeze_made_before_a_run_is_not_thawed_by_it() -> None:
    assert gc.get_freeze_count() == 0, "this test needs a process nothing else froze"
    gc.freeze()  # as a service's startup does
    try:
        with old_objects_frozen():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
