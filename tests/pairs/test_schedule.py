"""How the matrix's schedule takes pair cells as the ``down`` cells finish, without a stack:
the schedule is pure bookkeeping (which cell runs next, which are pruned), so it is driven
here by hand, as the matrix's workers drive it."""

from __future__ import annotations

from pathlib import Path

from harness import find_topology
from harness.explore.cells import Cell
from harness.explore.matrix import CellResult, _Schedule
from harness.model.faults import Down

SYSTEM = find_topology(Path(__file__).resolve().parent / "domino.yaml")


def _down(edge: str, depth: int, primary: Cell | None = None) -> Cell:
    own = (edge,) + ((primary.edge,) if primary else ())
    return Cell(edge, "down", Down(edge=edge), own, depth, primary=primary)


def _result(cell: Cell, outcome: str = "contained") -> CellResult:
    return CellResult(
        cell.id,
        cell.edge,
        cell.kind,
        "down",
        outcome,  # type: ignore[arg-type]
        primary=None if cell.primary is None else cell.primary.edge,
        reasons=("implied by client->gateway",) if outcome == "pruned" else (),
    )


def test_a_down_cell_adds_its_pairs_which_run_after_the_single_cells_waiting() -> None:
    pricing, spare = _down("gateway->pricing", 1), _down("gateway->spare", 1)
    pair = _down("gateway->spare", 1, primary=pricing)
    added: list[str] = []

    def expand(cell: Cell, judged: CellResult) -> list[Cell]:
        added.append(cell.id)
        return [pair] if cell is pricing else []

    schedule = _Schedule(SYSTEM, [pricing, spare], prune=False, progress=None, expand=expand)
    assert schedule.take() is pricing
    schedule.finish(pricing, _result(pricing))
    assert schedule.take() is spare  # the single cell waiting goes first
    schedule.finish(spare, _result(spare, "inconclusive"))
    taken = schedule.take()
    assert taken is pair
    assert taken.id == "gateway->pricing|down+gateway->spare|down"
    schedule.finish(pair, _result(pair, "violation"))
    assert schedule.take() is None
    assert added == [pricing.id, spare.id, pair.id]
    assert schedule.results[pair.id].primary == "gateway->pricing"


def test_the_pairs_of_a_pruned_down_cell_are_pruned_and_counted() -> None:
    pricing = _down("gateway->pricing", 1)
    pair = _down("gateway->spare", 1, primary=pricing)
    totals: list[int] = []
    schedule = _Schedule(
        SYSTEM,
        [pricing],
        prune=False,
        progress=lambda done, total, _cell: totals.append(total),
        expand=lambda cell, _judged: [pair] if cell is pricing else [],
    )
    assert schedule.take() is pricing
    schedule.finish(pricing, _result(pricing, "pruned"))
    assert schedule.take() is None  # nothing left to run: the pair was recorded pruned
    pruned = schedule.results[pair.id]
    assert pruned.outcome == "pruned"
    assert pruned.reasons[0].startswith(f"implied: {pricing.id} was pruned")
    assert totals[-1] == 2  # counted, never silently skipped


def test_pair_cells_never_hold_back_or_decide_the_pruning_of_single_cells() -> None:
    spare = _down("gateway->spare", 1)
    store = _down("spare->store", 2)  # its only parent edge is gateway->spare
    pricing = _down("gateway->pricing", 1)
    pair = _down("gateway->spare", 1, primary=pricing)
    schedule = _Schedule(
        SYSTEM,
        [pricing, spare, store],
        prune=True,
        progress=None,
        expand=lambda cell, _judged: [pair] if cell is pricing else [],
    )
    assert schedule.take() is pricing
    schedule.finish(pricing, _result(pricing))
    assert schedule.take() is spare
    # A pair cell on gateway->spare is waiting, yet store's parent edge is done: store runs,
    # and is judged by the single cell on its parent alone (contained: store is pruned).
    schedule.finish(spare, _result(spare))
    assert schedule.take() is pair
    assert schedule.results[store.id].outcome == "pruned"
    schedule.finish(pair, _result(pair, "violation"))
    assert schedule.take() is None
