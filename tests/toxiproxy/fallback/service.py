"""One service of the fallback test system: stdlib only, HTTP/1.0 (closes after each answer).

    python service.py gateway|primary|fallback      (PORT from the environment)

``GET /work``: primary and fallback answer ``{"from": ROLE}``; the gateway asks
the primary (``PRIMARY_URL``) within ``GATEWAY_TIMEOUT_S`` and, only when that
fails, the fallback (``FALLBACK_URL``). ``GET /stats`` says how many ``/work``
requests the service received. ``GET /healthz`` answers 200.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = sys.argv[1]


class _Count:
    """The ``/work`` requests received, across the server's threads."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


_received = _Count()


def _ask(base_url: str) -> dict[str, object]:
    timeout_s = float(os.environ.get("GATEWAY_TIMEOUT_S", "1.0"))
    with urllib.request.urlopen(base_url + "/work", timeout=timeout_s) as answer:  # noqa: S310
        return dict(json.load(answer))


class Handler(BaseHTTPRequestHandler):
    # BaseHTTPRequestHandler answers HTTP/1.0 and closes the connection after each answer.

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, {"ok": True})
        elif self.path == "/stats":
            self._send(200, {"received": _received.value})
        elif self.path == "/work":
            _received.add()
            if ROLE != "gateway":
                self._send(200, {"from": ROLE})
                return
            try:
                self._send(200, _ask(os.environ["PRIMARY_URL"]))
            except OSError:
                try:
                    self._send(200, _ask(os.environ["FALLBACK_URL"]))
                except OSError as exc:
                    self._send(502, {"error": type(exc).__name__})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.daemon_threads = True
    server.serve_forever()
