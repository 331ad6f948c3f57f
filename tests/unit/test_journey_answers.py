"""Journeys judge the answer, not only its status (harness/journeys.py, ``expect_body``).

A real HTTP server from the standard library answers each path one way (an
empty 200, a body cut off before its Content-Length, an HTTP/1.0 answer
closed half-way through its JSON, a good order, ...); a journey client reads
it as a run does. A success whose body is not a good answer is a failure with
code BODY, its status kept, and its reason as the first link of its cause.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.http import HttpAdapter
from harness.files.topology_file import parse_topology
from harness.journeys import BODY_CODE, JourneyClient
from harness.model.outcomes import Observation
from harness.model.topology import Topology
from harness.systems.bank.adapter import BankAdapter

ORDER = {"order_id": "o-1", "qty": 1, "paid": True, "note": None, "items": [{"sku": "sku-1"}]}

#: path -> (status, headers, body, bytes actually sent before closing)
ANSWERS: dict[str, tuple[int, dict[str, str], bytes, int | None]] = {
    "/empty": (200, {}, b"", None),
    "/empty-json": (200, {"Content-Type": "application/json"}, b"", None),
    "/no-content": (204, {"Content-Type": "application/json"}, b"", None),
    "/order": (200, {"Content-Type": "application/json"}, json.dumps(ORDER).encode(), None),
    "/cut": (200, {"Content-Type": "application/json"}, json.dumps(ORDER).encode(), 20),
    "/text": (200, {"Content-Type": "text/plain"}, b"hello, world", None),
    "/problem": (200, {"Content-Type": "application/problem+json"}, b"<html>oops</html>", None),
    "/not-found": (404, {"Content-Type": "application/json"}, b"", None),
}
#: An HTTP/1.0 answer with no Content-Length, closed half-way through its JSON.
HALF_JSON = b'{"order_id": "o-1", "it'


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/half-json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(HALF_JSON)
            return  # HTTP/1.0 without a length: the body ends when the connection closes
        status, headers, body, sent = ANSWERS[self.path]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:sent] if sent is not None else body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def _topology(journeys: str) -> Topology:
    text = f"""
name: answers
services:
  web: {{url: "http://127.0.0.1:1"}}
edges:
  client->web: {{}}
journeys:
{journeys}
"""
    return parse_topology(text, source="domino.yaml", base_dir=Path.cwd())


def _run(server: str, path: str, expect_body: str = "", adapter: Any = None) -> Observation:
    extra = f"\n    expect_body: {expect_body}" if expect_body else ""
    topology = _topology(f"  j:\n    path: {path}\n    slo: {{p95_ms: 500}}{extra}")
    with JourneyClient(server, topology, adapter or HttpAdapter(), timeout_s=10) as client:
        return client.run(topology.journeys[0])


def _reason(seen: Observation) -> str:
    assert not seen.ok
    assert seen.code == BODY_CODE
    assert seen.cause[0]["service"] == "client"
    return str(seen.cause[0]["kind"]).removeprefix("body: ")


def test_a_200_with_an_empty_body_fails_a_journey_that_expects_a_json_field(server: str) -> None:
    seen = _run(server, "/empty", "{has: [order_id]}")
    assert seen.status == 200
    assert _reason(seen) == "empty body"


def test_the_same_empty_200_passes_a_journey_that_declares_nothing(server: str) -> None:
    seen = _run(server, "/empty")
    assert seen.ok
    assert seen.code is None


def test_by_default_an_empty_body_whose_content_type_says_json_fails(server: str) -> None:
    assert _reason(_run(server, "/empty-json")) == "empty body, though its Content-Type says JSON"
    assert _run(server, "/no-content").ok  # a 204 carries no body


def test_by_default_an_answer_cut_off_before_its_content_length_fails_with_its_status(
    server: str,
) -> None:
    seen = _run(server, "/cut")
    assert seen.status == 200
    length = len(json.dumps(ORDER))
    assert _reason(seen) == f"answer cut off before its end (Content-Length {length})"


def test_by_default_json_closed_half_way_by_an_http_1_0_server_fails(server: str) -> None:
    seen = _run(server, "/half-json")
    assert _reason(seen) == "body is not JSON, though its Content-Type says so"
    assert _reason(_run(server, "/problem")) == "body is not JSON, though its Content-Type says so"


@pytest.mark.parametrize(
    ("expect_body", "reason"),
    [
        ("{json: true}", None),
        ("{has: [order_id, items.0.sku]}", None),
        ("{has: [items.1.sku]}", "JSON field 'items.1.sku' missing"),
        ("{has: [note]}", "JSON field 'note' missing"),  # present but null
        ("{equals: {qty: 1, paid: true, items.0: {sku: sku-1}}}", None),
        ("{equals: {qty: 1.0}}", None),
        ("{equals: {paid: 1}}", "JSON field 'paid' is not 1"),
        ("{equals: {qty: true}}", "JSON field 'qty' is not true"),
        ("{equals: {order_id: o-2}}", "JSON field 'order_id' is not \"o-2\""),
        ("{equals: {order: x}}", "JSON field 'order' missing"),
        ("{contains: '\"paid\": true'}", None),
        ("{contains: [o-1, refund]}", 'body does not contain "refund"'),
        (f"{{min_bytes: {len(json.dumps(ORDER))}}}", None),
        (f"{{min_bytes: {len(json.dumps(ORDER)) + 1}}}", "body shorter than 87 bytes"),
    ],
)
def test_declared_checks_on_a_good_order(server: str, expect_body: str, reason: str) -> None:
    seen = _run(server, "/order", expect_body)
    if reason is None:
        assert seen.ok, seen.cause
    else:
        assert _reason(seen) == reason


def test_declared_checks_on_text(server: str) -> None:
    assert _run(server, "/text", "{contains: hello, min_bytes: 5}").ok
    assert _reason(_run(server, "/text", "{json: true}")) == "body is not JSON"


def test_a_status_the_journey_does_not_accept_keeps_the_adapters_code(server: str) -> None:
    seen = _run(server, "/not-found", "{has: [order_id]}")
    assert (seen.ok, seen.status, seen.code) == (False, 404, "HTTP404")


def test_every_adapter_gets_the_body_checks(server: str) -> None:
    seen = _run(server, "/empty-json", adapter=BankAdapter())
    assert _reason(seen) == "empty body, though its Content-Type says JSON"
    assert _run(server, "/order", "{has: [order_id]}", adapter=BankAdapter()).ok


def test_the_http_adapter_says_what_body_means() -> None:
    meaning = HttpAdapter().code_meaning(BODY_CODE)
    assert meaning is not None
    assert "body was not a good answer" in meaning
