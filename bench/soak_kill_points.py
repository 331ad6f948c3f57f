"""Soak: kill `domino run` with SIGINT, SIGTERM and SIGKILL at random points; nothing may be
left, no signal lost, no other run touched.

Run: nice -n 10 .venv/bin/python bench/soak_kill_points.py [--points 200] [--docker-points 0]
     [--seed 11] [--budget-s 0] [--json FILE] [--phases P,...] [--signals S,...] [--at-start]

Each kill point runs a short incident (the KB Pay timeout on ``card->pay``,
hardened profile; steady 0.5 s, the fault from onset 0 for 1.5 s, recovery
0.5 s: ``tests/trust/killpoints.py``, ``write_spec``) with
``python -m harness.cli run SPEC --report DIR`` under ``tests/trust/reaper.py``
(a child subreaper), follows it to the chosen phase and sends the signal:

* start-up: ``spawn`` (local only), a child -- Toxiproxy or one of the four
  services, chosen at random -- held between fork and exec by
  ``$DOMINO_TEST_SPAWN_GATE`` until the signal is delivered, then let go;
  ``starting``, a random delay after the first ``domino: starting`` line;
* ``settle`` (``domino: stack ready``), ``steady``, ``fault``, ``recovery``
  (the progress lines), ``draining`` (the ``draining`` line: faults removed,
  calls in flight drained, verdict, teardown), ``reporting`` (the first line
  of the summary on stdout: the stack is down, reports being written), each
  at a random delay within the first 80 % of the phase.

Then, as in ``tests/trust/test_kill_points.py``: a SIGINT/SIGTERM must end
the run with exit 130 within 30 s, say everything it started is stopped and
(at a spawn point) start no further child, else it is a **lost signal**; a
SIGKILL gives -9. **Leaks**: a process of the run alive (run record and
/proc), a child the reaper had to reap after SIGINT/SIGTERM (Domino lost
track of it) or one outliving the runner by 10 s, a Toxiproxy of the run
answering, a run record or folder left after SIGINT/SIGTERM, docker
containers or network left; all points share one DOMINO_HOME, so the run
after a SIGKILL is the next run: once it has reconciled, what the killed run
left must be gone. **Another run**: for the whole soak a second, independent
``domino up`` runs in a DOMINO_HOME of its own (``tests/trust/bystander.py``)
beside a sentinel process that writes down any signal it gets; before every
kill point a stale run record is planted in the soak's DOMINO_HOME (a dead
owner; as its processes the other run's runner, Toxiproxy, services and the
sentinel, by pid and command line, alternately without a start time and
with another one; as its run folder the other run's), so every run's
reconcile meets one; after every point each of those processes must be alive
with the same start time, not stopped, the sentinel must have received
nothing, every part of the other run must answer and its run folder and
record must be there.

Prints one line per kill point, then a JSON summary (tried, clean, leaks,
lost signals, other run touched, missed: the run ended before the signal).
Exit 0 when every kill point was clean, 1 otherwise. ``--budget-s`` stops
starting new kill points after that many seconds (0: no limit).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.trust.bystander import Bystander, bystander
from tests.trust.killpoints import (
    DOCKER_PHASES,
    PHASES,
    SIGNALS,
    KillPoint,
    Outcome,
    Snapshot,
    Timing,
    clean_up_after,
    next_run_checks,
    run_kill_point,
    summary,
    write_spec,
)

TIMING = Timing(steady_s=0.5, hold_s=1.5, recovery_s=0.5)


def plan(
    count: int,
    backend: str,
    rng: random.Random,
    *,
    phases: tuple[str, ...] = PHASES,
    signals: tuple[str, ...] = SIGNALS,
    at_start: bool = False,
) -> list[KillPoint]:
    """``count`` kill points, signals x phases spread evenly, in a seeded random order.

    ``at_start``: every signal at the moment its phase is seen (no delay).
    """
    allowed = [p for p in phases if backend == "local" or p in DOCKER_PHASES]
    combos = list(itertools.product(signals, allowed))
    rng.shuffle(combos)  # fewer points than combinations: a random subset
    chosen = [combos[i % len(combos)] for i in range(count)]
    rng.shuffle(chosen)
    points = [KillPoint.seeded(sig, phase, rng, TIMING, backend) for sig, phase in chosen]
    if at_start:
        points = [dataclasses.replace(p, delay_s=0.0) for p in points]
    return points


def soak(
    points: list[KillPoint], root: Path, deadline: float, other: Bystander
) -> tuple[list[Outcome], list[str], int]:
    """Run ``points`` in one DOMINO_HOME; return outcomes, final next-run problems, skipped."""
    home = root / "home"
    spec = write_spec(root, TIMING)
    outcomes: list[Outcome] = []
    stale: dict[str, Snapshot | None] = {"local": None, "docker": None}
    for n, point in enumerate(points, 1):
        if time.monotonic() >= deadline:
            return outcomes, _final(home, root, stale), len(points) - n + 1
        workdir = root / f"point-{n}"
        planted = other.plant(home, point.backend)
        outcome = run_kill_point(
            point,
            home=home,
            spec=spec,
            workdir=workdir,
            stale=stale[point.backend],
            reaper=True,
        )
        outcome.other_run = other.touched()
        if planted.exists():
            outcome.start_checks.append(f"the planted record {planted.name} was not reconciled")
            planted.unlink()
        outcomes.append(outcome)
        print(f"{n:4d} {outcome.line()}", flush=True)
        previous = stale[point.backend]
        if outcome.start_checks and previous is not None:
            for done in clean_up_after(previous):
                print(f"       cleaned up after the previous run: {done}", flush=True)
        snapshot = outcome.snapshot
        if snapshot is not None and not outcome.clean:
            for done in clean_up_after(snapshot, processes_only=True):
                print(f"       cleaned up after it: {done}", flush=True)
        # Whatever record it left (SIGKILL, or a leak) is the next run's to reconcile.
        left = snapshot is not None and Path(snapshot.record_path).exists()
        stale[point.backend] = snapshot if left else None
        shutil.rmtree(workdir, ignore_errors=True)
    return outcomes, _final(home, root, stale), 0


def _final(home: Path, root: Path, stale: dict[str, Snapshot | None]) -> list[str]:
    """The next run after the last SIGKILL of each backend, if the soak ended with one."""
    problems = []
    for backend, snapshot in stale.items():
        if snapshot is not None:
            found = next_run_checks(home, root / f"final-up-{backend}.txt", snapshot)
            print(f"     final next run ({backend}): {'; '.join(found) or 'clean'}", flush=True)
            problems += found
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200, help="local kill points")
    parser.add_argument("--docker-points", type=int, default=0, help="docker kill points")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--budget-s", type=float, default=0.0, help="0: no time limit")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"a subset of {','.join(PHASES)}"
    )
    parser.add_argument("--signals", default=",".join(SIGNALS), help="a subset of them")
    parser.add_argument(
        "--at-start", action="store_true", help="signal as each phase is seen, no delay"
    )
    args = parser.parse_args(argv)
    phases = tuple(args.phases.split(","))
    signals = tuple(args.signals.split(","))
    if not set(phases) <= set(PHASES) or not set(signals) <= set(SIGNALS):
        parser.error(f"--phases takes {','.join(PHASES)}; --signals {','.join(SIGNALS)}")
    rng = random.Random(args.seed)
    chosen = {"phases": phases, "signals": signals, "at_start": args.at_start}
    points = plan(args.points, "local", rng, **chosen) + plan(
        args.docker_points, "docker", rng, **chosen
    )

    started = time.monotonic()
    deadline = started + args.budget_s if args.budget_s > 0 else float("inf")
    with (
        tempfile.TemporaryDirectory(prefix="domino-kill-soak-") as folder,
        bystander(Path(folder) / "other-run") as other,
    ):
        print(
            f"other run: domino up (pid {other.up.pid}) in {other.home}, "
            f"{len(other.processes)} processes watched",
            flush=True,
        )
        outcomes, final_problems, skipped = soak(points, Path(folder), deadline, other)
        after = other.touched()
    if after:
        print(f"other run touched at the end: {'; '.join(after)}", flush=True)

    result = summary(outcomes)
    result.update(
        planned=len(points),
        not_tried_budget=skipped,
        final_next_run_problems=final_problems,
        other_run_touched_at_the_end=after,
        other_run_records_planted=other.planted,
        seed=args.seed,
        timing={
            "steady_s": TIMING.steady_s,
            "hold_s": TIMING.hold_s,
            "recovery_s": TIMING.recovery_s,
        },
        wall_s=round(time.monotonic() - started, 1),
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    ok = result["with_leftovers"] == 0 and not final_problems and not after
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
