"""An edge declared ``protocol: tcp`` carries no HTTP: the HTTP kinds are refused there.

The system is tests/toxiproxy/keepalive with its ``front->stock`` edge declared
``tcp`` (as a database or a queue would be). Applying an HTTP fault on it is one
line naming the edge, before anything is applied; the TCP kinds still apply, and
the matrix plans no HTTP cell there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends import start_stack
from harness.errors import UnsupportedFaultError
from harness.explore.cells import plan_cells
from harness.files.topology_file import parse_topology
from harness.model.faults import HttpAbort, HttpDelay, HttpStatus, Latency
from harness.stack import Stack
from tests.toxiproxy.test_keepalive_system import KEEPALIVE_SYSTEM

pytestmark = pytest.mark.chaos

HTTP_CELLS = ["status-500", "status-503", "status-429", "status-503-partial", "broken-body"]


@pytest.fixture(scope="module")
def stack(domino_toxiproxy_bin: Path) -> Iterator[Stack]:
    text = KEEPALIVE_SYSTEM.read_text(encoding="utf-8")
    declared = '    env: {STOCK_URL: "http://{host}:{port}"}\n'
    assert declared in text
    topology = parse_topology(
        text.replace(declared, declared + "    protocol: tcp\n"),
        source="keepalive with a tcp edge",
        base_dir=KEEPALIVE_SYSTEM.parent,
    )
    assert topology.edge("front->stock").protocol == "tcp"
    with start_stack("local", topology=topology, toxiproxy_bin=domino_toxiproxy_bin) as running:
        yield running


def test_http_kinds_on_a_tcp_edge_are_refused_with_one_line_naming_it(stack: Stack) -> None:
    for fault in (
        HttpStatus(edge="front->stock", status=503),
        HttpAbort(edge="front->stock"),
        HttpDelay(edge="front->stock", delay_ms=10),
    ):
        with pytest.raises(UnsupportedFaultError) as info, stack.inject(fault):
            pass
        said = str(info.value)
        assert "\n" not in said
        assert said.startswith(
            f"{fault.kind} on front->stock: the edge is declared `protocol: tcp`"
        )
    assert stack.injector.leftovers() == []
    # The TCP kinds still apply there, and the HTTP kinds on the HTTP edge.
    with stack.inject(
        Latency(edge="front->stock", latency_ms=5), HttpDelay(edge="client->front", delay_ms=1)
    ):
        assert len(stack.injector.leftovers()) == 2
    assert stack.injector.leftovers() == []


def test_the_matrix_plans_no_http_cell_on_a_tcp_edge(stack: Stack) -> None:
    cells = plan_cells(stack.topology, stack.injector, kinds=[*HTTP_CELLS, "timeout"])
    assert {(c.edge, c.kind) for c in cells if c.edge == "front->stock"} == {
        ("front->stock", "timeout")
    }
    assert {c.kind for c in cells if c.edge == "client->front"} == {*HTTP_CELLS, "timeout"}
