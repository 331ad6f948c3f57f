"""The incident suite's wall time against its floor, and the harness's own overhead.

Run: .venv/bin/python bench/bench_incidents.py [--backend local]

The floor of a run is what must elapse whatever the harness does: steady
state + fault holds + recovery. Everything above it is overhead: settling,
in-flight calls draining after the recovery window (in the fragile profile
these wait out the services' long timeouts), invariant checks, and stack
start-up (measured separately, once per profile).
"""

from __future__ import annotations

import argparse
import time

from harness.backends import start_stack
from harness.experiment import run_incident
from harness.library import list_incidents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="local")
    args = parser.parse_args()
    specs = list_incidents()
    began = time.monotonic()
    total_floor_s = 0.0
    rows = []
    starts = []
    for profile in ("fragile", "hardened"):
        stack_began = time.monotonic()
        with start_stack(args.backend, profile=profile) as stack:
            starts.append((profile, time.monotonic() - stack_began))
            for spec in specs:
                if profile not in spec.profiles:
                    continue
                result = run_incident(stack, spec, profile)
                total_floor_s += spec.floor_s
                rows.append(
                    (spec.id, profile, result.duration_s, spec.floor_s, result.verdict.outcome)
                )
    wall_s = time.monotonic() - began
    print(f"{'incident':<30} {'profile':<9} {'wall':>7} {'floor':>7} {'overhead':>9}  outcome")
    for spec_id, profile, duration_s, floor_s, outcome in rows:
        print(
            f"{spec_id:<30} {profile:<9} {duration_s:6.1f}s {floor_s:6.1f}s "
            f"{duration_s - floor_s:+8.1f}s  {outcome}"
        )
    for profile, seconds in starts:
        print(f"stack start ({profile}, {args.backend}): {seconds:.2f} s")
    print(
        f"suite on {args.backend}: wall {wall_s:.1f} s, floor {total_floor_s:.1f} s, "
        f"ratio {wall_s / total_floor_s:.2f}x"
    )


if __name__ == "__main__":
    main()
