"""Cleanup under every ending, docker backend: `domino run --backend docker` killed mid-run.

SIGTERM with the fault applied removes every container and the network
labelled with the run (``domino.run``) and its run record before exiting
130. SIGKILL with the fault applied leaves them, with the toxic still on the
running Toxiproxy container; the next docker run (`domino up --backend docker
--json`) removes them in its reconcile, starts with a Toxiproxy holding no
fault, and leaves nothing when stopped. Checks: tests/trust/killpoints.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.trust.killpoints import (
    KillPoint,
    Outcome,
    Timing,
    clean_up_after,
    next_run_checks,
    run_kill_point,
    write_spec,
)

pytestmark = pytest.mark.docker

TIMING = Timing(steady_s=1.0, hold_s=3.0, recovery_s=1.0)


def _kill(sig: str, tmp_path: Path) -> Outcome:
    point = KillPoint.seeded(sig, "fault", random.Random(f"docker-{sig}"), TIMING, "docker")
    outcome = run_kill_point(
        point, home=tmp_path / "home", spec=write_spec(tmp_path, TIMING), workdir=tmp_path / "run"
    )
    print(outcome.line())
    return outcome


def test_sigterm_with_the_fault_applied_removes_every_container_and_network(
    tmp_path: Path,
) -> None:
    outcome = _kill("SIGTERM", tmp_path)
    try:
        assert outcome.lost == [], outcome.line()
        assert outcome.leftovers == [], outcome.line()
        assert outcome.start_checks == [], outcome.line()
        assert outcome.landed == "fault"
        assert outcome.toxic_at_kill
        assert outcome.snapshot is not None
        assert outcome.snapshot.docker_run
        assert outcome.left_for_next_run == []
    finally:
        if outcome.snapshot is not None and not outcome.clean:
            clean_up_after(outcome.snapshot)


def test_sigkill_with_the_fault_applied_leaves_what_the_next_run_removes(
    tmp_path: Path,
) -> None:
    outcome = _kill("SIGKILL", tmp_path)
    assert outcome.snapshot is not None
    try:
        assert outcome.leftovers == [], outcome.line()
        assert outcome.landed == "fault"
        assert outcome.toxic_at_kill
        left = outcome.left_for_next_run
        assert any(item.startswith("container ") for item in left), left
        assert any(item.startswith("network ") for item in left), left
        assert any(item.startswith("toxic ") for item in left), left  # on the live container
        problems = next_run_checks(tmp_path / "home", tmp_path / "next-up.txt", outcome.snapshot)
        assert problems == []
    finally:
        clean_up_after(outcome.snapshot)  # a no-op when the next run removed everything
