"""A system with three textbook defence mistakes, for ``domino defences``' own tests:
stdlib-Python HTTP/1.0 services that close after each answer.

    python services.py gateway|pricing|spare|profile|telemetry|ledger

- **gateway** (the entry):
  ``/quote`` asks pricing (``PRICING_TIMEOUT_MS``) and, only when that fails,
  spare's stale prices: a primary with a fallback.
  ``/profile`` asks profile (``PROFILE_TIMEOUT_MS``) and answers without it
  (``"profile": null``) when that fails.
  ``/pay`` asks ledger (``LEDGER_TIMEOUT_MS``) up to ``LEDGER_ATTEMPTS`` times,
  back to back, the same target each time; when every attempt failed it queues
  the payment at spare when ``LEDGER_FALLBACK=spare`` (202), else answers 503.
- **profile** (``/profile``) asks telemetry (``TELEMETRY_TIMEOUT_MS``) for a hint
  it can do without.
- **pricing**, **spare**, **telemetry** and **ledger** answer at once.

The mistakes (profile ``fragile``), and their fixes (profile ``fixed``), in ``domino.yaml``:
profile waits 1200 ms for telemetry while gateway gives profile only 400 ms (fixed: 150 ms);
gateway waits 400 ms for profile before answering without it, past the profile journey's
350 ms SLO (fixed: 250 ms); gateway tries ledger 3 times per payment, back to back (fixed:
once); a payment has no fallback when ledger fails (fixed: queued at spare).
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


def _ms(name: str, default: str) -> float:
    return float(os.environ.get(name, default))


def _quote() -> tuple[int, Any]:
    try:
        return 200, {
            "source": "pricing",
            **_get("PRICING_URL", "/price", _ms("PRICING_TIMEOUT_MS", "300")),
        }
    except OSError:
        pass
    try:
        return 200, {"source": "spare", **_get("SPARE_URL", "/price", 2000)}
    except OSError:
        return 503, {"error": "no price"}


def _profile() -> tuple[int, Any]:
    try:
        return 200, {"profile": _get("PROFILE_URL", "/profile", _ms("PROFILE_TIMEOUT_MS", "400"))}
    except OSError:
        return 200, {"profile": None}


def _pay() -> tuple[int, Any]:
    for _ in range(int(os.environ.get("LEDGER_ATTEMPTS", "1"))):
        try:
            return 200, _get("LEDGER_URL", "/pay", _ms("LEDGER_TIMEOUT_MS", "400"))
        except OSError:
            continue
    if os.environ.get("LEDGER_FALLBACK") == "spare":
        try:
            return 202, _get("SPARE_URL", "/queue", 2000)
        except OSError:
            pass
    return 503, {"error": "ledger unavailable"}


def _profile_service() -> tuple[int, Any]:
    try:
        hint = _get("TELEMETRY_URL", "/hint", _ms("TELEMETRY_TIMEOUT_MS", "150"))
    except OSError:
        hint = None
    return 200, {"name": "ada", "hint": hint}


_ROUTES: dict[str, dict[str, Any]] = {
    "gateway": {"/quote": _quote, "/profile": _profile, "/pay": _pay},
    "profile": {"/profile": _profile_service},
    "pricing": {"/price": lambda: (200, {"price": 42})},
    "spare": {"/price": lambda: (200, {"price": 40}), "/queue": lambda: (200, {"queued": True})},
    "telemetry": {"/hint": lambda: (200, {"hint": "tea"})},
    "ledger": {"/pay": lambda: (200, {"paid": True})},
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
                pass  # the caller stopped waiting first: that is what is measured

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(
        (os.environ.get("BIND", "127.0.0.1"), int(os.environ["PORT"])), Handler
    )
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
