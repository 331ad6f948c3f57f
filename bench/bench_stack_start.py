"""A local stack's start and stop, this checkout against a baseline revision, in one run.

Each round starts the bank's stack (Toxiproxy and bank, card, pay, remit, all
healthy; hardened profile) in a fresh process per checkout, baseline and this
one interleaved so drift in the machine's load hits both alike, and stops it:

- ``up``: from the call of ``start_stack`` to the stack ready;
- ``process up``: from the Python process's start (what ``domino up`` pays,
  its own imports included) to the stack ready;
- ``stack CPU``: the CPU time Toxiproxy and the services had used when the
  stack was ready (what the machine's load cannot stretch); every descendant
  of the runner is counted, so services the service host forked (and the
  host) are too;
- ``down``: teardown.

    .venv/bin/python bench/bench_stack_start.py [--baseline REV] [--rounds N]

Prints medians per checkout, the ratio new / baseline and the 1-minute load
average before and after; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from baseline import ROOT, measure_in, worktree

BASELINE_REV = "48992ac"

_CODE = """
import glob, json, os, time
from harness import start_stack

def descendants(pid):
    found = set()
    for path in glob.glob(f"/proc/{{pid}}/task/*/children"):
        try:
            children = open(path).read().split()
        except OSError:  # the task ended meanwhile
            continue
        for child in children:
            found |= {{child}} | descendants(child)
    return found

def children_cpu_s():
    ticks = 0
    for pid in descendants("self"):
        try:
            fields = open(f"/proc/{{pid}}/stat").read().rpartition(")")[2].split()
        except OSError:  # it exited between the two reads
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")

t0 = time.monotonic()
with start_stack("local", profile="hardened") as stack:
    up = time.monotonic() - t0
    process_up = time.time() - {spawned!r}
    cpu = children_cpu_s()
    t1 = time.monotonic()
down = time.monotonic() - t1
print(json.dumps({{"up_s": up, "process_up_s": process_up, "down_s": down, "stack_cpu_s": cpu}}))
"""


def _measure(tree: Path, home: Path) -> dict[str, float]:
    return measure_in(tree, _CODE.format(spawned=time.time()), home)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    base = worktree(args.baseline)
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this": []}
    home = Path(tempfile.mkdtemp(prefix="domino-bench-start-"))
    load_before = os.getloadavg()[0]
    for round_ in range(args.rounds):
        for name, tree in (("baseline", base), ("this", ROOT)):
            runs[name].append(_measure(tree, home / name))
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    load_after = os.getloadavg()[0]
    what = f"what (median of {args.rounds})"
    print(f"{what:<30} {args.baseline:>9} {'this':>7} {'ratio':>7}")
    for key, label in (
        ("up_s", "up: start_stack to ready (s)"),
        ("process_up_s", "process start to ready (s)"),
        ("stack_cpu_s", "stack CPU to ready (s)"),
        ("down_s", "teardown (s)"),
    ):
        old = statistics.median(r[key] for r in runs["baseline"])
        new = statistics.median(r[key] for r in runs["this"])
        print(f"{label:<30} {old:>9.3f} {new:>7.3f} {new / old:>6.2f}x")
    print(f"1-minute load average: {load_before:.2f} before, {load_after:.2f} after (2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
