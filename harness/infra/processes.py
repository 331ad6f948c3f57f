"""Child processes that never outlive the run that started them.

Each child gets its own session (a terminal's Ctrl-C reaches only the runner,
which then stops children in order) and, on Linux, a parent-death signal so
that even a SIGKILLed runner takes its children with it. The run-state file
(see :mod:`harness.runstate`) is the second line of defence on other systems.

The parent-death signal is SIGKILL, not SIGTERM: it fires only when the
runner could not clean up (SIGKILL, a crash), and a child frozen by the
``pause`` fault (SIGSTOP) cannot act on a SIGTERM (it stays pending until a
SIGCONT nobody would send), so it outlived its runner, stopped. SIGKILL ends a
stopped process too. A runner that ends normally, or by SIGINT/SIGTERM, still
stops its children gracefully (:meth:`ManagedProcess.stop`).

Linux sends the parent-death signal when the *thread* that started a child
ends, not the process. Children are therefore started from one spawner
thread that lives as long as the runner: a service restarted by a fault's
removal in a worker thread (an async scope's, a matrix worker's) or a
Toxiproxy restarted there is not killed when that thread ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PARENT_DEATH_SIGNAL", "ManagedProcess", "die_with_parent", "spawn"]

_PR_SET_PDEATHSIG = 1


#: The signal a child gets when the thread that started it ends (see the module docstring).
PARENT_DEATH_SIGNAL = signal.SIGKILL


def die_with_parent(parent_pid: int) -> None:
    """In a forked child: be killed (SIGKILL) when ``parent_pid`` (the forking thread) ends,
    even while stopped."""
    _die_with_parent(parent_pid)


def _die_with_parent(parent_pid: int) -> None:  # runs in the child, before exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL)
        if os.getppid() != parent_pid:  # the parent died before prctl took hold
            os._exit(1)


@dataclass
class ManagedProcess:
    """A started child process with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the process's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:]) or "(log is empty)"

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGTERM)
            self.popen.send_signal(signal.SIGCONT)  # a paused process must wake to exit
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
            self.popen.wait(timeout=timeout_s)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start ``argv`` with stdout and stderr going to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    parent_pid = os.getpid()
    with log_path.open("ab") as log:

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                pass_fds=tuple(pass_fds),
                cwd=cwd,
                start_new_session=True,
                preexec_fn=lambda: _die_with_parent(parent_pid),  # noqa: PLW1509
            )

        popen = _SPAWNER.run(start)
    return ManagedProcess(name, popen, log_path)


class _Spawner:
    """The one thread children are started from (see the module docstring).

    An idle pool thread waits for work until the interpreter exits, so it never
    ends before the runner does; a forked copy of the runner makes its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._owner_pid = 0

    def run(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._pool is None or self._owner_pid != os.getpid():
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="domino-spawn")
                self._owner_pid = os.getpid()
            pool = self._pool
        return pool.submit(start).result()


_SPAWNER = _Spawner()
