"""``domino defences``' wall time per edge and per system against its floor, and, on the
bank, its measurements against the profiles' knobs in full.

In one run (local backend), each system measured as ``domino defences`` measures it:

- ``defences``: tests/defences (fragile, then fixed), ``--max-ms 1500``;
- ``shop``: examples/shop (its first profile), from its topology file alone
  (default range: past its SLOs, its callers' deadlines being unknown);
- ``bank-hardened``, ``bank-fragile``: the bank on ``card->pay,bank->card``, the
  default range (1.5x the longest wait the knobs give: 15 s for fragile).

Per edge: wall time, and the floor: the time the system itself took to answer the
probes (every deadline probe's journey time, and the slowest call of each failure
probe), which no search made of those probes can beat. Per system: the sum, the
measurement's wall time (observing the journeys included) and the ratio. On the
bank, each edge's deadline and retries are compared with the knobs (through the
adapter's ``configured_limits``) with the tolerances of declared values, and the
mismatches printed: the full check ``tests/defences/test_bank_knobs.py`` bounds.

    .venv/bin/python bench/bench_defences.py [--systems defences,shop,bank-hardened,bank-fragile]

Minutes, not seconds: bank-fragile alone is about three (its top probes hold 15 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness import find_topology, start_stack
from harness.explore.defences import DefenceMap, compare_declared, measure_defences
from harness.explore.defences.report import render_defences
from harness.model.topology import DeclaredDefences

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("defences", "shop", "bank-hardened", "bank-fragile")
BANK_EDGES = ("card->pay", "bank->card")


def _floor_s(defences: DefenceMap, edge: str) -> float:
    found = defences.edge(edge)
    probes_ms = [p.took_ms for p in found.deadline.probes] if found.deadline else []
    return (sum(probes_ms) + sum(p.took_ms for p in found.failures)) / 1000


def _say(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


#: Per edge: the knobs as declarations, and the attempts the knobs give a slow call.
Knobs = dict[str, tuple[DeclaredDefences, int]]


def _measure(
    topology: str | Path, profile: str | None, edges: tuple[str, ...] | None, max_ms: float | None
) -> tuple[DefenceMap, float, Knobs]:
    """The map, the whole command's wall time (stack start included), and on the bank what
    its knobs configure per edge. With the circuit breaker on (3 failures open it), retries
    while an edge fails stop early by design: they are compared where the search slows the
    edge instead (attempts at its top: as many as fit the budget)."""
    started_s = time.monotonic()
    with start_stack("local", topology=find_topology(topology), profile=profile) as stack:
        found = measure_defences(stack, edges, max_ms=max_ms, progress=_say)
        knobs: Knobs = {}
        if stack.topology.adapter == "bank":
            breaker = bool(stack.settings.get("circuit_breaker"))
            for edge in edges or ():
                limits = stack.adapter.configured_limits(stack.topology, stack.settings, edge)
                assert limits.deadline_ms is not None
                assert limits.worst_wait_ms is not None
                retries = None if breaker else int(stack.settings["retries"])
                knobs[edge] = (
                    DeclaredDefences(timeout_ms=limits.deadline_ms, retries=retries),
                    round(limits.worst_wait_ms / limits.deadline_ms),
                )
    return found, time.monotonic() - started_s, knobs


def _report(label: str, found: DefenceMap, wall_s: float) -> tuple[float, float]:
    print(render_defences(found))
    print(f"\n{label}: {'edge':<22} {'wall':>8} {'floor':>8} {'ratio':>6}")
    wall_edges_s = floor_all_s = 0.0
    for edge in found.edges:
        if not edge.measure_s:
            continue
        floor_s = _floor_s(found, edge.edge)
        wall_edges_s += edge.measure_s
        floor_all_s += floor_s
        print(
            f"{label}: {edge.edge:<22} {edge.measure_s:7.1f}s {floor_s:7.1f}s "
            f"{edge.measure_s / max(floor_s, 1e-9):5.1f}x"
        )
    print(
        f"{label}: {'edges':<22} {wall_edges_s:7.1f}s {floor_all_s:7.1f}s "
        f"{wall_edges_s / max(floor_all_s, 1e-9):5.1f}x\n"
        f"{label}: {'measurement':<22} {found.search_s:7.1f}s (observing the journeys "
        f"included); with the stack's start and stop {wall_s:.1f} s\n"
    )
    return wall_edges_s, floor_all_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    args = parser.parse_args()
    chosen = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    mismatched = 0
    for system in chosen:
        if system == "defences":
            for profile in ("fragile", "fixed"):
                found, wall_s, _ = _measure(
                    ROOT / "tests" / "defences" / "domino.yaml", profile, None, 1500
                )
                _report(f"defences[{profile}]", found, wall_s)
        elif system == "shop":
            found, wall_s, _ = _measure(
                ROOT / "examples" / "shop" / "domino.yaml", None, None, None
            )
            _report("shop", found, wall_s)
        else:
            profile = system.removeprefix("bank-")
            found, wall_s, knobs = _measure("bank", profile, BANK_EDGES, None)
            _report(system, found, wall_s)
            check = compare_declared(found, {e: declared for e, (declared, _) in knobs.items()})
            agree = [f"{e} {setting}" for e, setting in check.agree]
            print(f"{system}: the knobs against the measurement: agree: {', '.join(agree)}")
            for mismatch in check.mismatches:
                print(f"{system}:   mismatch: {mismatch.describe()}")
            mismatched += len(check.mismatches)
            for edge, (_, attempts) in knobs.items():
                deadline = found.edge(edge).deadline
                seen = None if deadline is None else deadline.attempts_at_max
                print(
                    f"{system}: {edge}: {seen} attempts with the edge slow, the knobs give "
                    f"{attempts} ({'agree' if seen == attempts else 'MISMATCH'})"
                )
                mismatched += seen != attempts
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
