"""The client and the engine's other features against the real test server."""

from __future__ import annotations

import socket
from collections import Counter

import pytest

from harness.loadgen import (
    Constant,
    LoadPlan,
    Progress,
    RequestContext,
    RequestTemplate,
    Sessions,
    run_load,
)
from harness.loadgen.engine import scheduled_arrivals, users_of_worker
from tests.loadgen.conftest import ServerProcess


def _plan(url: str, *templates: RequestTemplate, rate: float = 100, **kw: object) -> LoadPlan:
    return LoadPlan(
        url=url,
        templates=templates,
        shape=Constant(rate_per_s=rate, duration_s=kw.pop("duration_s", 0.2)),  # type: ignore[arg-type]
        arrivals="even",
        max_requests=10_000,
        max_duration_s=10,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("path", ["/chunked", "/eof", "/close-after", "/fast"])
@pytest.mark.parametrize("connection", ["keep-alive", "per-request"])
def test_answers_framed_every_way_are_read(
    server: ServerProcess, path: str, connection: str
) -> None:
    result = run_load(_plan(server.url, RequestTemplate("x", path), connection=connection))
    assert result.ok == 20, result.first_error
    assert result.errors == 0


def test_connection_per_request_opens_one_connection_per_request(server: ServerProcess) -> None:
    run_load(_plan(server.url, RequestTemplate("x", "/fast"), connection="per-request"))
    seen = server.requests("/fast")
    assert len(seen) == 20
    assert len({s.connection for s in seen}) == 20
    assert all(s.headers["connection"] == "close" for s in seen)


def test_keep_alive_reuses_connections(server: ServerProcess) -> None:
    run_load(_plan(server.url, RequestTemplate("x", "/fast")))
    seen = server.requests("/fast")
    assert len(seen) == 20
    assert len({s.connection for s in seen}) <= 3


def test_a_hanging_server_times_out(server: ServerProcess) -> None:
    result = run_load(_plan(server.url, RequestTemplate("x", "/hang"), rate=40, timeout_s=0.2))
    assert result.errors == result.timeouts == 8
    assert result.templates[0].timeouts == 8
    assert 200 <= result.latency.p50_ms < 300
    assert result.first_error.startswith("timeout")
    assert result.valid  # the engine kept its schedule; the server did not answer


def test_a_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_load(_plan(f"http://127.0.0.1:{port}", RequestTemplate("x", "/")))
    assert result.errors == 20
    assert result.timeouts == 0
    assert "cannot connect" in result.first_error


def test_statuses_are_classified_per_template(server: ServerProcess) -> None:
    result = run_load(
        _plan(
            server.url,
            RequestTemplate("ok", "/status/201", weight=1),
            RequestTemplate("shed", "/status/429", weight=1),
            RequestTemplate("teapot", "/status/418", weight=1, success_statuses=frozenset({418})),
            RequestTemplate("broken", "/status/500", weight=1),
            rate=400,
            duration_s=0.5,
        )
    )
    counts = {t.name: t for t in result.templates}
    assert counts["ok"].ok == counts["ok"].actions > 20
    assert counts["shed"].rejected == counts["shed"].actions > 20
    assert counts["teapot"].ok == counts["teapot"].actions > 20
    assert counts["broken"].errors == counts["broken"].actions > 20
    assert sum(t.actions for t in result.templates) == result.actions == 200


def test_the_mix_follows_the_weights_and_the_seed(server: ServerProcess) -> None:
    templates = (RequestTemplate("a", "/fast", weight=3), RequestTemplate("b", "/fast", weight=1))
    first = run_load(_plan(server.url, *templates, rate=800, duration_s=0.5, seed=5))
    again = run_load(_plan(server.url, *templates, rate=800, duration_s=0.5, seed=5))
    a, b = (t.actions for t in first.templates)
    assert a + b == 400
    assert 2.4 < a / b < 3.8
    assert [t.actions for t in again.templates] == [a, b]


def test_json_bodies_headers_and_sessions(server: ServerProcess) -> None:
    logins: list[int] = []

    def login(user: int) -> dict[str, str]:
        logins.append(user)
        return {"Authorization": f"Bearer user-{user}"}

    def fresh_key(ctx: RequestContext) -> dict[str, str]:
        return {"Idempotency-Key": f"k-{ctx.action_index}-{ctx.user}"}

    template = RequestTemplate(
        "deposit",
        "/fast",
        method="POST",
        headers=(("X-Client", "domino"),),
        json_body={"amount": 1},
        header_factory=fresh_key,
    )
    result = run_load(_plan(server.url, template, sessions=Sessions(3, login)))
    assert result.ok == 20
    assert logins == [0, 1, 2]  # once per user, before the schedule
    seen = server.requests("/fast")
    assert {s.body for s in seen} == {'{"amount":1}'}
    assert all(s.headers["content-type"] == "application/json" for s in seen)
    assert all(s.headers["x-client"] == "domino" for s in seen)
    users = Counter(s.headers["authorization"] for s in seen)
    assert users == {"Bearer user-0": 7, "Bearer user-1": 7, "Bearer user-2": 6}  # in turn
    assert len({s.headers["idempotency-key"] for s in seen}) == 20


def test_a_failing_header_hook_is_counted_not_fatal(server: ServerProcess) -> None:
    def broken(ctx: RequestContext) -> dict[str, str]:
        raise RuntimeError("no key today")

    result = run_load(_plan(server.url, RequestTemplate("x", "/fast", header_factory=broken)))
    assert result.errors == 20
    assert "no key today" in result.first_error
    assert server.requests("/fast") == []


@pytest.mark.parametrize("arrivals", ["even", "poisson"])
def test_two_workers_share_one_schedule(server: ServerProcess, arrivals: str) -> None:
    seen: list[Progress] = []

    def plan(workers: int) -> LoadPlan:
        return LoadPlan(
            url=server.url,
            templates=(RequestTemplate("a", "/fast", weight=2), RequestTemplate("b", "/fast")),
            shape=Constant(rate_per_s=300, duration_s=1.2),
            arrivals=arrivals,  # type: ignore[arg-type]
            seed=3,
            workers=workers,
            max_requests=10_000,
            max_duration_s=10,
        )

    # what one process would send: the whole seeded schedule and its mix
    picks = Counter(pick for _, _, pick in scheduled_arrivals(plan(1)))
    two = run_load(plan(2), progress=seen.append)
    assert two.workers == 2
    assert two.valid, two.invalid_reason
    assert two.intended == two.actions == picks.total()
    assert [t.actions for t in two.templates] == [picks[0], picks[1]]
    assert two.ok == two.actions
    assert two.latency.count == two.actions
    assert sum(s.sent for s in two.series) == two.actions
    assert seen  # the merged live line: one call per second both workers reported
    assert seen[0].offered_per_s == two.series[0].intended


def test_workers_resolve_only_the_users_they_meet() -> None:
    # arrival k goes to worker k % workers and is user k % users
    for users, workers in [(3, 2), (4, 2), (6, 4), (1, 3)]:
        for worker in range(workers):
            met = {k % users for k in range(worker, 10 * users * workers, workers)}
            assert set(users_of_worker(users, worker, workers)) == met
