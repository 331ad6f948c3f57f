"""The blast-radius matrix finds cascades by itself, judges every journey by its contract, and
its shards add up to the whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import UsageError, find_topology, start_stack
from harness.explore.cells import CELL_KINDS, plan_cells, select_shard
from harness.explore.matrix import MatrixResult, caller_deadlines_ms, run_matrix
from harness.explore.observed_cache import GraphCache
from harness.explore.report import (
    load_matrix,
    merge_matrices,
    render_heatmap,
    render_junit,
    write_matrix_reports,
)

BANK = find_topology("bank")
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "domino.yaml"


def _violations(result: MatrixResult) -> set[tuple[str, str]]:
    return {(c.id, j) for c in result.cells for j in c.violations}


def test_fragile_bank_the_kbpay_cascade_is_found_and_attributed_with_its_path() -> None:
    result = run_matrix(BANK, profile="fragile", edges=["card->pay"], kinds=["timeout"])
    (cell,) = result.cells
    assert cell.outcome == "violation", cell
    assert cell.touched
    assert "login" in cell.violations  # login pulls card data on its critical path
    login = next(a for a in cell.attributions if a.journey == "login")
    assert login.path[0] == "client->bank"
    assert login.path[-1] == "card->pay"
    assert login.container == "card"  # card calls pay with a 5 s timeout and no breaker
    assert "dependency_timeout_s=5.0" in login.detail
    # card-tab fails too, but card->pay is only its soft dependency: also a violation.
    assert "card-tab" in cell.violations
    balance = next(j for j in cell.journeys if j.journey == "balance")
    assert balance.verdict == "healthy"
    assert not balance.violation
    assert result.outcome == "violation"


def test_hardened_bank_contains_faults_on_card_and_pay_and_pruning_agrees_with_a_full_run() -> None:
    edges, kinds = ["bank->card", "card->pay"], ["timeout", "down"]
    # The pruned run and the full one (on two workers) side by side: isolated stacks.
    with ThreadPoolExecutor(max_workers=2) as pool:
        pruning = pool.submit(run_matrix, BANK, profile="hardened", edges=edges, kinds=kinds)
        full = run_matrix(
            BANK, profile="hardened", edges=edges, kinds=kinds, prune=False, workers=2
        )
        pruned = pruning.result()
    for result in (pruned, full):
        assert result.outcome == "contained", render_heatmap(result)
        assert _violations(result) == set()
    # card is reached only through bank->card, where every fault was contained.
    assert pruned.counts()["pruned"] == 2
    assert {c.id for c in pruned.cells if c.outcome == "pruned"} == {
        "card->pay|timeout",
        "card->pay|down",
    }
    assert full.counts()["pruned"] == 0
    assert _violations(pruned) == _violations(full)


def test_fragile_bank_prunes_nothing_below_an_edge_that_cascaded() -> None:
    result = run_matrix(BANK, profile="fragile", edges=["bank->card", "card->pay"], kinds=["down"])
    assert result.counts()["pruned"] == 0
    assert any(c.edge == "bank->card" and c.violations for c in result.cells)


def test_the_shops_documented_cascade_is_found_from_its_topology_file_alone() -> None:
    shop = find_topology(SHOP)
    result = run_matrix(shop, profile="naive", edges=["checkout->catalog"], kinds=["latency-above"])
    (cell,) = result.cells
    assert cell.outcome == "violation", render_heatmap(result)
    assert cell.violations == ["checkout"]  # checkout->catalog is only its soft dependency
    (why,) = cell.attributions
    assert why.basis == "inferred"  # a Go shop gives no cause chains
    assert why.path == ("client->storefront", "storefront->checkout", "checkout->catalog")
    assert why.container == "checkout"
    browse = next(j for j in cell.journeys if j.journey == "browse")
    assert browse.verdict == "healthy"


def test_shards_are_disjoint_deterministic_and_add_up_to_the_matrix() -> None:
    with start_stack("local", topology=BANK, profile="hardened") as stack:
        cells = plan_cells(BANK, stack.injector, deadlines_ms=caller_deadlines_ms(stack))
    assert {c.kind for c in cells} == set(CELL_KINDS)  # the bank takes every kind
    shards = [select_shard(cells, i, 3) for i in (1, 2, 3)]
    ids = [c.id for shard in shards for c in shard]
    assert sorted(ids) == sorted(c.id for c in cells)
    assert len(ids) == len(set(ids))
    assert [c.id for c in select_shard(cells, 2, 3)] == [c.id for c in shards[1]]
    assert all(shards)


def test_merged_shard_reports_equal_an_unsharded_run(tmp_path: Path) -> None:
    shop = find_topology(SHOP)
    edges, kinds = ["checkout->catalog", "checkout->payments"], ["down", "latency-above"]
    # Sharding, not latency, is under test: 3 s (not the 20 s default for callers whose
    # deadline is unknown) keeps each latency cell short and still breaks checkout's SLO.
    latency = (300, 3000)
    # The shards read the graph the whole run observed and kept (one machine, one state
    # folder), and judge every cell the same with it.
    cache = GraphCache(tmp_path / "observed")
    whole = run_matrix(
        shop,
        profile="naive",
        edges=edges,
        kinds=kinds,
        prune=False,
        latency_ms=latency,
        workers=2,
        observed_cache=cache,
    )
    assert whole.extra["observed_source"]["source"] == "observed"
    folders = []
    with ThreadPoolExecutor(max_workers=3) as pool:  # the shards side by side, as CI jobs
        parts = pool.map(
            lambda index: run_matrix(
                shop,
                profile="naive",
                edges=edges,
                kinds=kinds,
                shard=(index, 3),
                latency_ms=latency,
                observed_cache=cache,
            ),
            (1, 2, 3),
        )
        for index, part in enumerate(parts, start=1):
            assert part.pruning is False  # sharded runs never prune: shards must add up
            assert part.extra["observed_source"]["source"] == "cache"
            assert part.extra["observed"] == whole.extra["observed"]
            folders.append(tmp_path / f"shard-{index}")
            write_matrix_reports(part, folders[-1])
    merged = merge_matrices([load_matrix(f) for f in folders])
    assert merged.planned == whole.planned == 4
    assert merged.extra["observed"] == whole.extra["observed"]  # the graph survives the merge
    assert merged.extra["observed_agrees"] == whole.extra["observed_agrees"]
    reasons = {c.id: c.reasons for c in (*merged.cells, *whole.cells) if c.reasons}
    assert {c.id: c.outcome for c in merged.cells} == {c.id: c.outcome for c in whole.cells}, (
        reasons
    )
    assert _violations(merged) == _violations(whole)
    junit = render_junit(merged)
    # 4 cells and the check that declared dependencies match observed, as in the whole run.
    assert junit.count("<testcase") == render_junit(whole).count("<testcase") == 5
    with pytest.raises(UsageError, match="overlap"):
        merge_matrices([load_matrix(folders[0]), load_matrix(folders[0])])


def test_a_hanging_edge_is_judged_touched_with_the_observed_crossings() -> None:
    # A timeout toxic holds checkout's call to catalog open: Toxiproxy counts its bytes
    # only once the connection ends, which may be after the window; the observed
    # crossing then carries the evidence. Either way the cell is judged, never "?".
    shop = find_topology(SHOP)
    result = run_matrix(shop, profile="naive", edges=["checkout->catalog"], kinds=["timeout"])
    (cell,) = result.cells
    assert cell.outcome == "violation", render_heatmap(result)
    assert "checkout->catalog" in cell.evidence
