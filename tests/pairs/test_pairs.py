"""The matrix explores two faults at once only where one edge is a fallback of the other, and
finds there what no single fault can (``tests/pairs``: stdlib Python services, real
Toxiproxy, local backend).

gateway asks pricing, and spare only when pricing fails; spare reads store. With pricing up,
spare and store carry no traffic, so their single cells are inconclusive; with pricing down,
spare answers, so no single cell breaks a quote. Pricing down with spare or store down does.
"""

from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness import find_topology
from harness.explore.matrix import MatrixResult, MatrixTimings, run_matrix
from harness.explore.observed_cache import GraphCache
from harness.explore.report import (
    judged_fallbacks,
    load_matrix,
    merge_matrices,
    pairs_headline,
    render_heatmap,
    render_junit,
    write_matrix_reports,
)
from tests.report.markup import parse

SYSTEM = find_topology(Path(__file__).resolve().parent / "domino.yaml")
#: Short phases: the services answer in milliseconds, and one user calls every 50 ms.
QUICK = MatrixTimings(steady_s=0.5, hold_s=1.0, recovery_s=0.5)
PRICING_DOWN = "gateway->pricing|down"
WITH_SPARE_DOWN = f"{PRICING_DOWN}+gateway->spare|down"
WITH_STORE_DOWN = f"{PRICING_DOWN}+spare->store|down"


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> GraphCache:
    """The module's matrices' observed graph, kept by the first (this module's own folder)."""
    return GraphCache(tmp_path_factory.mktemp("observed"))


@pytest.fixture(scope="module")
def matrix(observed: GraphCache) -> MatrixResult:
    return run_matrix(SYSTEM, kinds=["down"], timings=QUICK, observed_cache=observed)


def test_a_fallback_of_a_fallback_failure_is_found_by_a_pair_cell_and_by_no_single_cell(
    matrix: MatrixResult,
) -> None:
    singles = {c.id: c.outcome for c in matrix.singles}
    assert singles == {
        "client->gateway|down": "contained",  # every journey fails on its hard dependency
        PRICING_DOWN: "contained",  # spare answers
        "gateway->spare|down": "inconclusive",  # never crossed while pricing is up
        "spare->store|down": "inconclusive",
    }, render_heatmap(matrix)
    assert not any(c.violations for c in matrix.singles)
    pairs = {c.id: c for c in matrix.pairs}
    assert set(pairs) == {WITH_SPARE_DOWN, WITH_STORE_DOWN}, render_heatmap(matrix)
    for cell in pairs.values():
        assert cell.outcome == "violation", render_heatmap(matrix)
        assert cell.violations == ["quote"]  # every edge it crosses is a soft dependency
        assert cell.primary == "gateway->pricing"
        assert cell.touched  # both faults met traffic
    (why,) = pairs[WITH_STORE_DOWN].attributions
    assert why.path == ("client->gateway", "gateway->spare", "spare->store")
    assert why.container == "spare"  # spare passed store's failure up: the fallback's own
    assert "with gateway->pricing down" in why.detail
    (spare_why,) = pairs[WITH_SPARE_DOWN].attributions
    assert spare_why.container == "gateway"  # its primary and its declared fallback both failed
    assert "declared in domino.yaml: gateway->pricing: fallback gateway->spare" in spare_why.detail
    assert matrix.outcome == "violation"


def test_the_fallback_edges_inconclusive_alone_are_judged_in_the_pair_cells(
    matrix: MatrixResult, tmp_path: Path
) -> None:
    judged = {(single.id, pair.id, pair.outcome) for single, pair in judged_fallbacks(matrix)}
    assert judged == {
        ("gateway->spare|down", WITH_SPARE_DOWN, "violation"),
        ("spare->store|down", WITH_STORE_DOWN, "violation"),
    }
    # The single cells stay inconclusive, saying why, and every report says who judged them.
    spare = next(c for c in matrix.singles if c.id == "gateway->spare|down")
    assert "a fallback path?" in "; ".join(spare.reasons)
    terminal = render_heatmap(matrix)
    assert f"gateway->spare|down: violation in {WITH_SPARE_DOWN}" in terminal
    assert f"(judged in a pair: violation in {WITH_STORE_DOWN})" in terminal
    paths = write_matrix_reports(matrix, tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    assert "Fallbacks judged in pairs" in page
    assert f"judged <b>violation</b> in <code>{html.escape(WITH_STORE_DOWN)}</code>" in page
    rows = parse(page).find("table", "pairs").find_all("tr")[1:]
    marks = {row.find("th").text: [td.text for td in row.find_all("td")] for row in rows}
    assert marks == {WITH_SPARE_DOWN: ["violation", "X"], WITH_STORE_DOWN: ["violation", "X"]}
    assert pairs_headline(matrix) in parse(page).find("p", "pairs-rule").text
    cases = {c.get("name"): c for c in ET.fromstring(render_junit(matrix)).iter("testcase")}
    assert cases[WITH_STORE_DOWN].find("failure") is not None  # a test case of its own
    assert cases["spare->store|down"].find("error") is not None  # still inconclusive alone


def test_pairs_explored_are_counted_against_every_possible_pair_with_the_rule(
    matrix: MatrixResult,
) -> None:
    pairs = matrix.extra["pairs"]
    # Three edges but the client edge: 3 possible pairs; {spare, store} is no fallback pair.
    assert pairs["edges"] == ["gateway->pricing", "gateway->spare", "spare->store"]
    assert (pairs["explored"], pairs["possible"]) == (2, 3)
    headline = pairs_headline(matrix)
    assert headline.startswith("pairs explored: 2 of 3 possible: only {A, fallback-of-A}")
    assert headline in render_heatmap(matrix)
    why = {(p["primary"], p["fallback"]): p["why"] for p in pairs["pairs"]}
    assert why == {
        ("gateway->pricing", "gateway->spare"): "carried traffic while gateway->pricing was "
        "down; declared in domino.yaml",
        ("gateway->pricing", "spare->store"): "carried traffic while gateway->pricing was down",
    }
    # The evidence: what pricing's down cell saw newly crossed, against the observed baseline.
    pricing = next(c for c in matrix.singles if c.id == PRICING_DOWN)
    assert pricing.newly_crossed == ("gateway->spare", "spare->store")
    assert all(c.newly_crossed == () for c in matrix.singles if c.id != PRICING_DOWN)


def test_no_pairs_runs_the_single_cells_only_and_says_so() -> None:
    result = run_matrix(
        SYSTEM,
        edges=["gateway->pricing", "gateway->spare"],
        kinds=["down"],
        timings=QUICK,
        observe=False,
        pairs=False,
    )
    assert [c.id for c in result.cells] == [PRICING_DOWN, "gateway->spare|down"]
    assert pairs_headline(result) == "pairs: not explored (--no-pairs)"


def test_sharded_runs_explore_each_pair_once_and_merge_to_the_whole(
    matrix: MatrixResult, observed: GraphCache, tmp_path: Path
) -> None:
    # A pair goes to the shard of its primary's down cell: shards stay disjoint and add up.
    # The shards read the whole run's kept graph, and find the same fallbacks with it.
    with ThreadPoolExecutor(max_workers=2) as pool:  # isolated stacks: own ports and data
        parts = list(
            pool.map(
                lambda index: run_matrix(
                    SYSTEM, kinds=["down"], timings=QUICK, shard=(index, 2), observed_cache=observed
                ),
                (1, 2),
            )
        )
    assert matrix.extra["observed_source"]["source"] == "observed"
    folders = []
    for index, part in enumerate(parts, start=1):
        assert part.extra["observed_source"]["source"] == "cache"
        folders.append(tmp_path / f"shard-{index}")
        write_matrix_reports(part, folders[-1])
    merged = merge_matrices([load_matrix(f) for f in folders])
    assert {c.id: c.outcome for c in merged.cells} == {c.id: c.outcome for c in matrix.cells}
    assert (merged.extra["pairs"]["explored"], merged.extra["pairs"]["possible"]) == (2, 3)
    assert pairs_headline(merged) == pairs_headline(matrix)
