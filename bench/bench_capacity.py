"""Bank's capacity curve: offered open-loop load against what bank completes, both profiles.

bank's core-banking ledger (services/bank/core.py) holds one of 4
connections for 40 ms per transaction, so it should complete at most 100
transactions per second whatever this machine can send. This drives exchange
deposits and withdrawals (half each) at constant offered rates, one step after
another on one stack per profile, through the client edge's Toxiproxy, and
prints per step: offered, achieved, ok/s, told to wait/s, failed/s, ok p99,
engine lag. The step's ``ok/s`` levels off at the capacity; in fragile the
latency of what gets through explodes and the rest time out, in hardened the
rest is told to wait at once.

    .venv/bin/python bench/bench_capacity.py                     # 40..300/s, 6 s each
    .venv/bin/python bench/bench_capacity.py --rates 50,100,200 --step-s 5 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from harness import start_stack
from harness.experiment.flooding import FloodApplier
from harness.loadgen import Constant
from harness.loadgen.workers import run_in_workers
from harness.model.faults import Flood


def _step(applier: FloodApplier, rate_per_s: float, step_s: float) -> dict[str, Any]:
    flood = Flood(
        journeys=("exchange-deposit", "exchange-withdrawal"),
        peak_per_s=rate_per_s,
        base_per_s=rate_per_s,
        users=50,
        timeout_s=2.0,
    )
    plan = dataclasses.replace(
        applier.plan_for(flood, step_s, f"bench-{int(time.time() * 1000)}"),
        shape=Constant(rate_per_s=rate_per_s, duration_s=step_s),
        max_duration_s=step_s + 4.0,
    )
    result = run_in_workers(plan)
    span_s = max(step_s, 1e-9)
    return {
        "offered_per_s": rate_per_s,
        "achieved_per_s": round(result.achieved_rate_per_s, 1),
        "ok_per_s": round(result.ok / span_s, 1),
        "waiting_per_s": round(result.rejected / span_s, 1),
        "failed_per_s": round(result.errors / span_s, 1),
        "ok_p99_ms": round(result.ok_latency.p99_ms, 1),
        "lag_p99_ms": round(result.lag.p99_ms, 1),
        "valid": result.valid,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="40,80,100,120,150,200,300")
    parser.add_argument("--step-s", type=float, default=6.0)
    parser.add_argument("--profiles", default="fragile,hardened")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    out: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.python_version()}",
        "command": " ".join(["bench/bench_capacity.py", *sys.argv[1:]]),
        "profiles": {},
    }
    for profile in args.profiles.split(","):
        rows = []
        with start_stack("local", profile=profile) as stack:
            floods = [
                (
                    Flood(journeys=("exchange-deposit",), peak_per_s=1.0, base_per_s=1.0, users=50),
                    1.0,
                )
            ]
            applier = FloodApplier(stack, time.monotonic, floods)
            print(f"\n{profile}: offered  achieved   ok/s  wait/s  failed/s  ok p99 ms  lag p99 ms")
            for rate in rates:
                row = _step(applier, rate, args.step_s)
                rows.append(row)
                print(
                    f"{'':>9}{row['offered_per_s']:>7.0f} {row['achieved_per_s']:>9.1f}"
                    f" {row['ok_per_s']:>6.1f} {row['waiting_per_s']:>7.1f}"
                    f" {row['failed_per_s']:>9.1f} {row['ok_p99_ms']:>10.1f}"
                    f" {row['lag_p99_ms']:>11.1f}{'' if row['valid'] else '  (invalid)'}",
                    flush=True,
                )
                # Let the previous step's queue drain before the next (fragile keeps it).
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    core = httpx.get(
                        f"{stack.services['bank']}/admin/stats",
                        headers={"X-Admin-Token": stack.admin_token},
                        timeout=5,
                    ).json()["core"]
                    if not core or (core.get("waiting", 0) == 0 and core.get("busy", 0) == 0):
                        break
                    time.sleep(0.2)
        out["profiles"][profile] = rows
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
