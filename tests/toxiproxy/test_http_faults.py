"""HTTP faults per request, as Domino applies them, on real servers over kept-alive connections.

The system is tests/toxiproxy/http: stdlib Python services that count what
they receive, one keeping connections alive (HTTP/1.1), one answering HTTP/1.0
and closing after each answer, and a gateway whose own client keeps its
connection alive. The callers here are http.client connections to an edge's
listener, reused from request to request the way a client's pool does.

On Domino's Toxiproxy server an HTTP fault draws its share per request (seeded:
the same sequence every time), acts only on the requests its method, path and
header name, and counts what it met: the fault's evidence. A stock server
refuses the HTTP kinds before anything is applied.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.backends import start_stack
from harness.errors import UnsupportedFaultError
from harness.experiment import run_incident
from harness.explore.cells import plan_cells
from harness.files.incident_file import parse_spec
from harness.library import find_topology
from harness.model.faults import HttpAbort, HttpBody, HttpDelay, HttpFault, HttpStatus, Latency
from harness.stack import Stack

pytestmark = pytest.mark.chaos

HTTP_SYSTEM = Path(__file__).resolve().parent / "http" / "domino.yaml"
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "domino.yaml"
#: Requests per share test, and how far the faulted fraction may be from the share:
#: about 3 standard deviations of a binomial draw of 200 at 0.3 (0.032).
CALLS = 200
TOLERANCE = 0.1


@pytest.fixture(scope="module")
def on_domino(domino_toxiproxy_bin: Path) -> Iterator[Stack]:
    """The HTTP faults system behind Domino's toxiproxy-server."""
    with start_stack(
        "local", topology=find_topology(HTTP_SYSTEM), toxiproxy_bin=domino_toxiproxy_bin
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def on_stock(stock_toxiproxy_bin: Path) -> Iterator[Stack]:
    """The same system behind upstream's toxiproxy-server 2.12.0."""
    with start_stack(
        "local", topology=find_topology(HTTP_SYSTEM), toxiproxy_bin=stock_toxiproxy_bin
    ) as stack:
        yield stack


class Caller:
    """A client of one edge over one connection it keeps alive while the server lets it.

    http.client opens a new connection only when the server closed the last one
    (HTTP/1.0, ``Connection: close``) or a call failed; :attr:`connections`
    counts them.
    """

    def __init__(self, stack: Stack, edge: str) -> None:
        host, port = stack.edges[edge].listen.rsplit(":", 1)
        self._conn = http.client.HTTPConnection(host, int(port), timeout=10)
        self._socks: list[object] = []

    @property
    def connections(self) -> int:
        return len(self._socks)

    def call(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """(status, headers, body); raises what http.client raises when the answer breaks."""
        try:
            self._conn.request(method, path, body=body, headers=headers or {})
            if self._conn.sock is not None and (
                not self._socks or self._socks[-1] is not self._conn.sock
            ):
                self._socks.append(self._conn.sock)
            answer = self._conn.getresponse()
            return answer.status, answer.msg, answer.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()


def _received(stack: Stack, service: str) -> int:
    """The requests ``service`` has received so far (its own count)."""
    return int(httpx.get(f"{stack.services[service]}/stats", timeout=5).json()["received"])


def _statuses(stack: Stack, fault: HttpFault, service: str) -> str:
    """CALLS requests through ``fault``'s edge; their answers as "." (200) and "F" (503)."""
    before = _received(stack, service)
    caller = Caller(stack, fault.edge)
    with stack.inject(fault) as (applied,):
        answers = [caller.call("/x") for _ in range(CALLS)]
    caller.close()
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {200, 503}
    # The rest are untouched: the target's own answers.
    assert all(json.loads(b) == {"from": service, "path": "/x"} for s, _, b in answers if s == 200)
    faulted = statuses.count(503)
    assert abs(faulted / CALLS - 0.3) <= TOLERANCE, f"{faulted} of {CALLS} answered 503"
    # Those answered by the fault never reached the target; the others all did.
    assert _received(stack, service) - before == CALLS - faulted
    assert stack.injector.own_traffic(applied) == (
        faulted,
        f"{fault.edge}: {faulted} of {CALLS} requests answered 503 without reaching the "
        f"target ({CALLS} matched, share 0.3 drawn per request)",
    )
    if service == "keepalive":
        assert caller.connections == 1  # one kept-alive connection carried every request
    else:  # HTTP/1.0 closes after each of its own answers; the fault's answers keep it open
        assert caller.connections == CALLS - faulted + (statuses[-1] == 503)
    assert stack.injector.leftovers() == []
    return "".join("F" if s == 503 else "." for s in statuses)


@pytest.mark.parametrize("service", ["keepalive", "closing"])
def test_a_seeded_share_answers_503_per_request_and_those_never_reach_the_target(
    on_domino: Stack, service: str
) -> None:
    fault = HttpStatus(edge=f"gateway->{service}", status=503, share=0.3, seed=7)
    first = _statuses(on_domino, fault, service)
    assert _statuses(on_domino, fault, service) == first  # the same draws, request by request
    other = _statuses(
        on_domino, HttpStatus(edge=fault.edge, status=503, share=0.3, seed=8), service
    )
    assert other != first


def test_on_the_go_shop_a_seeded_share_of_charges_answers_503_and_payments_never_sees_them(
    domino_toxiproxy_bin: Path,
) -> None:
    """Go's net/http server behind the edge; the caller keeps one connection alive."""
    with start_stack(
        "local", topology=find_topology(SHOP), toxiproxy_bin=domino_toxiproxy_bin
    ) as shop:

        def charged() -> int:
            url = f"{shop.services['payments']}/charges/count"
            return int(httpx.get(url, timeout=5).json()["count"])

        fault = HttpStatus(
            edge="checkout->payments", status=503, share=0.3, seed=11, method="POST", path="/charge"
        )
        before = charged()
        caller = Caller(shop, fault.edge)
        with shop.inject(fault) as (applied,):
            answers = [
                caller.call(
                    "/charge",
                    method="POST",
                    headers={"Content-Type": "application/json"},
                    body=json.dumps({"order_id": f"o-{i}", "amount_cents": 100}).encode(),
                )
                for i in range(CALLS)
            ]
            assert caller.call("/charges/count")[0] == 200  # not a POST: never faulted
        statuses = [status for status, _, _ in answers]
        faulted = statuses.count(503)
        assert set(statuses) <= {200, 503}
        # The rest are untouched: payments' own answers, each for the order it was sent.
        charges = [(i, json.loads(b)) for i, (s, _, b) in enumerate(answers) if s == 200]
        assert all(c["order_id"] == f"o-{i}" and c["status"] == "captured" for i, c in charges)
        assert abs(faulted / CALLS - 0.3) <= TOLERANCE, f"{faulted} of {CALLS} answered 503"
        assert charged() - before == CALLS - faulted
        assert caller.connections == 1
        own = shop.injector.own_traffic(applied)
        assert own == (
            faulted,
            f"checkout->payments: {faulted} of {CALLS + 1} requests answered 503 without "
            f"reaching the target ({CALLS} matched, share 0.3 drawn per request)",
        )


def test_method_path_and_header_choose_the_requests(on_domino: Stack) -> None:
    fault = HttpStatus(
        edge="gateway->keepalive",
        status=429,
        retry_after_s=1,
        method="POST",
        path="/pay/*/confirm",
        header="X-Journey: card*",
    )
    cases = [
        ("POST", "/pay/7/confirm", {"X-Journey": "card-tab"}, 429),
        ("POST", "/pay/7/confirm", {"X-Journey": "bank"}, 200),
        ("GET", "/pay/7/confirm", {"X-Journey": "card"}, 200),
        ("POST", "/pay/7/refund", {"X-Journey": "card"}, 200),
        ("POST", "/pay/7/confirm", {}, 200),
        ("POST", "/pay/7/confirm", {"X-Journey": "card", "Transfer-Encoding": "chunked"}, 429),
    ]
    before = _received(on_domino, "keepalive")
    caller = Caller(on_domino, fault.edge)
    with on_domino.inject(fault) as (applied,):
        for method, path, headers, want in cases:
            body = b"2\r\n{}\r\n0\r\n\r\n" if "Transfer-Encoding" in headers else b"{}"
            status, answer_headers, _ = caller.call(path, method=method, headers=headers, body=body)
            assert status == want, (method, path, headers)
            if want == 429:
                assert answer_headers["Retry-After"] == "1"
    assert caller.connections == 1
    assert _received(on_domino, "keepalive") - before == 4
    acted, why = on_domino.injector.own_traffic(applied) or (0, "")
    assert acted == 2
    assert why.startswith("gateway->keepalive: 2 of 6 requests answered 429")


@pytest.mark.parametrize("service", ["keepalive", "closing"])
def test_answers_of_every_framing_stay_in_order_around_the_faulted_ones(
    on_domino: Stack, service: str
) -> None:
    edge = f"gateway->{service}"
    caller = Caller(on_domino, edge)
    with on_domino.inject(HttpStatus(edge=edge, status=500, path="/fail")):
        for method, path, want, body in [
            ("GET", "/chunked", 200, {"from": service, "path": "/chunked"}),
            ("GET", "/fail", 500, {"error": "Internal Server Error"}),
            ("HEAD", "/plain", 200, None),
            ("GET", "/fail", 500, {"error": "Internal Server Error"}),
            ("POST", "/plain", 200, {"from": service, "path": "/plain"}),
            ("GET", "/fail/again", 500, {"error": "Internal Server Error"}),
        ]:
            status, _, data = caller.call(
                path, method=method, body=b"{}" if method == "POST" else None
            )
            assert status == want, path
            assert (json.loads(data) if body is not None else data) == (body or b"")


@pytest.mark.parametrize(("at", "reaches"), [("before", False), ("after", True)])
def test_abort_closes_the_connection_before_or_after_the_target_got_the_request(
    on_domino: Stack, at: str, reaches: bool
) -> None:
    fault = HttpAbort(edge="gateway->keepalive", at=at, path="/cut")  # type: ignore[arg-type]
    caller = Caller(on_domino, fault.edge)
    with on_domino.inject(fault) as (applied,):
        assert caller.call("/fine")[0] == 200
        before = _received(on_domino, "keepalive")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            caller.call("/cut")
        assert _received(on_domino, "keepalive") - before == (1 if reaches else 0)
        assert caller.call("/fine")[0] == 200  # a new connection; the fault stays
    own = on_domino.injector.own_traffic(applied)
    assert own is not None
    assert own[0] == 1
    assert "1 of 3 requests" in own[1]


def test_delay_holds_only_the_requests_it_names(on_domino: Stack) -> None:
    caller = Caller(on_domino, "gateway->keepalive")
    with on_domino.inject(HttpDelay(edge="gateway->keepalive", delay_ms=400, path="/slow")):
        for path, slow in [("/fast", False), ("/slow", True), ("/fast", False), ("/slow", True)]:
            started = time.monotonic()
            assert caller.call(path)[0] == 200
            took_s = time.monotonic() - started
            assert (took_s >= 0.4) == slow, (path, took_s)
    assert caller.connections == 1


@pytest.mark.parametrize("service", ["keepalive", "closing"])
def test_broken_bodies_reach_the_caller_broken(on_domino: Stack, service: str) -> None:
    edge = f"gateway->{service}"
    for path in ("/plain", "/chunked"):
        caller = Caller(on_domino, edge)
        with on_domino.inject(HttpBody(edge=edge, broken="truncate", path=path)):
            if service == "closing" and path == "/chunked":
                # A body that runs until the close has no length to fall short of:
                # the caller gets half of it, which does not parse.
                with pytest.raises(json.JSONDecodeError):
                    json.loads(caller.call(path)[2])
            else:
                with pytest.raises(http.client.IncompleteRead):
                    caller.call(path)
        with on_domino.inject(HttpBody(edge=edge, broken="malformed_json", path=path)):
            status, headers, data = caller.call(path)
            assert status == 200
            assert headers["Content-Type"] == "application/json"
            with pytest.raises(json.JSONDecodeError):
                json.loads(data)
        with on_domino.inject(HttpBody(edge=edge, broken="content_type", path=path)):
            status, headers, data = caller.call(path)
            assert headers["Content-Type"] == "text/html; charset=utf-8"
            assert data.startswith(b"<!DOCTYPE html>")
            # The next answer on the connection is whole.
            assert json.loads(caller.call("/whole")[2]) == {"from": service, "path": "/whole"}


def test_a_service_that_keeps_its_connection_alive_meets_the_share_per_request(
    on_domino: Stack,
) -> None:
    """The gateway calls keepalive over one connection it keeps alive: a per-connection
    draw would fail all of its calls or none; the per-request share fails some."""
    before = _received(on_domino, "keepalive")
    with on_domino.inject(HttpStatus(edge="gateway->keepalive", share=0.5, seed=3)) as (applied,):
        statuses = [
            httpx.get(f"{on_domino.entry_url}/work", timeout=10).status_code for _ in range(40)
        ]
    failed = statuses.count(502)
    assert 0 < failed < 40
    assert statuses.count(200) == 40 - failed
    assert _received(on_domino, "keepalive") - before == 40 - failed
    assert on_domino.injector.own_traffic(applied) == (
        failed,
        f"gateway->keepalive: {failed} of 40 requests answered 503 without reaching the "
        "target (40 matched, share 0.5 drawn per request)",
    )


def test_bytes_that_are_not_http_pass_untouched_and_say_so(on_domino: Stack) -> None:
    host, port = on_domino.edges["gateway->keepalive"].listen.rsplit(":", 1)
    with (
        on_domino.inject(HttpStatus(edge="gateway->keepalive")) as (applied,),
        socket.create_connection((host, int(port)), timeout=5) as conn,
    ):
        conn.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        answer = conn.recv(1024)  # the server's own error page, passed untouched
    assert b"Error code: 400" in answer
    acted, why = on_domino.injector.own_traffic(applied) or (-1, "")
    assert acted == 0
    assert "carried bytes that are not HTTP/1.x" in why
    assert "HTTP faults cannot act on this edge" in why


def test_two_faults_that_answer_take_an_edge_one_at_a_time(on_domino: Stack) -> None:
    edge = "gateway->keepalive"
    with (
        pytest.raises(UnsupportedFaultError, match="one at a time") as info,
        on_domino.inject(HttpStatus(edge=edge, path="/a"), HttpBody(edge=edge, path="/b")),
    ):
        pass
    assert "\n" not in str(info.value)
    assert on_domino.injector.leftovers() == []
    caller = Caller(on_domino, edge)
    with on_domino.inject(
        HttpStatus(edge=edge, path="/a"), HttpDelay(edge=edge, delay_ms=200, path="/b")
    ):
        assert caller.call("/a")[0] == 503
        started = time.monotonic()
        assert caller.call("/b")[0] == 200
        assert time.monotonic() - started >= 0.2
        assert caller.call("/a")[0] == 503
    assert on_domino.injector.leftovers() == []


def test_leftovers_list_both_toxics_of_a_fault_and_a_reset_clears_them(on_domino: Stack) -> None:
    applied = on_domino.injector.apply(HttpBody(edge="gateway->keepalive"))
    left = on_domino.injector.leftovers()
    assert sorted(left) == sorted(
        [
            f"toxic {applied.handle} (domino_http_body, upstream) on {applied.target}",
            f"toxic {applied.handle}_answers (domino_http_answers, downstream) on {applied.target}",
        ]
    )
    on_domino.injector.clear()
    assert on_domino.injector.leftovers() == []
    assert Caller(on_domino, "gateway->keepalive").call("/fine")[0] == 200


def test_stock_toxiproxy_cli_lists_and_removes_an_http_fault(
    on_domino: Stack, stock_toxiproxy_cli: Path
) -> None:
    applied = on_domino.injector.apply(HttpStatus(edge="gateway->keepalive", retry_after_s=1))
    api = on_domino.toxiproxy.api_url.removeprefix("http://")

    def cli(*args: str) -> str:
        return subprocess.run(
            [str(stock_toxiproxy_cli), "-h", api, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    listed = cli("inspect", applied.target)
    assert f"{applied.handle}\ttype=domino_http_status" in listed
    assert "headers=map[Retry-After:1]" in listed
    assert f"{applied.handle}_answers\ttype=domino_http_answers" in listed
    cli("toxic", "remove", "-n", applied.handle, applied.target)
    cli("toxic", "remove", "-n", f"{applied.handle}_answers", applied.target)
    assert on_domino.injector.leftovers() == []


SPEC = """
id: http-status-run
title: The kept-alive dependency answers 503
date: "2026-12-06"
sources: [tests/toxiproxy]
profiles: [default]
steady_state_s: 1
recovery_s: 1
client_timeout_s: 5
journeys:
  - {journey: work, users: 1, think_ms: 20}
timeline:
  - fault: http_status
    edge: "gateway->keepalive"
    status: 503
    headers: {Retry-After: 1}
    onset_s: 0
    hold_s: 1.5
expect:
  default:
    journeys: {work: failed}
    invariants: {no_fault_left: holds}
"""


def test_a_run_takes_the_requests_the_fault_answered_as_its_evidence(on_domino: Stack) -> None:
    spec = parse_spec(SPEC, source="http-status-run", topology=on_domino.topology)
    result = run_incident(on_domino, spec, "default")
    (window,) = result.faults
    assert window.touched, window
    assert "requests answered 503 without reaching the target" in window.evidence
    assert result.verdict.outcome == "pass", result.verdict.reasons


def test_on_a_stock_server_http_kinds_are_refused_before_anything_is_applied(
    on_stock: Stack,
) -> None:
    for kind in (HttpStatus, HttpAbort, HttpDelay, HttpBody):
        assert not on_stock.injector.supports(kind)
    assert "http_status" not in on_stock.injector.supported_kinds()
    with (
        pytest.raises(UnsupportedFaultError, match="run `domino toxiproxy install`") as info,
        on_stock.inject(
            Latency(edge="gateway->keepalive", latency_ms=10),
            HttpStatus(edge="gateway->keepalive"),
        ),
    ):
        pass
    assert "domino_http_status" in str(info.value)
    assert on_stock.injector.leftovers() == []  # the latency applied first was removed


HTTP_CELLS = ["status-500", "status-503", "status-429", "status-503-partial", "broken-body"]


def test_the_matrix_has_http_cells_on_every_edge_where_the_server_can_make_them(
    on_domino: Stack, on_stock: Stack
) -> None:
    cells = plan_cells(on_domino.topology, on_domino.injector, kinds=HTTP_CELLS)
    assert {(c.edge, c.kind) for c in cells} == {
        (edge, kind) for edge in on_domino.topology.edge_names for kind in HTTP_CELLS
    }
    assert all(c.edges == (c.edge,) for c in cells)  # on the edge itself, not its service
    partial = next(c for c in cells if c.kind == "status-503-partial")
    assert partial.fault == HttpStatus(edge=partial.edge, status=503, share=0.3)
    assert plan_cells(on_stock.topology, on_stock.injector, kinds=HTTP_CELLS) == []
