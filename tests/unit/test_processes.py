"""Children Domino starts die with the runner, but not with the thread that started them,
and an interrupt while one starts never leaves it running unowned.

Linux sends the parent-death signal when the *thread* that forked a child
ends; a service a fault's removal restarted in a worker thread (an async
fault scope's, a matrix worker's), or a Toxiproxy restarted there, used to be
killed when that thread ended, while its stack was still in use.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from harness.infra.processes import SPAWN_GATE_ENV, ManagedProcess, spawn
from harness.infra.readiness import wait_until
from harness.infra.signals import graceful_termination


def test_a_child_started_from_a_worker_thread_outlives_that_thread(tmp_path: Path) -> None:
    started: list[ManagedProcess] = []

    def start() -> None:
        started.append(spawn("sleeper", ["sleep", "60"], log_path=tmp_path / "s.log"))

    worker = threading.Thread(target=start)
    worker.start()
    worker.join(timeout=10)
    child = started[0]
    try:
        native = worker.native_id
        wait_until(
            lambda: not Path(f"/proc/self/task/{native}").exists(),
            timeout_s=10,
            what="the worker thread to be gone from the kernel",
        )
        # A parent-death signal would have been sent as the thread exited.
        with pytest.raises(subprocess.TimeoutExpired):
            child.popen.wait(timeout=1)
        assert child.alive()
    finally:
        child.stop()


def _signal_at_the_gate(gate: Path, signum: int) -> threading.Thread:
    """Send ``signum`` to this process while the first spawn waits at the gate, then let it go."""

    def run() -> None:
        wait_until(lambda: any(gate.glob("*.spawning")), timeout_s=30, what="a spawn")
        os.kill(os.getpid(), signum)
        (gate / next(gate.glob("*.spawning")).name.replace(".spawning", ".go")).touch()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupt_while_a_child_starts_is_raised_after_its_owner_adopted_it(
    signum: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    monkeypatch.setenv(SPAWN_GATE_ENV, str(gate))
    adopted: list[ManagedProcess] = []
    sender = _signal_at_the_gate(gate, signum)
    try:
        with pytest.raises(KeyboardInterrupt), graceful_termination():
            spawn("sleeper", ["sleep", "60"], log_path=tmp_path / "s.log", adopt=adopted.append)
        sender.join(timeout=30)
        assert len(adopted) == 1, "the interrupt was raised before the child was adopted"
        assert adopted[0].alive()  # its owner's to stop
    finally:
        for process in adopted:
            process.stop()


def test_an_interrupt_while_a_child_starts_stops_it_when_nobody_adopts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    monkeypatch.setenv(SPAWN_GATE_ENV, str(gate))
    sender = _signal_at_the_gate(gate, signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), graceful_termination():
        spawn("sleeper", ["sleep", "60"], log_path=tmp_path / "s.log")
    sender.join(timeout=30)
    child = int(next(gate.glob("*-sleeper.spawning")).read_text())
    assert _gone(child), f"the child {child} was left running"
