"""Children Domino starts die with the runner, but not with the thread that started them.

Linux sends the parent-death signal when the *thread* that forked a child
ends; a service a fault's removal restarted in a worker thread (an async
fault scope's, a matrix worker's), or a Toxiproxy restarted there, used to be
killed when that thread ended, while its stack was still in use.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from harness.infra.processes import ManagedProcess, spawn
from harness.infra.readiness import wait_until


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
