"""Matrix wall time against its physical floor, pruning's savings, and the speed-up of workers.

In one run, on the bank (local backend):

1. the matrix under ``hardened``, pruned and with ``--no-prune``: wall time,
   the sum of its cells' floors (steady + hold + recovery), cells run of all;
2. the same (unpruned) cells with ``--workers 1``, ``2`` and ``4``: wall time
   and speed-up against one worker;
3. the latency cliff search time per edge (``harness.explore.cliff``), when
   that module is present.

    .venv/bin/python bench/bench_matrix.py [--profile hardened] [--edges E1,E2] [--faults K1,K2]
        [--workers 1,2,4] [--skip-cliffs]

With ``--pairs TOPOLOGY...`` it measures the pair cells instead (:mod:`harness.explore.pairs`):
on each topology, the matrix with and without pairs, side by side: the pairs explored of
the possible ones (the pruning ratio), the pair cells run and their outcomes, and the wall
time and floor of each run (``--faults`` applies; its default there is down,timeout,status-503).

    .venv/bin/python bench/bench_matrix.py \
        --pairs tests/pairs/domino.yaml tests/defences/domino.yaml

Defaults are the whole matrix: minutes, not seconds. The machine has 2 cores,
so 4 workers oversubscribe it; the figure says what that costs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from harness import find_topology
from harness.explore.matrix import MatrixResult, run_matrix


def _row(label: str, result: MatrixResult, base_s: float | None = None) -> str:
    counts = result.counts()
    run = len(result.cells) - counts["pruned"]
    speedup = f"{base_s / result.duration_s:5.2f}x" if base_s else "     -"
    return (
        f"{label:<26} {result.duration_s:8.1f} s {result.floor_s:8.1f} s "
        f"{result.duration_s / max(result.floor_s, 1e-9):6.2f}x {run:>4}/{result.planned:<4} "
        f"{counts['violation']:>4} {counts['inconclusive']:>4} {speedup}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="hardened")
    parser.add_argument("--edges")
    parser.add_argument("--faults")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--skip-cliffs", action="store_true")
    parser.add_argument("--pairs", nargs="+", metavar="TOPOLOGY")
    args = parser.parse_args()
    if args.pairs:
        return _pairs(args.pairs, (args.faults or "down,timeout,status-503").split(","))
    bank = find_topology("bank")
    edges = args.edges.split(",") if args.edges else None
    kinds = args.faults.split(",") if args.faults else None

    def say(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    def run(**options: object) -> MatrixResult:
        return run_matrix(bank, profile=args.profile, edges=edges, kinds=kinds, **options)  # type: ignore[arg-type]

    header = f"{'run':<26} {'wall':>10} {'floor':>10} {'ratio':>7} {'cells':>9}"
    print(f"{header} {'viol':>4} {'inc':>4} speed-up")
    pruned = run(prune=True)
    print(_row("pruned, 1 worker", pruned), flush=True)
    base_s = None
    for workers in (int(w) for w in args.workers.split(",")):
        full = run(prune=False, workers=workers)
        base_s = base_s or full.duration_s
        print(_row(f"no-prune, {workers} worker(s)", full, base_s), flush=True)

    if args.skip_cliffs:
        return 0
    try:
        cliff = importlib.import_module("harness.explore.cliff")
    except ImportError:
        print("no harness.explore.cliff: cliff timing skipped")
        return 0
    from harness import start_stack

    with start_stack("local", topology=bank, profile=args.profile) as stack:
        for edge, journey in (
            ("card->pay", "card-tab"),
            ("bank->card", "card-tab"),
            ("bank->pay", "card-tab"),
        ):
            started = time.monotonic()
            found = cliff.find_cliff(stack, edge, journey)
            took = time.monotonic() - started
            probes = len(found.probes)
            print(f"cliff {edge} x {journey}: {found.cliff_ms} ms, {took:.1f} s, {probes} probes")
    return 0


def _pairs(topologies: list[str], kinds: list[str]) -> int:
    """Each topology's matrix with and without pairs: pruning ratio, wall time, floor."""
    print(
        f"{'topology':<10} {'pairs':<6} {'wall':>8} {'floor':>8} {'cells':>6} "
        f"{'pair cells':>10} {'pairs explored':>15} {'pair outcomes'}"
    )
    for path in topologies:
        topology = find_topology(path)
        for pairs in (False, True):
            result = run_matrix(topology, kinds=kinds, pairs=pairs)
            found = result.extra["pairs"]
            explored = f"{found['explored']} of {found['possible']}" if pairs else "-"
            counts = result.counts(result.pairs)
            outcomes = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "-"
            print(
                f"{topology.name:<10} {'on' if pairs else 'off':<6} "
                f"{result.duration_s:6.1f} s {result.floor_s:6.1f} s {len(result.singles):>6} "
                f"{len(result.pairs):>10} {explored:>15} {outcomes}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
