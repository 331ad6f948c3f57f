"""An incident's whole process against its floor, this checkout against a baseline revision.

Each round runs ``domino run INCIDENT --profile PROFILE`` as a fresh process
for each checkout, the baseline and this one interleaved so drift in the
machine's load hits both alike, and reads the run's report:

- ``process``: the process's wall time, from its start to its exit (Python's
  start, Domino's imports, the stack up, the run, the reports, the teardown);
- ``over floor``: ``process`` minus the incident's floor (the holds that must
  elapse: steady state, fault holds, recovery);
- ``run over``: the run's own overhead as its report gives it (settling,
  draining, invariants);
- ``outside the run``: ``process`` minus the run's duration (start, stop and
  reports).

    .venv/bin/python bench/bench_incident_process.py [--baseline REV] [--rounds N]
        [--incident NAME] [--profile PROFILE]

Both checkouts' modules are compiled first, as ``make setup`` does (where
``PYTHONDONTWRITEBYTECODE`` is set no run writes bytecode, and a checkout
without it compiles every module from source in every process), then one
warm-up run per checkout, not counted (caches filled). Prints medians per checkout, the
ratio new / baseline and the 1-minute load average before and after;
docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import ROOT, compile_tree, tree_env, worktree

BASELINE_REV = "5753b57"
_ROWS = (
    ("process (s)", "process_s"),
    ("over the floor (s)", "over_floor_s"),
    ("run's own overhead (s)", "run_over_s"),
    ("outside the run (s)", "outside_s"),
)


def _measure(tree: Path, home: Path, incident: str, profile: str) -> dict[str, float]:
    report = home / "report"
    began = time.monotonic()
    argv = [sys.executable, "-m", "harness.cli", "run", incident, "--profile", profile]
    done = subprocess.run(
        [*argv, "--report", str(report)],
        check=False,
        cwd=tree,
        env=tree_env(tree, home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    process_s = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(
            f"domino run in {tree} exited {done.returncode}:\n{done.stdout[-2000:]}"
            f"{done.stderr[-2000:]}"
        )
    run = json.loads((report / "report.json").read_text())["runs"][0]
    return {
        "process_s": process_s,
        "over_floor_s": process_s - run["floor_s"],
        "run_over_s": run["duration_s"] - run["floor_s"],
        "outside_s": process_s - run["duration_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--incident", default="tossbank-fx-2024-12-03")
    parser.add_argument("--profile", default="hardened")
    args = parser.parse_args()
    trees = {args.baseline: worktree(args.baseline), "this": ROOT}
    compile_tree(ROOT)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="domino-bench-process-") as scratch:
        for name, tree in trees.items():  # a warm-up each: bytecode compiled, caches filled
            home = Path(scratch) / f"{name}-warm-up"
            home.mkdir()
            _measure(tree, home, args.incident, args.profile)
        for round_no in range(1, args.rounds + 1):
            for name, tree in trees.items():
                home = Path(scratch) / f"{name}-{round_no}"
                home.mkdir()
                results[name].append(_measure(tree, home, args.incident, args.profile))
            print(f"round {round_no}/{args.rounds} done", file=sys.stderr)
    load_after = os.getloadavg()[0]
    print(f"{args.incident} [{args.profile}], median of {args.rounds}")
    print(f"{'what':28} {args.baseline:>9} {'this':>7}  ratio")
    for label, key in _ROWS:
        old = statistics.median(r[key] for r in results[args.baseline])
        new = statistics.median(r[key] for r in results["this"])
        ratio = f"{new / old:.2f}x" if old > 0 else "-"
        print(f"{label:28} {old:9.3f} {new:7.3f}  {ratio}")
    print(f"1-minute load average: {load_before:.2f} before, {load_after:.2f} after (2 cores)")


if __name__ == "__main__":
    main()
