"""Per-run overhead of a topology-driven stack, against a baseline revision, in one run.

Runs the same measurement, interleaved, in two checkouts: this one (the bank
read from its domino.yaml, its adapter, the generic local backend) and a
baseline revision in a git worktree (default: the last commit before
topologies were files). Each round, in a fresh process per checkout:

- cold start to ready (Toxiproxy + bank, card, pay, remit, all healthy);
- 30 balance journeys through the client edge (median latency);
- teardown.

    .venv/bin/python bench/bench_topology.py [--baseline REV] [--rounds N]

Prints medians per checkout and the ratio new / baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from baseline import ROOT, measure_in, worktree

BASELINE_REV = "c663d26"

_NEW = """
import json, time
from harness import start_stack
t0 = time.monotonic()
with start_stack("local", profile="hardened") as stack:
    up = time.monotonic() - t0
    with stack.client() as c:
        j = stack.topology.journey("balance")
        lat = sorted(c.run(j).latency_ms for _ in range(30))
    t1 = time.monotonic()
down = time.monotonic() - t1
print(json.dumps({"up_s": up, "journey_ms": lat[15], "down_s": down}))
"""

_OLD = """
import json, time
from harness import JourneyClient, start_stack
t0 = time.monotonic()
with start_stack("local", profile="hardened") as stack:
    up = time.monotonic() - t0
    with JourneyClient(stack.entry_url) as c:
        j = {x.name: x for x in stack.topology.journeys}["balance"]
        lat = sorted(c.run(j).latency_ms for _ in range(30))
    t1 = time.monotonic()
down = time.monotonic() - t1
print(json.dumps({"up_s": up, "journey_ms": lat[15], "down_s": down}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = worktree(args.baseline)
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "topology": []}
    home = Path(tempfile.mkdtemp(prefix="domino-bench-topology-"))
    for round_ in range(args.rounds):
        for name, tree, code in (("baseline", base, _OLD), ("topology", ROOT, _NEW)):
            runs[name].append(measure_in(tree, code, home / name))
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{'what':<28} {'baseline ' + args.baseline:>18} {'topology file':>14} {'ratio':>7}")
    for key, label in (
        ("up_s", "cold start to ready (s)"),
        ("journey_ms", "balance journey p50 (ms)"),
        ("down_s", "teardown (s)"),
    ):
        old = statistics.median(r[key] for r in runs["baseline"])
        new = statistics.median(r[key] for r in runs["topology"])
        print(f"{label:<28} {old:>18.3f} {new:>14.3f} {new / old:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
