"""Timeout and Down as Domino applies them, on Domino's server and on a stock one.

The system is tests/toxiproxy/fallback: a gateway that asks its primary and,
only when that fails, a fallback; stdlib Python services that answer HTTP/1.0
and close after each answer (the servers on which stock ``timeout`` is no hang).

On Domino's server a ``Timeout`` holds the caller until the fault ends, and a
``Down`` counts the connections that tried to cross its edge (none on the
fallback edge while the primary answers: "never crossed"), which a run's fault
window takes as its evidence. On a stock server ``Down`` is a disabled proxy
judged by inference, and a fault that needs one of Domino's toxics is refused
before anything is applied.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from harness.backends import start_stack
from harness.errors import UnsupportedFaultError
from harness.experiment import run_incident
from harness.experiment.evidence import Counters, touched
from harness.files.incident_file import parse_spec
from harness.infra.readiness import wait_until
from harness.library import find_topology
from harness.model.faults import Down, Timeout, ToxicFault
from harness.stack import Stack
from tests.toxiproxy.conftest import FALLBACK_SYSTEM

pytestmark = pytest.mark.chaos

#: How long a held caller must see neither a byte nor a close (stock: milliseconds).
HOLD_S = 1.0
#: The gateway's deadline for one call to its primary (service.py's default GATEWAY_TIMEOUT_S).
GATEWAY_DEADLINE_S = 1.0
REQUEST = b"GET /work HTTP/1.1\r\nHost: primary\r\n\r\n"


@pytest.fixture(scope="module")
def on_domino(domino_toxiproxy_bin: Path) -> Iterator[Stack]:
    """The fallback system behind Domino's toxiproxy-server."""
    with start_stack(
        "local", topology=find_topology(FALLBACK_SYSTEM), toxiproxy_bin=domino_toxiproxy_bin
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def on_stock(stock_toxiproxy_bin: Path) -> Iterator[Stack]:
    """The fallback system behind upstream's toxiproxy-server 2.12.0."""
    with start_stack(
        "local", topology=find_topology(FALLBACK_SYSTEM), toxiproxy_bin=stock_toxiproxy_bin
    ) as stack:
        yield stack


def _received(stack: Stack, service: str) -> int:
    """The ``/work`` requests ``service`` has received so far (its own count)."""
    return int(httpx.get(f"{stack.services[service]}/stats", timeout=5).json()["received"])


def _work(stack: Stack, calls: int = 3) -> list[str]:
    """Who answered each of ``calls`` user calls through the gateway."""
    return [httpx.get(f"{stack.entry_url}/work", timeout=10).json()["from"] for _ in range(calls)]


def _listener(stack: Stack, edge: str) -> tuple[str, int]:
    host, port = stack.edges[edge].listen.rsplit(":", 1)
    return host, int(port)


def _held(conn: socket.socket, hold_s: float) -> bool:
    conn.settimeout(hold_s)
    try:
        conn.recv(1)
    except TimeoutError:
        return True
    return False


def test_domino_server_holds_a_caller_of_the_closing_primary_until_the_timeout_ends(
    on_domino: Stack,
) -> None:
    before = _received(on_domino, "primary")
    with socket.create_connection(_listener(on_domino, "gateway->primary")) as conn:
        with on_domino.inject(Timeout(edge="gateway->primary")) as (applied,):
            (toxic,) = on_domino.toxiproxy.toxics(applied.target)
            assert (toxic.name, toxic.type) == (applied.handle, "domino_hang")
            conn.sendall(REQUEST)
            # The primary answered and, being HTTP/1.0, closed its side of the connection.
            wait_until(lambda: _received(on_domino, "primary") > before, timeout_s=5)
            assert _held(conn, HOLD_S)
        conn.settimeout(5)
        assert conn.recv(1024) == b""  # released when the fault ended, with no answer
    assert on_domino.injector.leftovers() == []


@pytest.mark.parametrize(("server", "waits"), [("on_domino", True), ("on_stock", False)])
def test_a_hanging_primary_holds_the_gateway_for_its_own_deadline_only_on_domino_server(
    server: str, waits: bool, request: pytest.FixtureRequest
) -> None:
    stack: Stack = request.getfixturevalue(server)
    with stack.inject(Timeout(edge="gateway->primary")):
        started = time.monotonic()
        answered = _work(stack, calls=1)
        took_s = time.monotonic() - started
    assert answered == ["fallback"]
    if waits:  # the gateway's own timeout fired: the bug class a hang exists to find
        assert GATEWAY_DEADLINE_S <= took_s < GATEWAY_DEADLINE_S + 2
    else:  # stock `timeout` closed at once when the primary closed: a fast error
        assert took_s < GATEWAY_DEADLINE_S / 2


def test_down_on_an_edge_nobody_crossed_is_never_crossed_however_busy_its_caller(
    on_domino: Stack,
) -> None:
    before = Counters.read(on_domino)
    with on_domino.inject(Down(edge="gateway->fallback")) as (applied,):
        proxy = on_domino.toxiproxy.proxy(applied.target)
        assert proxy.enabled  # the proxy keeps listening, to count
        assert [t.type for t in proxy.toxics] == ["domino_refuse"]
        assert _work(on_domino) == ["primary"] * 3
    after = Counters.read(on_domino)
    own = on_domino.injector.own_traffic(applied)
    assert own is not None
    assert own[0] == 0
    assert "never crossed — a fallback path?" in own[1]
    fault = applied.fault
    assert touched(on_domino, fault, before, after, 3, own_traffic=own) == (False, own[1])
    # What inference alone said (a stock server): the gateway was busy, so "touched".
    inferred, why = touched(on_domino, fault, before, after, 3)
    assert inferred
    assert "inferred" in why


def test_down_on_the_primary_counts_each_call_that_tried_it_and_none_reaches_it(
    on_domino: Stack,
) -> None:
    before = _received(on_domino, "primary")
    with on_domino.inject(Down(edge="gateway->primary")) as (applied,):
        assert _work(on_domino) == ["fallback"] * 3
    assert _received(on_domino, "primary") == before
    assert on_domino.injector.own_traffic(applied) == (
        3,
        "gateway->primary: 3 connection(s) tried to cross it and were refused",
    )
    assert on_domino.injector.leftovers() == []
    assert _work(on_domino, calls=1) == ["primary"]  # the edge is back


SPEC = """
id: fallback-down
title: The fallback edge is down, then the primary edge
date: "2026-12-06"
sources: [tests/toxiproxy]
profiles: [default]
steady_state_s: 1
recovery_s: 1
client_timeout_s: 5
journeys:
  - {journey: work, users: 1, think_ms: 50}
timeline:
  - {fault: down, edge: "gateway->fallback", onset_s: 0, hold_s: 1.5}
  - {fault: down, edge: "gateway->primary", onset_s: 2, hold_s: 1.5}
expect:
  default:
    journeys: {work: healthy}
"""


def test_a_run_judges_each_down_window_by_the_attempts_on_its_own_edge(on_domino: Stack) -> None:
    spec = parse_spec(SPEC, source="fallback-down", topology=on_domino.topology)
    result = run_incident(on_domino, spec, "default")
    fallback, primary = result.faults
    assert not fallback.touched, fallback
    assert "never crossed — a fallback path?" in fallback.evidence
    assert primary.touched, primary
    assert "connection(s) tried to cross it and were refused" in primary.evidence


def test_on_a_stock_server_down_disables_the_proxy_and_is_judged_by_inference(
    on_stock: Stack,
) -> None:
    assert on_stock.injector.server_toxics == frozenset()
    before = Counters.read(on_stock)
    with on_stock.inject(Down(edge="gateway->fallback")) as (applied,):
        proxy = on_stock.toxiproxy.proxy(applied.target)
        assert not proxy.enabled
        assert proxy.toxics == ()
        assert _work(on_stock) == ["primary"] * 3
    assert on_stock.injector.own_traffic(applied) is None
    inferred, why = touched(on_stock, applied.fault, before, Counters.read(on_stock), 3)
    assert inferred
    assert "inferred" in why


@dataclass(frozen=True, slots=True, kw_only=True)
class _HangOnly(ToxicFault):
    """A kind only Domino's server can make (as Domino's HTTP kinds will be)."""

    kind: ClassVar[str] = "hang_only"
    domino_toxic_type: ClassVar[str] = "domino_hang"

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {"timeout": 0}


def test_a_kind_that_needs_a_domino_toxic_is_refused_on_stock_before_anything_is_applied(
    on_domino: Stack, on_stock: Stack
) -> None:
    assert on_domino.injector.supports(_HangOnly)
    assert not on_stock.injector.supports(_HangOnly)
    assert on_stock.injector.supports(Timeout)  # it has a stock form
    with (
        pytest.raises(UnsupportedFaultError, match="run `domino toxiproxy install`") as info,
        on_stock.inject(Timeout(edge="gateway->primary"), _HangOnly(edge="gateway->primary")),
    ):
        pass
    assert "domino_hang" in str(info.value)
    assert "\n" not in str(info.value)
    assert on_stock.injector.leftovers() == []  # the Timeout applied first was removed
    with on_stock.inject(Timeout(edge="gateway->primary")) as (applied,):
        assert [t.type for t in on_stock.toxiproxy.toxics(applied.target)] == ["timeout"]
