"""The blast-radius matrix against its floor: this checkout against a baseline revision, and
2 workers against 1, in one run, with every cell's verdict compared.

    .venv/bin/python bench/bench_matrix_floor.py [--baseline REV] [--profile hardened]
        [--edges E1,E2] [--faults K1,K2] [--workers 1,2] [--no-prune]

Runs the bank's matrix (local backend) one run after another, each in a
fresh process: the baseline revision with 1 worker; then this checkout with 1
worker observing the journeys' dependencies afresh (``--observe fresh``: the
uncached figure; it also keeps the graph, the warm-up of the runs after it);
then this checkout with each ``--workers`` count, the graph read from the
cache those runs share (the table's "graph" column says where each run's
graph came from). For each: wall time, the floor (the sum of the
cells' steady + hold + recovery), wall / floor, Domino's own cost per cell
((wall - fixed) / cells run is not separable here, so (wall - floor) / cells
run is printed: everything over the holds, start and observation included),
the speed-up over this checkout's first cached run, and whether every
cell's verdict matches the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from baseline import ROOT, tree_env, worktree

BASELINE_REV = "48992ac"

_CODE = """
import json, sys, time
from harness import find_topology
from harness.explore.matrix import run_matrix
args = json.loads(sys.argv[1])
cache = {}
if args["observe"] is not None:  # a revision with the observed-graph cache
    from harness.explore.observed_cache import GraphCache
    cache = {"observed_cache": GraphCache(fresh=args["observe"] == "fresh")}
began = time.monotonic()
result = run_matrix(find_topology("bank"), profile=args["profile"], edges=args["edges"],
                    kinds=args["kinds"], prune=args["prune"], workers=args["workers"], **cache)
source = result.extra.get("observed_source") or {}
print(json.dumps({
    "wall_s": time.monotonic() - began,
    "floor_s": result.floor_s,
    "verdicts": {c.id: c.outcome for c in result.cells},
    "graph": "from cache" if source.get("source") == "cache" else
             f"observed ({source['observed_s']:.1f} s)" if source else "observed",
}))
"""


def _run(tree: Path, home: Path, options: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CODE, json.dumps(options)],
        cwd=tree,
        env=tree_env(tree, home),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"matrix run failed in {tree}: {done.stderr.strip()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--profile", default="hardened")
    parser.add_argument("--edges")
    parser.add_argument("--faults", help="fault kinds (default: every kind)")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-prune", action="store_true")
    args = parser.parse_args()
    options = {
        "profile": args.profile,
        "edges": args.edges.split(",") if args.edges else None,
        "kinds": args.faults.split(",") if args.faults else None,
        "prune": not args.no_prune,
    }
    home = Path(tempfile.mkdtemp(prefix="domino-bench-matrix-floor-"))
    load_before = os.getloadavg()[0]
    runs: list[tuple[str, dict[str, Any]]] = []
    # (label, tree, workers, observe): the baseline has no cache; this checkout's runs share
    # one state folder, so the fresh run keeps the graph the cached runs read.
    plan: list[tuple[str, Path, int, str | None]] = [
        (f"{args.baseline}, 1 worker", worktree(args.baseline), 1, None),
        ("this, 1 worker, observed afresh", ROOT, 1, "fresh"),
    ]
    plan += [(f"this, {w} worker(s)", ROOT, int(w), "cached") for w in args.workers.split(",")]
    for label, tree, workers, observe in plan:
        folder = home / ("baseline" if observe is None else "this")
        options_now = {**options, "workers": workers, "observe": observe}
        runs.append((label, _run(tree, folder, options_now)))
        print(f"{label} done ({runs[-1][1]['graph']})", file=sys.stderr, flush=True)
    load_after = os.getloadavg()[0]

    base = runs[0][1]["verdicts"]
    first_this = runs[2][1]["wall_s"] if len(runs) > 2 else None
    print(
        "| run | graph | wall | floor | wall / floor | over the floor per cell run | speed-up "
        "| verdicts |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for index, (label, run) in enumerate(runs):
        cells_run = sum(1 for v in run["verdicts"].values() if v != "pruned")
        counts: dict[str, int] = {}
        for verdict in run["verdicts"].values():
            counts[verdict] = counts.get(verdict, 0) + 1
        same = "baseline" if index == 0 else ("same" if run["verdicts"] == base else "DIFFER")
        speedup = f"{first_this / run['wall_s']:.2f}x" if index >= 2 and first_this else "-"
        print(
            f"| {label} | {run['graph']} | {run['wall_s']:.1f} s | {run['floor_s']:.1f} s "
            f"| {run['wall_s'] / run['floor_s']:.2f}x "
            f"| {(run['wall_s'] - run['floor_s']) / max(cells_run, 1):.2f} s | {speedup} "
            f"| {same}: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))} |"
        )
        if index and run["verdicts"] != base:
            for cell, verdict in sorted(run["verdicts"].items()):
                if base.get(cell) != verdict:
                    print(f"    {cell}: {base.get(cell)} -> {verdict}")
    print(f"1-minute load average: {load_before:.1f} before, {load_after:.1f} after (2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
