"""A system whose fallback has a fallback's failure, for the matrix's pair cells:
stdlib-Python HTTP/1.0 services that close after each answer.

    python services.py gateway|pricing|spare|store

- **gateway** (the entry): ``/quote`` asks pricing (300 ms) and, only when that
  fails, spare (500 ms): a primary with a fallback. When both fail it answers 503.
- **spare** (``/price``) answers stale prices it reads from store (300 ms); when
  store fails it answers 503: the fallback depends on something of its own.
- **pricing** and **store** answer at once.

No single fault breaks ``/quote``: with pricing down spare answers, and spare and
store carry no traffic while pricing is up. Two faults do: pricing down with spare
failing, or pricing down with store failing (a fallback of a fallback).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _get(base: str, path: str, timeout_ms: float) -> Any:
    url = os.environ[base] + path
    with urllib.request.urlopen(url, timeout=timeout_ms / 1000) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())


def _quote() -> tuple[int, Any]:
    for base, timeout_ms in (("PRICING_URL", 300), ("SPARE_URL", 500)):
        try:
            return 200, _get(base, "/price", timeout_ms)
        except OSError:
            continue
    return 503, {"error": "no price"}


def _stale() -> tuple[int, Any]:
    try:
        return 200, {**_get("STORE_URL", "/price", 300), "stale": True}
    except OSError:
        return 503, {"error": "no stale price"}


_ROUTES: dict[str, dict[str, Any]] = {
    "gateway": {"/quote": _quote},
    "pricing": {"/price": lambda: (200, {"price": 42})},
    "spare": {"/price": _stale},
    "store": {"/price": lambda: (200, {"price": 40})},
}


def main() -> None:
    routes = _ROUTES[sys.argv[1]]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one answer per connection, then close

        def do_GET(self) -> None:
            if self.path == "/healthz":
                status, body = 200, {"ok": True}
            elif self.path in routes:
                status, body = routes[self.path]()
            else:
                status, body = 404, {"error": self.path}
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the caller stopped waiting first

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(
        (os.environ.get("BIND", "127.0.0.1"), int(os.environ["PORT"])), Handler
    )
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
