"""A small foreign system for Domino's tests: stdlib-Python HTTP/1.0 services that close
the connection after each answer (as Python's and Flask's development servers do).

    python services.py gateway|primary|fallback

- **gateway** (``/quote``, ``/report``): ``/quote`` asks the primary with a
  ``PRIMARY_DEADLINE_S`` deadline and, only when that fails, the fallback;
  ``/report`` works ``REPORT_WORK_S`` seconds, then asks the primary for an
  extra it can do without, with no deadline of its own (the soft dependency
  whose latency cascades).
- **primary** (``/quote``, ``/extra``) and **fallback** (``/quote``) answer at once.

Every service answers ``/healthz``; addresses come from the environment
(``PORT``, ``BIND``, ``PRIMARY_URL``, ``FALLBACK_URL``), as ``domino.yaml`` sets them.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _get(url: str, timeout_s: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())


def _gateway(path: str) -> tuple[int, Any]:
    primary, fallback = os.environ["PRIMARY_URL"], os.environ["FALLBACK_URL"]
    if path == "/quote":
        try:
            deadline_s = float(os.environ.get("PRIMARY_DEADLINE_S", "0.5"))
            return 200, {"source": "primary", **_get(f"{primary}/quote", deadline_s)}
        except OSError:
            pass
        try:
            return 200, {"source": "fallback", **_get(f"{fallback}/quote", 2.0)}
        except OSError:
            return 503, {"error": "no quote"}
    if path == "/report":
        time.sleep(float(os.environ.get("REPORT_WORK_S", "1.2")))
        try:
            extra = _get(f"{primary}/extra", 60.0)
        except OSError:
            extra = None
        return 200, {"report": "done", "extra": extra}
    return 404, {"error": path}


_ROUTES = {
    "primary": {"/quote": {"price": 42}, "/extra": {"extra": "figures"}},
    "fallback": {"/quote": {"price": 40, "stale": True}},
}


def main() -> None:
    role = sys.argv[1]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one answer per connection, then close

        def do_GET(self) -> None:
            if self.path == "/healthz":
                status, body = 200, {"ok": True}
            elif role == "gateway":
                status, body = _gateway(self.path)
            elif self.path in _ROUTES[role]:
                status, body = 200, _ROUTES[role][self.path]
            else:
                status, body = 404, {"error": self.path}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(
        (os.environ.get("BIND", "127.0.0.1"), int(os.environ["PORT"])), Handler
    )
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
