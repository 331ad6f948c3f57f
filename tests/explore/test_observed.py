"""Observed dependencies, against real Toxiproxy: which edges each journey really crosses."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Stack, load_topology, start_stack
from harness.explore.observed import ObservedGraph, observe_dependencies

# Two stdlib services: front answers /local itself and /remote by asking back; a background
# poller asks back for /ping every 0.3 s, as real services' pollers do (traffic no journey causes).
TINY_SERVICE = """
import os, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BACK = os.environ.get("BACK_URL", "")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ask(path):
    with OPENER.open(BACK + path, timeout=5) as answer:
        return answer.read()


def poll():
    while True:
        time.sleep(0.3)
        try:
            ask("/ping")
        except OSError:
            pass


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/remote":
            body = b'{"via": "back", "data": ' + ask("/data") + b"}"
        else:
            body = ('{"role": "%s", "path": "%s"}' % (sys.argv[1], self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if BACK:
    threading.Thread(target=poll, daemon=True).start()
ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""

# Both journeys declare the wrong thing: local names back, which it never needs; remote
# does not name back, which it always asks.
TINY_TOPOLOGY = """
name: tiny
services:
  front:
    command: ["{python}", "{dir}/tiny.py", front]
    env: {HOST: "{bind_host}", PORT: "{port}"}
    ready: {http: /health, timeout_s: 20}
  back:
    command: ["{python}", "{dir}/tiny.py", back]
    env: {HOST: "{bind_host}", PORT: "{port}"}
    ready: {http: /health, timeout_s: 20}
edges:
  client->front: {}
  front->back:
    env: {BACK_URL: "http://{host}:{port}"}
journeys:
  local:
    path: /local
    slo: {p95_ms: 500}
    hard: [client->front, front->back]
  remote:
    path: /remote
    slo: {p95_ms: 500}
    hard: [client->front]
"""


@pytest.fixture(scope="module")
def bank() -> Iterator[Stack]:
    with start_stack("local", profile="hardened") as stack:
        yield stack


def _json_round_trip(graph: ObservedGraph) -> None:
    data = json.loads(json.dumps(graph.as_dict()))
    assert [j["journey"] for j in data["journeys"]] == [j.journey for j in graph.journeys]


def test_bank_journeys_cross_exactly_the_edges_they_use(bank: Stack) -> None:
    graph = observe_dependencies(bank)

    balance = graph.journey("balance")
    assert balance.crossed == ("client->bank",), graph.describe()
    assert balance.ok_calls == balance.calls == 8
    card_tab = graph.journey("card-tab")
    assert {"client->bank", "bank->card", "card->pay"} <= set(card_tab.crossed), graph.describe()
    assert "bank->remit" not in card_tab.crossed  # the outbox's polls are background
    assert card_tab.crossed_bytes()["card->pay"] > card_tab.allowance_bytes["card->pay"]
    assert graph.journeys_crossing("card->pay")[:1] == ("card-tab",)
    assert "bank->remit" in graph.journey("remittance").crossed
    # Hardened login does not fetch card data (login_fetches_card=false): its declared
    # soft dependencies on card and pay go unused, and are reported as such.
    assert graph.journey("login").unused == ("bank->card", "card->pay")
    assert graph.journey("login").undeclared == ()
    assert "login: declares card->pay but did not cross it in 8 calls" in graph.describe()
    _json_round_trip(graph)


def test_a_journey_whose_declared_dependencies_are_wrong_is_reported(bank: Stack) -> None:
    topology = bank.topology
    wrong = dataclasses.replace(
        topology,
        journeys=tuple(
            dataclasses.replace(j, soft_deps=("bank->remit",))
            if j.name == "balance"
            else dataclasses.replace(j, hard_deps=(), soft_deps=())
            if j.name == "card-tab"
            else j
            for j in topology.journeys
        ),
    )
    # The same running services, judged against the wrong declarations.
    graph = observe_dependencies(dataclasses.replace(bank, topology=wrong), calls_per_journey=6)

    card_tab = graph.journey("card-tab")
    assert card_tab.declared == ("client->bank",)  # the client edge is always declared
    assert "bank->card" in card_tab.undeclared
    assert set(card_tab.undeclared) == {"bank->card", "bank->pay", "card->pay"}
    balance = graph.journey("balance")
    assert balance.unused == ("bank->remit",)
    assert balance.undeclared == ()
    assert not graph.agrees
    assert "balance: declares bank->remit but did not cross it in 6 calls" in graph.mismatches
    text = graph.describe()
    assert "card-tab: crosses bank->card (" in text
    assert "but does not declare it" in text


def test_a_small_system_with_a_poller_is_observed_from_its_topology_alone(
    tmp_path: Path,
) -> None:
    (tmp_path / "tiny.py").write_text(TINY_SERVICE, encoding="utf-8")
    (tmp_path / "domino.yaml").write_text(TINY_TOPOLOGY, encoding="utf-8")
    with start_stack("local", topology=load_topology(tmp_path / "domino.yaml")) as stack:
        graph = observe_dependencies(stack)

    assert graph.background.rate_bytes_per_s["front->back"] > 0, graph.describe()
    local = graph.journey("local")
    assert local.crossed == ("client->front",), graph.describe()  # the poller is not local's
    assert local.unused == ("front->back",)
    remote = graph.journey("remote")
    assert remote.crossed == ("client->front", "front->back")
    assert remote.undeclared == ("front->back",)
    assert remote.ok_calls == 8
    assert len(graph.mismatches) == 2
    _json_round_trip(graph)
