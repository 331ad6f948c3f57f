"""A hung Toxiproxy admin call, at the client seam: bounded, and the server recovered.

Toxiproxy's admin API can hang when a toxic is removed under traffic
(#88 ... #558; fixed only in v2.13.0). The stand-in here is a small HTTP
server speaking the part of the admin API the client uses, whose toxic
removal (or any call, on demand) never answers. Its "restart" is what the
local backend's is: a fresh server holding no proxies and no toxics.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.errors import ToxiproxyAPIError
from harness.toxiproxy.client import ToxicInfo, ToxiproxyClient

TIMEOUT_S = 0.3
LATENCY = ToxicInfo("slow", "latency", "downstream", 1.0, {"latency": 100, "jitter": 0})


class FakeToxiproxy:
    """The admin API's state, and which calls hang (``hang``: regexes of 'METHOD path')."""

    def __init__(self) -> None:
        self.proxies: dict[str, dict[str, Any]] = {}
        self.hang: list[str] = []
        self.calls: list[str] = []
        self.restarts = 0
        self.released = threading.Event()  # lets hung handlers end when the test does

    def restart(self) -> str:
        self.proxies.clear()
        self.hang.clear()
        self.restarts += 1
        return f"restarted the fake ({self.restarts})"


def _handler(fake: FakeToxiproxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method: str) -> None:
            call = f"{method} {self.path}"
            fake.calls.append(call)
            if any(re.fullmatch(pattern, call) for pattern in fake.hang):
                fake.released.wait(timeout=30)  # never answers while the test runs
                return
            length = int(self.headers.get("Content-Length") or 0)
            sent = json.loads(self.rfile.read(length)) if length else None
            self._answer(*_route(fake, method, self.path.strip("/").split("/"), sent))

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


def _route(  # noqa: PLR0911 - one return per route of the admin API, as Toxiproxy's router
    fake: FakeToxiproxy, method: str, parts: list[str], sent: Any
) -> tuple[int, Any]:
    if parts == ["version"]:
        return 200, {"version": "fake"}
    if (method, parts) == ("POST", ["reset"]):
        for proxy in fake.proxies.values():
            proxy.update(enabled=True, toxics=[])
        return 204, {}
    if parts == ["proxies"]:
        if method == "GET":
            return 200, fake.proxies
        fake.proxies[sent["name"]] = {**sent, "toxics": []}
        return 201, fake.proxies[sent["name"]]
    proxy = fake.proxies.get(parts[1]) if len(parts) > 1 else None
    if proxy is None:
        return 404, {"error": "proxy not found"}
    if len(parts) == 2:
        if method == "POST":
            proxy.update(sent)
        return 200, proxy
    if parts[2:] == ["toxics"]:
        if method == "POST":
            proxy["toxics"].append(sent)
            return 200, sent
        return 200, proxy["toxics"]
    proxy["toxics"] = [t for t in proxy["toxics"] if t["name"] != parts[3]]
    return 204, {}


@pytest.fixture
def fake() -> Iterator[tuple[FakeToxiproxy, str]]:
    state = FakeToxiproxy()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    state.released.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _client_with_proxies(url: str, fake: FakeToxiproxy, *, recover: bool) -> ToxiproxyClient:
    client = ToxiproxyClient(url, timeout_s=TIMEOUT_S)
    if recover:
        client.recover_with(fake.restart)
    client.create_proxy("front", "127.0.0.1:9001", "127.0.0.1:19001")
    client.create_proxy("back", "127.0.0.1:9002", "127.0.0.1:19002")
    client.add_toxic("back", LATENCY)
    return client


def test_a_hung_toxic_removal_restarts_the_server_and_makes_its_proxies_again(
    fake: tuple[FakeToxiproxy, str],
) -> None:
    state, url = fake
    client = _client_with_proxies(url, state, recover=True)
    state.hang.append(r"DELETE /proxies/back/toxics/slow")
    started = time.monotonic()
    client.remove_toxic("back", "slow")  # done: a restarted server holds no toxic
    assert time.monotonic() - started < TIMEOUT_S + 5
    assert state.restarts == 1
    # Every proxy is back as it was made (same listen address), enabled, with no toxics.
    assert sorted(client.proxies()) == ["back", "front"]
    assert {p.name: p.listen for p in client.proxies().values()} == {
        "front": "127.0.0.1:19001",
        "back": "127.0.0.1:19002",
    }
    assert all(p.enabled and not p.toxics for p in client.proxies().values())
    # And it says what it did.
    [line] = client.recoveries
    assert line.startswith(f"Toxiproxy DELETE {url}/proxies/back/toxics/slow got no answer within")
    assert "restarted the fake (1), with its 2 proxies made again, enabled, with no toxics" in line


def test_a_hung_call_that_wants_something_is_made_again_on_the_fresh_server(
    fake: tuple[FakeToxiproxy, str],
) -> None:
    state, url = fake
    client = _client_with_proxies(url, state, recover=True)
    state.hang.append(r"POST /proxies/front/toxics")
    held = client.add_toxic("front", LATENCY)
    assert held.name == "slow"
    assert state.restarts == 1
    assert [t.name for t in client.toxics("front")] == ["slow"]
    assert client.toxics("back") == []  # the toxic held before the hang is gone


def test_concurrent_hangs_restart_the_server_once(fake: tuple[FakeToxiproxy, str]) -> None:
    state, url = fake
    client = _client_with_proxies(url, state, recover=True)
    client.add_toxic("front", LATENCY)
    state.hang.append(r"DELETE /proxies/\w+/toxics/slow")
    threads = [
        threading.Thread(target=client.remove_toxic, args=(proxy, "slow"))
        for proxy in ("front", "back")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert state.restarts == 1
    assert len(client.recoveries) == 1


def test_without_a_way_to_restart_a_hang_is_a_bounded_error(
    fake: tuple[FakeToxiproxy, str],
) -> None:
    state, url = fake
    client = _client_with_proxies(url, state, recover=False)
    state.hang.append(r"DELETE .*")
    started = time.monotonic()
    with pytest.raises(ToxiproxyAPIError) as info:
        client.remove_toxic("back", "slow")
    assert time.monotonic() - started < TIMEOUT_S + 5
    message = str(info.value)
    assert "\n" not in message
    assert "got no answer within 0.3s" in message
    assert "this server is not one Domino can restart: restart it and its proxies" in message
    assert state.restarts == 0
    assert client.recoveries == []


def test_a_restart_that_fails_says_so(fake: tuple[FakeToxiproxy, str]) -> None:
    state, url = fake
    client = _client_with_proxies(url, state, recover=False)

    def broken_restart() -> str:
        raise ToxiproxyAPIError("the binary is gone")

    client.recover_with(broken_restart)
    state.hang.append(r"POST /reset")
    with pytest.raises(
        ToxiproxyAPIError, match=r"restarting the server failed: the binary is gone"
    ):
        client.reset()
    assert client.recoveries == []


def test_a_server_that_hangs_again_after_the_restart_is_an_error(
    fake: tuple[FakeToxiproxy, str],
) -> None:
    state, url = fake
    client = _client_with_proxies(url, state, recover=False)

    def restart_into_another_hang() -> str:
        state.restart()
        state.hang.append(r"GET /proxies")
        return "restarted into another hang"

    client.recover_with(restart_into_another_hang)
    state.hang.append(r"GET /proxies")
    with pytest.raises(ToxiproxyAPIError, match=r"again after restarting the server"):
        client.proxies()
