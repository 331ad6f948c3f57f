"""Domino's toxiproxy-server itself, through its admin API and raw sockets.

- Its version names Domino's build, and Domino reads its toxics from it.
- ``domino_hang`` holds a caller with no answer and no close until it is
  removed, against a server that closes after each answer (where stock
  ``timeout`` is a fast close) and against a keep-alive server.
- ``domino_refuse`` closes every connection that tries to send through it,
  forwards nothing, and counts the attempts among its attributes.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.infra.readiness import wait_until
from harness.toxiproxy.abilities import SERVER_VERSION, TOXIPROXY_VERSION, domino_toxics
from harness.toxiproxy.client import ToxicInfo, ToxiproxyClient
from tests.toxiproxy.conftest import Upstream, http_server, running_toxiproxy

#: How long a held caller must see neither a byte nor a close. Stock ``timeout`` closes
#: such a caller within milliseconds of the upstream closing, so a second is a wide margin.
HOLD_S = 1.0
REQUEST = b"GET / HTTP/1.1\r\nHost: upstream\r\n\r\n"


@pytest.fixture
def domino(domino_toxiproxy_bin: Path, tmp_path: Path) -> Iterator[ToxiproxyClient]:
    with running_toxiproxy(domino_toxiproxy_bin, tmp_path) as client:
        yield client


def _listen(client: ToxiproxyClient, upstream: Upstream) -> tuple[str, int]:
    proxy = client.create_proxy("edge", upstream.address)
    host, port = proxy.listen.rsplit(":", 1)
    return host, int(port)


def _held(conn: socket.socket, hold_s: float) -> bool:
    """True when nothing (no byte, no close) arrives on ``conn`` for ``hold_s``."""
    conn.settimeout(hold_s)
    try:
        conn.recv(1)
    except TimeoutError:
        return True
    return False


def _closed_within(conn: socket.socket, timeout_s: float) -> float:
    """Seconds until ``conn`` is closed by the other side (EOF or reset), with no data first."""
    started = time.monotonic()
    conn.settimeout(timeout_s)
    try:
        data = conn.recv(1024)
    except ConnectionResetError:
        data = b""
    assert data == b"", f"an answer came through: {data!r}"
    return time.monotonic() - started


def _answered(conn: socket.socket, timeout_s: float = 5) -> bool:
    """True once a whole answer (its body ``hello``) has arrived on ``conn``."""
    conn.settimeout(timeout_s)
    received = b""
    while not received.endswith(b"hello"):
        chunk = conn.recv(1024)
        if not chunk:
            return False
        received += chunk
    return True


def test_the_version_names_domino_build_and_its_toxics(
    domino_toxiproxy_bin: Path, domino: ToxiproxyClient
) -> None:
    printed = subprocess.run(
        [str(domino_toxiproxy_bin), "-version"], capture_output=True, text=True, check=True
    ).stdout
    assert printed.split()[-1] == SERVER_VERSION
    assert domino.version() == SERVER_VERSION
    assert domino_toxics(domino.version()) == {
        "domino_hang",
        "domino_refuse",
        "domino_http_status",
        "domino_http_abort",
        "domino_http_delay",
        "domino_http_body",
        "domino_http_answers",
    }
    # A server of the first build has only the first toxics: the HTTP kinds are refused there.
    assert domino_toxics("2.12.0+domino.1") == {"domino_hang", "domino_refuse"}
    assert domino_toxics(TOXIPROXY_VERSION) == frozenset()  # a stock server: none of them


def test_stock_timeout_closes_the_caller_as_soon_as_a_closing_server_answers(
    domino: ToxiproxyClient,
) -> None:
    """Why Domino has its own hang: the stock toxic (also in Domino's server) is a fast error."""
    with http_server(keep_alive=False) as upstream:
        host, port = _listen(domino, upstream)
        domino.add_toxic("edge", ToxicInfo("hang", "timeout", "downstream", 1.0, {"timeout": 0}))
        with socket.create_connection((host, port)) as conn:
            conn.sendall(REQUEST)
            assert _closed_within(conn, timeout_s=5) < HOLD_S
        assert upstream.answered == 1


def test_domino_hang_holds_the_caller_of_a_server_that_closes_after_each_answer(
    domino: ToxiproxyClient,
) -> None:
    with http_server(keep_alive=False) as upstream:
        host, port = _listen(domino, upstream)
        domino.add_toxic(
            "edge", ToxicInfo("hang", "domino_hang", "downstream", 1.0, {"timeout": 0})
        )
        with socket.create_connection((host, port)) as conn:
            conn.sendall(REQUEST)
            # The server has answered and closed its side; the caller must not know.
            wait_until(lambda: upstream.closed >= 1, timeout_s=5, what="the upstream closing")
            assert upstream.answered == 1
            assert _held(conn, HOLD_S)
            domino.remove_toxic("edge", "hang")
            _closed_within(conn, timeout_s=5)  # released when the fault ends


def test_domino_hang_holds_the_caller_of_a_keep_alive_server(domino: ToxiproxyClient) -> None:
    with http_server(keep_alive=True) as upstream:
        host, port = _listen(domino, upstream)
        with socket.create_connection((host, port)) as conn:
            conn.sendall(REQUEST)  # answered before the fault: the connection is kept
            assert _answered(conn)
            domino.add_toxic(
                "edge", ToxicInfo("hang", "domino_hang", "downstream", 1.0, {"timeout": 0})
            )
            conn.sendall(REQUEST)
            wait_until(lambda: upstream.answered >= 2, timeout_s=5, what="the second answer")
            assert upstream.closed == 0  # a keep-alive server: its side stays open
            assert _held(conn, HOLD_S)
            domino.remove_toxic("edge", "hang")
            _closed_within(conn, timeout_s=5)


def test_domino_hang_with_a_timeout_closes_after_it_even_when_the_server_closed_first(
    domino: ToxiproxyClient,
) -> None:
    timeout_ms = 800
    with http_server(keep_alive=False) as upstream:
        host, port = _listen(domino, upstream)
        domino.add_toxic(
            "edge", ToxicInfo("hang", "domino_hang", "downstream", 1.0, {"timeout": timeout_ms})
        )
        with socket.create_connection((host, port)) as conn:
            started = time.monotonic()
            conn.sendall(REQUEST)
            _closed_within(conn, timeout_s=5)
            took_s = time.monotonic() - started
        assert upstream.closed == 1
        assert timeout_ms / 1000 - 0.05 <= took_s < timeout_ms / 1000 + 1.0


def test_domino_refuse_closes_and_counts_each_connection_that_tries_to_cross(
    domino: ToxiproxyClient,
) -> None:
    with http_server(keep_alive=False) as upstream:
        host, port = _listen(domino, upstream)
        domino.add_toxic("edge", ToxicInfo("down", "domino_refuse", "upstream", 1.0))
        for _ in range(3):
            with socket.create_connection((host, port)) as conn:
                conn.sendall(REQUEST)
                _closed_within(conn, timeout_s=5)
        with socket.create_connection((host, port)):
            pass  # connected and left without sending: nothing tried to cross
        # Read back as any client reads a toxic: its attributes carry the count.
        shown = requests.get(f"{domino.api_url}/proxies/edge/toxics/down", timeout=5).json()
        assert shown["type"] == "domino_refuse"
        assert shown["attributes"] == {"attempts": 3}
        assert upstream.answered == 0  # no request reached the server
        domino.remove_toxic("edge", "down")
        with socket.create_connection((host, port)) as conn:
            conn.sendall(REQUEST)
            assert _answered(conn)  # the edge is back


def test_domino_refuse_cuts_a_kept_alive_connection_when_it_next_carries_a_request(
    domino: ToxiproxyClient,
) -> None:
    with http_server(keep_alive=True) as upstream:
        host, port = _listen(domino, upstream)
        with socket.create_connection((host, port)) as conn:
            conn.sendall(REQUEST)
            assert _answered(conn)
            domino.add_toxic("edge", ToxicInfo("down", "domino_refuse", "upstream", 1.0))
            assert domino.toxics("edge")[0].attributes == {"attempts": 0}  # idle: not counted
            conn.sendall(REQUEST)
            _closed_within(conn, timeout_s=5)
        assert domino.toxics("edge")[0].attributes == {"attempts": 1}
        assert upstream.answered == 1


def test_the_count_sent_when_adding_domino_refuse_is_ignored(domino: ToxiproxyClient) -> None:
    with http_server(keep_alive=False) as upstream:
        _listen(domino, upstream)
        raw = {"name": "down", "type": "domino_refuse", "stream": "upstream"}
        added = requests.post(
            f"{domino.api_url}/proxies/edge/toxics",
            json={**raw, "attributes": {"attempts": 41}},
            timeout=5,
        )
        assert added.ok, added.text
        assert domino.toxics("edge")[0].attributes == {"attempts": 0}
