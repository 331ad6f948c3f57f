"""The shop's matrix has HTTP cells on every edge, and finds a caller that gives up on an
answer it had a fallback for.

The shop's checkout remembers the last price catalog gave for each sku and charges it
when catalog fails. Its ``answers-fatal`` profile plants a bug
(``CATALOG_FALLBACK_ON=unreachable``): the cached price is used only when catalog
cannot be reached, so catalog *answering* 503 fails the checkout. ``down`` does not show
it (a refused connection still gets the fallback); an HTTP answer on
``checkout->catalog`` does, which Domino's toxiproxy-server gives per request on any
system. As shipped (``naive``), the same cell is contained by the cache.
"""

from __future__ import annotations

from pathlib import Path

from harness import find_topology, start_stack
from harness.explore.cells import plan_cells
from harness.explore.matrix import MatrixTimings, run_matrix
from harness.explore.report import render_heatmap
from harness.model.faults import HttpStatus
from tests.examples.conftest import SHOP_DIR

SHOP = SHOP_DIR / "domino.yaml"
HTTP_CELLS = ["status-500", "status-503", "status-429", "status-503-partial", "broken-body"]
#: Short phases keep a cell to 3 s; the steady state still prices sku-1 many times over,
#: so checkout's cache holds it before the fault.
TIMINGS = MatrixTimings(steady_s=0.8, hold_s=1.5, recovery_s=0.7)


def test_every_edge_of_the_shop_gets_every_http_cell(shop_binaries: Path) -> None:
    shop = find_topology(SHOP)
    with start_stack("local", topology=shop, profile="naive") as stack:
        assert stack.injector.supports(HttpStatus), "needs Domino's toxiproxy-server"
        cells = plan_cells(shop, stack.injector, kinds=HTTP_CELLS)
    assert {(c.edge, c.kind) for c in cells} == {
        (edge, kind) for edge in shop.edge_names for kind in HTTP_CELLS
    }
    assert len(shop.edge_names) == 5  # the client edge included


def test_a_caller_that_treats_any_non_200_as_fatal_is_found_and_attributed(
    shop_binaries: Path,
) -> None:
    shop = find_topology(SHOP)
    edges = ["checkout->catalog"]
    buggy = run_matrix(
        shop, profile="answers-fatal", edges=edges, kinds=["down", "status-503"], timings=TIMINGS
    )
    down, cell = buggy.cells
    assert down.kind == "down"
    assert down.outcome == "contained", render_heatmap(buggy)  # refused: the fallback runs
    assert cell.kind == "status-503"
    assert cell.outcome == "violation", render_heatmap(buggy)
    assert cell.violations == ["checkout"]  # checkout->catalog is only its soft dependency
    assert "requests answered 503 without reaching the target" in cell.evidence
    (why,) = cell.attributions
    assert why.faulted == "checkout->catalog|status-503"
    assert why.path == ("client->storefront", "storefront->checkout", "checkout->catalog")
    assert why.container == "checkout"  # the caller of the faulted edge
    assert why.describe().startswith(
        "checkout broke by checkout->catalog|status-503: path client->storefront -> "
        "storefront->checkout -> checkout->catalog (inferred); first place that should have "
        "contained it: checkout (calls catalog over checkout->catalog and passed the failure up"
    )
    browse = next(j for j in cell.journeys if j.journey == "browse")
    assert browse.verdict == "healthy"  # storefront->catalog is another edge
    assert buggy.outcome == "violation"

    # As shipped (observing skipped: the first run showed which edges checkout crosses).
    fixed = run_matrix(
        shop, profile="naive", edges=edges, kinds=["status-503"], timings=TIMINGS, observe=False
    )
    (cell,) = fixed.cells
    assert cell.outcome == "contained", render_heatmap(fixed)
    assert cell.touched
    assert "requests answered 503 without reaching the target" in cell.evidence
    assert {j.journey: j.verdict for j in cell.journeys} == {
        "browse": "healthy",
        "checkout": "healthy",  # the cached price: a 200 to the user
    }
