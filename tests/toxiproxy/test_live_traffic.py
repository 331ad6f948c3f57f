"""Every proxy of Domino's toxiproxy-server counts its traffic as it passes, with no fault.

A stock Toxiproxy adds a connection's bytes to its counters only when the
connection ends, so a client that keeps its connection alive shows nothing while
it talks. Domino's server counts each request, answer and byte as it crosses
(``GET /domino/traffic``), read here while the client's one connection is still
open; bytes that are not HTTP are counted as bytes and as unparsed. On a stock
server :meth:`ToxiproxyClient.traffic` falls back to the byte counters and says
that nothing else is counted.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.toxiproxy.client import ToxiproxyClient
from tests.toxiproxy.conftest import http_server, running_toxiproxy

REQUEST = b"GET / HTTP/1.1\r\nHost: upstream\r\n\r\n"
#: The start of a TLS hello: bytes an HTTP/1.x parser cannot follow.
NOT_HTTP = b"\x16\x03\x01 not http\r\n\r\n"


@pytest.fixture
def domino(domino_toxiproxy_bin: Path, tmp_path: Path) -> Iterator[ToxiproxyClient]:
    with running_toxiproxy(domino_toxiproxy_bin, tmp_path) as client:
        yield client


@pytest.fixture
def stock(stock_toxiproxy_bin: Path, tmp_path: Path) -> Iterator[ToxiproxyClient]:
    with running_toxiproxy(stock_toxiproxy_bin, tmp_path) as client:
        yield client


def test_kept_alive_requests_are_counted_while_the_connection_is_open(
    domino: ToxiproxyClient,
) -> None:
    assert domino.counts_live_traffic()
    with http_server(keep_alive=True) as upstream, requests.Session() as session:
        proxy = domino.create_proxy("edge", upstream.address)
        for sent in range(1, 6):
            answer = session.get(f"http://{proxy.listen}/", timeout=5)
            assert answer.text == "hello"
            counted = domino.traffic()["edge"]
            assert (counted.requests, counted.answers) == (sent, sent)
        assert upstream.closed == 0  # one connection, still open
        assert (counted.live, counted.connections, counted.unparsed) == (True, 1, 0)
        assert counted.bytes > 0
        assert domino.proxy_bytes()["edge"] == counted.bytes


def test_bytes_that_are_not_http_are_counted_as_bytes_and_unparsed(
    domino: ToxiproxyClient,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as target:
        proxy = domino.create_proxy("raw", f"127.0.0.1:{target.getsockname()[1]}")
        host, port = proxy.listen.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(NOT_HTTP)
            accepted, _ = target.accept()
            with accepted:
                assert accepted.recv(64).startswith(b"\x16\x03\x01")
                counted = domino.traffic()["raw"]
    assert (counted.requests, counted.unparsed, counted.bytes) == (0, 1, len(NOT_HTTP))


def test_counting_goes_on_through_a_reset(domino: ToxiproxyClient) -> None:
    with http_server(keep_alive=True) as upstream, requests.Session() as session:
        proxy = domino.create_proxy("edge", upstream.address)
        session.get(f"http://{proxy.listen}/", timeout=5)
        domino.reset()
        session.get(f"http://{proxy.listen}/", timeout=5)
        assert domino.traffic()["edge"].requests == 2
        assert domino.toxics("edge") == []  # the counter is no toxic the API lists


def test_a_stock_server_gives_bytes_only_once_a_connection_ends(stock: ToxiproxyClient) -> None:
    assert not stock.counts_live_traffic()
    with http_server(keep_alive=True) as upstream:
        proxy = stock.create_proxy("edge", upstream.address)
        host, port = proxy.listen.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(REQUEST)
            answer = b""
            while not answer.endswith(b"hello"):
                chunk = conn.recv(1024)
                assert chunk, f"the connection closed after {answer!r}"
                answer += chunk
            open_traffic = stock.traffic().get("edge")
    assert open_traffic is None or (open_traffic.bytes, open_traffic.requests) == (0, None)
