"""A SIGTERM or SIGINT that lands while Domino starts a child ends the run: exit 130, nothing left.

The red team's runs went on (and exited 0 about 43 s later) when the signal
landed while a child process was being started, 6 of 7 times at "starting
Toxiproxy". Here the signal lands exactly then, at every spawn point of a
``domino run``: Toxiproxy, each service of the bank, and a service restarted
when a ``crash`` fault is removed. ``$DOMINO_TEST_SPAWN_GATE``
(:mod:`harness.infra.processes`) holds each spawn on the runner's spawner
thread until the test lets it go; at the chosen one the test sends the
signal, waits until the kernel has delivered it, and only then lets the
spawn finish.

Checked after each: the exit code is 130 within a deadline; the runner said
everything it started is stopped; no run record and no run folder remain;
no process of the run is alive (its record and /proc); and, through
:mod:`tests.trust.reaper`, no child of the runner outlived it: Domino
stopped each child itself, the one being started included, rather than the
kernel's parent-death signal killing a child it had lost track of.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.infra.processes import SPAWN_GATE_ENV
from harness.infra.readiness import ReadinessTimeoutError, wait_until
from harness.infra.runstate import RunRecord
from tests.trust.killpoints import REPO, Snapshot, runner_env, scan_proc, signal_delivered

#: How long the runner may take to end after the signal (teardown of what started).
EXIT_DEADLINE_S = 30.0

_SPEC = """\
# The bank with a pay crash: every spawn point of a run (Toxiproxy, each service,
# pay started again when the crash is removed).
id: spawn-points
title: Signals while Domino starts a child
date: "2026-12-01"
sources: [tests/trust/test_spawn_interrupts.py]
topology: bank
profiles: [hardened]
steady_state_s: 0.5
recovery_s: 0.5
client_timeout_s: 3
journeys:
  - {journey: balance, users: 1, think_ms: 100}
timeline:
  - {fault: crash, service: pay, onset_s: 0, hold_s: 0.5}
expect:
  hardened:
    journeys:
      balance: [healthy, degraded, failed]
"""

#: (name of the child being started, which start of it, signal). Services are
#: started in the topology's order: bank, card, pay, remit; pay's second start
#: is its restart when the crash fault is removed.
POINTS = [
    ("toxiproxy", 1, "SIGTERM"),
    ("toxiproxy", 1, "SIGINT"),
    ("bank", 1, "SIGINT"),
    ("card", 1, "SIGTERM"),
    ("pay", 1, "SIGINT"),
    ("remit", 1, "SIGTERM"),
    ("pay", 2, "SIGTERM"),
    ("pay", 2, "SIGINT"),
]


class _GatedRun:
    """``domino run`` under the reaper, each spawn held at the gate until released."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "home"
        self.gate = tmp_path / "gate"
        self.gate.mkdir()
        spec = tmp_path / "spawn-points.yaml"
        spec.write_text(_SPEC)
        self.reaped = tmp_path / "reaped.json"
        self.stderr_path = tmp_path / "stderr.txt"
        env = {**runner_env(self.home), SPAWN_GATE_ENV: str(self.gate)}
        runner = [sys.executable, "-m", "harness.cli", "run", str(spec)]
        runner += ["--report", str(tmp_path / "report")]
        with self.stderr_path.open("w") as stderr:
            self.reaper = subprocess.Popen(
                [sys.executable, "-m", "tests.trust.reaper", str(self.reaped), "--", *runner],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )
        pid_file = Path(f"{self.reaped}.pid")
        wait_until(pid_file.exists, timeout_s=30, what="the reaper to start the runner")
        wait_until(lambda: pid_file.read_text().strip() != "", timeout_s=5, what="runner pid")
        self.pid = int(pid_file.read_text())
        self.released: set[str] = set()

    def held(self) -> list[str]:
        """Spawns waiting at the gate, in order (``NN-NAME``)."""
        waiting = {p.name.removesuffix(".spawning") for p in self.gate.glob("*.spawning")}
        return sorted(waiting - self.released)

    def release(self, stem: str) -> None:
        (self.gate / f"{stem}.go").touch()
        self.released.add(stem)

    def record(self) -> RunRecord | None:
        try:
            return RunRecord.load(self.home / "runs" / f"local-{self.pid}.json")
        except (OSError, ValueError):
            return None

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        for stem in self.held():
            self.release(stem)
        if self.reaper.poll() is None:
            os.killpg(self.reaper.pid, signal.SIGKILL)
            self.reaper.wait(timeout=30)


@pytest.mark.parametrize(("name", "nth", "sig"), POINTS)
def test_a_signal_while_a_child_is_started_ends_the_run_with_130_and_leaves_nothing(
    name: str, nth: int, sig: str, tmp_path: Path
) -> None:
    signum = getattr(signal, sig)
    run = _GatedRun(tmp_path)
    snapshot = Snapshot("local", str(run.home), str(run.home / "runs" / f"local-{run.pid}.json"))
    try:
        seen = 0
        target = None
        deadline = time.monotonic() + 120
        while target is None:
            assert time.monotonic() < deadline, f"never reached {name} #{nth}: {run.stderr()}"
            assert run.reaper.poll() is None, f"the run ended first: {run.stderr()}"
            for stem in run.held():
                if stem.split("-", 1)[1] == name:
                    seen += 1
                    if seen == nth:
                        target = stem
                        break
                run.release(stem)
            else:
                time.sleep(0.01)
        snapshot.read()  # what the run had started before this child

        os.kill(run.pid, signum)
        signalled = time.monotonic()
        wait_until(
            lambda: signal_delivered(run.pid, signum), timeout_s=10, what=f"{sig} to be delivered"
        )
        run.release(target)  # the spawn completes after the signal has landed
        try:
            wait_until(
                lambda: run.reaper.poll() is not None or bool(run.held()),
                timeout_s=EXIT_DEADLINE_S,
                what=f"the runner to end after {sig}",
            )
        except ReadinessTimeoutError:
            pytest.fail(f"still running {EXIT_DEADLINE_S:g} s after {sig}: {run.stderr()}")
        assert not run.held(), f"after {sig} the run went on to start {run.held()}"
        run.reaper.wait(timeout=30)
        took_s = time.monotonic() - signalled
    finally:
        run.close()

    reaped = json.loads(run.reaped.read_text())
    stderr = run.stderr()
    assert reaped["orphans"] == [], f"children Domino did not stop itself: {reaped}"
    assert reaped["lived_on"] == []
    assert reaped["exit_code"] == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "everything it started is stopped" in stderr.splitlines()[-1], stderr
    assert took_s < EXIT_DEADLINE_S
    snapshot.read()
    assert not Path(snapshot.record_path).exists(), "the run record was left"
    assert not list((run.home / "local").glob("run-*")), "the run folder was left"
    assert scan_proc(snapshot) == []
