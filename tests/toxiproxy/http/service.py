"""One service of the HTTP faults test system: stdlib only.

    python service.py gateway|keepalive|closing      (PORT from the environment)

``keepalive`` answers HTTP/1.1 and keeps connections open; ``closing`` answers
HTTP/1.0 and closes after each answer. Both count every request they receive
(``GET /stats``: ``{"received": N}``) and answer any other path with
``{"from": ROLE, "path": PATH}``, reading a request's body first (Content-Length
or chunked); ``/chunked`` answers without a Content-Length (chunked on HTTP/1.1,
until the close on HTTP/1.0).

``gateway``: ``GET /work`` asks ``keepalive`` for ``/work`` over a connection
it keeps alive (one per server thread), and answers 200 with its body, or 502
when the answer is not a 200 with a JSON body.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROLE = sys.argv[1]


class _Count:
    """The requests received, across the server's threads."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


_received = _Count()
_local = threading.local()


def _ask(path: str) -> tuple[int, bytes]:
    """GET ``path`` from keepalive over this thread's kept-alive connection."""
    conn: http.client.HTTPConnection | None = getattr(_local, "conn", None)
    if conn is None:
        parts = urlsplit(os.environ["KEEPALIVE_URL"])
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        _local.conn = conn
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    except (OSError, http.client.HTTPException):
        conn.close()  # opened again on the next call
        raise


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0" if ROLE == "closing" else "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY the body waits for the
    # caller's delayed ACK (about 40 ms a request on a kept-alive connection).
    disable_nagle_algorithm = True

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                self.rfile.read(size + 2)
                if size == 0:
                    break
        else:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _chunked(self) -> None:
        data = json.dumps({"from": ROLE, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.protocol_version == "HTTP/1.1":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(data) // 2
            for part in (data[:half], data[half:], b""):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        else:
            self.end_headers()  # no length: the body ends when the server closes
            self.wfile.write(data)

    def _handle(self) -> None:
        if self.path == "/healthz":
            self._send(200, {"ok": True})
            return
        if self.path == "/stats":
            self._send(200, {"received": _received.value})
            return
        _received.add()
        self._read_body()
        if ROLE != "gateway":
            if self.path.startswith("/chunked"):
                self._chunked()
            else:
                self._send(200, {"from": ROLE, "path": self.path})
            return
        try:
            status, body = _ask("/work")
            self._send(200 if status == 200 else 502, json.loads(body) if status == 200 else {})
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._send(502, {"error": type(exc).__name__})

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.daemon_threads = True
    server.serve_forever()
