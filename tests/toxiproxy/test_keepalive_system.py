"""A system whose clients keep their connections alive, judged cell by cell.

The system is tests/toxiproxy/keepalive: two Node.js services; front calls stock
with Node's built-in ``fetch``, which keeps its connections open, and with no
deadline (the planted hang). A stock Toxiproxy adds a connection's bytes to its
counters only when the connection ends, so there the edge shows no crossing
while the system runs. Domino's server counts each request as it crosses: the
observed dependencies see both edges crossed, every cell of the matrix is judged
on counted requests (none inconclusive), and a hang on the kept-alive edge is
found.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.backends import start_stack
from harness.explore.matrix import MatrixTimings, run_matrix
from harness.explore.observed import observe_dependencies
from harness.explore.report import render_heatmap
from harness.library import find_topology

pytestmark = pytest.mark.chaos

KEEPALIVE_SYSTEM = Path(__file__).resolve().parent / "keepalive" / "domino.yaml"
EDGES = ("client->front", "front->stock")


@pytest.fixture(autouse=True)
def _node() -> None:
    if shutil.which("node") is None:
        pytest.fail("this test system is Node.js: it needs `node` on PATH")


def test_every_cell_is_judged_on_counted_requests_and_the_hang_is_found(
    domino_toxiproxy_bin: Path,
) -> None:
    result = run_matrix(
        find_topology(KEEPALIVE_SYSTEM),
        edges=["front->stock"],
        kinds=["timeout", "status-503"],
        timings=MatrixTimings(steady_s=1.0, hold_s=1.5, recovery_s=1.0, client_timeout_s=5.0),
        prune=False,
        stack_options={"toxiproxy_bin": domino_toxiproxy_bin},
    )
    observed = result.extra["observed"]
    (order,) = observed["journeys"]
    # Both edges were seen crossed, request by request, over kept-alive connections.
    assert observed["agrees"], observed["mismatches"]
    assert all(order["requests_by_edge"][edge] >= order["calls"] for edge in EDGES), order
    cells = {c.id: c for c in result.cells}
    assert all(c.outcome != "inconclusive" for c in cells.values()), render_heatmap(result)
    assert all(c.touched for c in cells.values()), [c.evidence for c in cells.values()]
    hang = cells["front->stock|timeout"]
    # front waits for stock with no deadline: every order is held as long as the hang.
    assert hang.outcome == "failed-slow", render_heatmap(result)
    assert "requests" in hang.evidence, hang.evidence
    assert cells["front->stock|status-503"].outcome != "inconclusive"


def test_on_a_stock_server_the_kept_alive_edge_shows_no_crossing(
    stock_toxiproxy_bin: Path,
) -> None:
    """What the test above would see without Domino's counts: the system really keeps
    its connections alive, so this can fail."""
    with start_stack(
        "local", topology=find_topology(KEEPALIVE_SYSTEM), toxiproxy_bin=stock_toxiproxy_bin
    ) as stack:
        graph = observe_dependencies(stack, calls_per_journey=4, quiet_s=0.5)
    (order,) = graph.journeys
    assert "front->stock" in order.unused, graph.describe()
    assert order.requests_by_edge == {}
