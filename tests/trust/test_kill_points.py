"""Cleanup under every ending, local backend: `domino run` killed in the middle of a run.

A bounded, deterministic sample of the kill points ``bench/soak_kill_points.py``
soaks: SIGINT in three phases of a short incident run, SIGTERM and SIGKILL in two
(starting, settle, steady state, fault applied, recovery, draining,
reporting), each at a seeded delay into the phase, the run under
``tests/trust/reaper.py``. After each: the exit code is 130 (SIGINT, SIGTERM)
or -9 (SIGKILL); no Toxiproxy or service process of the run is alive (its run
record and /proc); after SIGINT/SIGTERM Domino stopped every child itself
(none left for the reaper); no Toxiproxy of the run still answers, so no
toxic or disabled proxy is left; SIGINT/SIGTERM leave no run record and no
run folder; after SIGKILL the next run (`domino up --json`) finds the stale
record and folder gone and starts with a Toxiproxy holding no fault. See
tests/trust/killpoints.py for how each is checked; the spawn points are
tests/trust/test_spawn_interrupts.py's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.trust.killpoints import KillPoint, Timing, next_run_checks, run_kill_point, write_spec

TIMING = Timing(steady_s=1.0, hold_s=3.0, recovery_s=1.0)

#: A SIGINT/SIGTERM that arrives while the runner is already tearing the stack down
#: ("draining") waits until the teardown ends (harness.signals.interrupts_deferred): the
#: record and run folder go too. A SIGINT while the reports are written ("reporting") ended
#: the run with -2 after it said it stopped, a few times in a hundred, when it landed in
#: an exec() (harness.infra.signals.forget_handled_interrupts; deterministically in
#: tests/unit/test_signals.py). Each signal in two phases or more; the soak covers every phase.
SAMPLE = [
    ("SIGINT", "steady"),
    ("SIGINT", "draining"),
    ("SIGINT", "reporting"),
    ("SIGTERM", "fault"),
    ("SIGTERM", "reporting"),
    ("SIGKILL", "starting"),
    ("SIGKILL", "fault"),
]


@pytest.mark.parametrize(("sig", "phase"), SAMPLE)
def test_a_runner_killed_mid_run_leaves_nothing_and_the_next_run_starts_clean(
    sig: str, phase: str, tmp_path: Path
) -> None:
    point = KillPoint.seeded(sig, phase, random.Random(f"{sig}-{phase}"), TIMING)
    if phase in ("draining", "reporting"):
        # At the phase's first line, sent by the thread that reads it: draining lasts about
        # 0.06 s and reporting a few hundredths, so a kill a moment later may land in the
        # next one (the soak counts it where it landed; here it would be no test).
        point = KillPoint(sig, phase, 0.0)
    home = tmp_path / "home"
    spec = write_spec(tmp_path, TIMING)

    outcome = run_kill_point(point, home=home, spec=spec, workdir=tmp_path / "run", reaper=True)
    print(outcome.line())
    # The reports take a few hundredths of a second: on a busy machine the run can be past
    # main when the signal is sent, a kill point that tested nothing (the soak counts it as
    # missed). It is tried again, on a fresh run, at most twice.
    for attempt in (2, 3):
        if not (phase == "reporting" and outcome.landed == "exited"):
            break
        outcome = run_kill_point(
            point, home=home, spec=spec, workdir=tmp_path / f"run-{attempt}", reaper=True
        )
        print(f"attempt {attempt}: {outcome.line()}")

    assert outcome.lost == [], outcome.line()
    assert outcome.leftovers == [], outcome.line()
    assert outcome.start_checks == [], outcome.line()
    assert outcome.landed == phase, f"the kill landed in {outcome.landed}: {outcome.line()}"
    if phase == "fault":
        assert outcome.toxic_at_kill, "the fault's toxic was not on Toxiproxy at the kill"
    assert outcome.snapshot is not None
    assert outcome.snapshot.processes, "the run record listed no process"
    if sig == "SIGKILL":
        record = Path(outcome.snapshot.record_path).name
        assert f"run record {record}" in outcome.left_for_next_run
        assert next_run_checks(home, tmp_path / "next-up.txt", outcome.snapshot) == []
    else:
        assert outcome.left_for_next_run == []
