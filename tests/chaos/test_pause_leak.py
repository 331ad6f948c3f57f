"""A service the ``pause`` fault froze does not outlive a SIGKILLed runner.

A stopped process cannot act on SIGTERM (it stays pending until SIGCONT), so
with SIGTERM as the parent-death signal a paused service was seen still
stopped and alive 20 s after its runner was killed. Each way a run can end
must leave no such process: the fault's own cleanup (the scope resumes it),
the parent-death path (SIGKILL ends a stopped process), and the next run's
reconcile (SIGTERM and SIGCONT, so it wakes to exit).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import parse_topology, start_stack
from harness.infra.readiness import wait_until
from harness.infra.runstate import RunRecord, process_cmdline, reconcile, stopped
from harness.model.faults import build_fault
from tests.chaos.two_servers import TWO_SERVERS

ROOT = Path(__file__).resolve().parents[2]


#: The runner: brings the stack up, pauses ``back`` and holds it until killed.
RUNNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from harness import parse_topology, start_stack
    from harness.model.faults import build_fault

    folder = Path(sys.argv[1])
    topology = parse_topology(sys.argv[2], source="domino.yaml", base_dir=folder)
    with start_stack("local", topology=topology) as stack:
        with stack.inject(build_fault("pause", {"service": "back"})):
            print("paused", flush=True)
            time.sleep(600)
    """
)


def _gone(pid: int, cmdline: str) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts as gone)."""
    now = process_cmdline(pid)
    if now is None or now != cmdline:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


@pytest.fixture
def runner(home: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(tmp_path), TWO_SERVERS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
    # Whatever the test saw, leave nothing behind for the next test.
    reconcile("local")


def test_a_paused_service_dies_with_its_sigkilled_runner(
    home: Path, runner: subprocess.Popen[str]
) -> None:
    assert runner.stdout is not None
    line = runner.stdout.readline()
    assert line.strip() == "paused", runner.stderr.read() if runner.stderr else ""
    record = RunRecord.load(home / "runs" / f"local-{runner.pid}.json")
    children = {p.name: p for p in record.processes}
    assert sorted(children) == ["back", "front", "toxiproxy"]
    # The fault really froze it (a stop takes effect when the process is next scheduled).
    wait_until(lambda: stopped(children["back"].pid), timeout_s=5, what="back to be stopped")

    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=10)

    wait_until(
        lambda: all(_gone(p.pid, p.cmdline) for p in children.values()),
        timeout_s=10,
        what="every process of the killed runner, the paused one included, to be gone",
    )
    # The next run's reconcile finds nothing left to stop, and removes the record.
    assert reconcile("local") == []
    assert not (home / "runs" / f"local-{runner.pid}.json").exists()


def test_reconcile_wakes_a_paused_leftover_so_it_ends_on_sigterm(home: Path) -> None:
    # A process frozen by a run whose parent-death signal could not reach it
    # (another system, or a runner from before this fix).
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    try:
        os.kill(leftover.pid, signal.SIGSTOP)
        wait_until(lambda: stopped(leftover.pid), timeout_s=5, what="sleep to be stopped")
        record = RunRecord("local", owner_pid=dead_owner.pid, owner_cmdline="true")
        record.add_process("back", leftover.pid)
        removed = reconcile("local")
        assert removed == [f"process back (pid {leftover.pid}, was paused)"]
        # Ended by the SIGTERM once continued, not by the SIGKILL after the grace time.
        assert leftover.wait(timeout=10) == -signal.SIGTERM
        assert not record.path.exists()
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


def test_the_pause_faults_own_scope_resumes_the_service(home: Path, tmp_path: Path) -> None:
    topology = parse_topology(TWO_SERVERS, source="domino.yaml", base_dir=tmp_path)
    with start_stack("local", topology=topology) as stack:
        record = RunRecord.load(home / "runs" / f"local-{os.getpid()}.json")
        back = next(p for p in record.processes if p.name == "back")
        with stack.inject(build_fault("pause", {"service": "back"})):
            wait_until(lambda: stopped(back.pid), timeout_s=5, what="back to be stopped")
        wait_until(lambda: not stopped(back.pid), timeout_s=5, what="back to run again")
        assert stack.injector.leftovers() == []
    assert _gone(back.pid, back.cmdline)
