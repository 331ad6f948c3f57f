"""Real Toxiproxy servers (Domino's build and the stock one) and real HTTP servers behind them.

Domino's server is the one ``domino toxiproxy install`` put in place when it
was built from these sources, else a fresh build into a temporary folder;
the stock server is upstream's ``cmd/server`` v2.12.0, built from the Go
module proxy. Both builds use the Go caches, so they take seconds after the
first. Each server and HTTP server is a context manager: nothing outlives its
test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.infra.processes import spawn
from harness.infra.readiness import wait_until
from harness.toxiproxy.abilities import TOXIPROXY_VERSION
from harness.toxiproxy.binary import (
    BINARY_NAME,
    install_dir,
    install_toxiproxy,
    installed_is_current,
)
from harness.toxiproxy.client import ToxiproxyClient

FALLBACK_SYSTEM = Path(__file__).resolve().parent / "fallback" / "domino.yaml"
_UPSTREAM = "github.com/Shopify/toxiproxy/v2"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        pytest.fail("these tests build Toxiproxy servers and need `go` on PATH (make setup does)")
    return go


@pytest.fixture(scope="session")
def domino_toxiproxy_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Domino's toxiproxy-server built from this checkout's sources."""
    if installed_is_current():
        return install_dir() / BINARY_NAME
    return install_toxiproxy(go=_go(), target_dir=tmp_path_factory.mktemp("domino-toxiproxy"))


@pytest.fixture(scope="session")
def stock_toxiproxy_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Upstream's toxiproxy-server v2.12.0, as `go install` builds it."""
    gobin = tmp_path_factory.mktemp("stock-toxiproxy")
    env = dict(os.environ, GOBIN=str(gobin), GOFLAGS="-mod=mod", CGO_ENABLED="0", GOWORK="off")
    subprocess.run(
        [
            _go(),
            "install",
            f"-ldflags=-X {_UPSTREAM}.Version={TOXIPROXY_VERSION}",
            f"{_UPSTREAM}/cmd/server@v{TOXIPROXY_VERSION}",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return gobin / "server"


@pytest.fixture(scope="session")
def stock_toxiproxy_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Upstream's toxiproxy-cli v2.12.0, as `go install` builds it."""
    gobin = tmp_path_factory.mktemp("stock-toxiproxy-cli")
    env = dict(os.environ, GOBIN=str(gobin), GOFLAGS="-mod=mod", CGO_ENABLED="0", GOWORK="off")
    subprocess.run(
        [_go(), "install", f"{_UPSTREAM}/cmd/cli@v{TOXIPROXY_VERSION}"],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return gobin / "cli"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_toxiproxy(binary: Path, log_dir: Path) -> Iterator[ToxiproxyClient]:
    """``binary`` serving its API on a free loopback port until the block ends."""
    port = _free_port()
    process = spawn(
        "toxiproxy",
        [str(binary), "-host", "127.0.0.1", "-port", str(port), "-proxy-metrics"],
        log_path=log_dir / f"toxiproxy-{port}.log",
    )
    try:
        client = ToxiproxyClient(f"http://127.0.0.1:{port}")
        wait_until(
            client.reachable,
            timeout_s=10,
            what=f"{binary} answering",
            abort=lambda: None if process.alive() else process.log_tail(),
        )
        yield client
    finally:
        process.stop()


@dataclass
class Upstream:
    """An HTTP server in this process: what it answered and how many connections it closed."""

    server: ThreadingHTTPServer
    answered: int = 0
    closed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)


@contextmanager
def http_server(*, keep_alive: bool) -> Iterator[Upstream]:
    """A server answering ``GET /`` with ``hello``: HTTP/1.0 that closes after each
    answer (Python's http.server as it ships), or HTTP/1.1 keeping the connection."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")
            self.wfile.flush()
            upstream.count("answered")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def shutdown_request(self, request: Any) -> None:
            super().shutdown_request(request)
            upstream.count("closed")

    upstream = Upstream(Server(("127.0.0.1", 0), Handler))
    thread = threading.Thread(target=upstream.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        upstream.server.shutdown()
        upstream.server.server_close()
        thread.join(timeout=5)
