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

A SIGINT or SIGTERM that arrives while a child is being started is held
until the child is its owner's (:func:`spawn`'s ``adopt``), then raised: the
run ends with everything it started stopped, the new child included.
Before, a child was started and not yet recorded when the interrupt was
raised, or, forked from the main thread, the interrupt was raised inside an
at-fork hook and swallowed. ``$DOMINO_TEST_SPAWN_GATE`` holds each spawn for
tests that deliver a signal exactly then (:func:`spawn_gate`); the service
host's starts are held there too (:mod:`harness.infra.service_host`).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from harness.infra.signals import interrupts_deferred

__all__ = [
    "PARENT_DEATH_SIGNAL",
    "SPAWN_GATE_ENV",
    "ChildProcess",
    "ManagedProcess",
    "die_with_parent",
    "hand_over",
    "spawn",
    "spawn_gate",
    "stop_gracefully",
    "wait_gate_released",
]

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


class ChildProcess(Protocol):
    """What the backends do with a process they started: a :class:`ManagedProcess`, or a
    service forked by the service host (:class:`harness.infra.service_host.HostedProcess`)."""

    name: str
    log_path: Path

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool: ...

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def wait(self, timeout_s: float) -> int: ...

    def send_signal(self, signum: int) -> None: ...

    def stop(self, timeout_s: float = 5.0) -> None: ...

    def log_tail(self, lines: int = 15) -> str: ...


def read_log_tail(log_path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log, for error messages."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(log is empty)"


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

    def poll(self) -> int | None:
        """Its return code once it has exited (minus the signal for a signal), else None."""
        return self.popen.poll()

    def kill(self) -> None:
        """SIGKILL, unless it has exited already."""
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()

    def wait(self, timeout_s: float) -> int:
        """Its return code; subprocess.TimeoutExpired if it has not exited within ``timeout_s``."""
        return self.popen.wait(timeout=timeout_s)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the process's log, for error messages."""
        return read_log_tail(self.log_path, lines)

    def send_signal(self, signum: int) -> None:
        """Send ``signum``, unless it has exited already."""
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signum)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        stop_gracefully(self, timeout_s)


def stop_gracefully(process: ChildProcess, timeout_s: float) -> None:
    """SIGTERM (and SIGCONT: a paused process must wake to exit), a wait of ``timeout_s``,
    then SIGKILL and another wait: how every child Domino started is stopped."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGCONT)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    cwd: Path | None = None,
    adopt: Callable[[ManagedProcess], None] | None = None,
) -> ManagedProcess:
    """Start ``argv`` with stdout and stderr going to ``log_path``.

    ``adopt`` records the new child as its owner's (in its list of what to
    stop, in the run record) before any interrupt is raised: a SIGINT or
    SIGTERM arriving while the child starts is held until it is adopted, then
    raised as KeyboardInterrupt, so the owner's cleanup stops it. Without
    ``adopt`` such an interrupt stops the child before it is raised. Either
    way no child is left that nobody stops.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    parent_pid = os.getpid()
    with interrupts_deferred() as received, log_path.open("ab") as log:

        def start() -> subprocess.Popen[bytes]:
            gate = spawn_gate(name)
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                pass_fds=tuple(pass_fds),
                cwd=cwd,
                start_new_session=True,
                preexec_fn=lambda: _in_child(parent_pid, gate),  # noqa: PLW1509
            )

        process = ManagedProcess(name, _SPAWNER.run(start), log_path)
        hand_over(process, adopt, interrupted=bool(received))
    return process


_Child = TypeVar("_Child", bound=ChildProcess)


def hand_over(
    process: _Child, adopt: Callable[[_Child], None] | None, *, interrupted: bool
) -> None:
    """Give a child just started to its owner (``adopt``), inside ``interrupts_deferred``.

    A child nobody could own is stopped here: when ``adopt`` fails, and when
    there is no ``adopt`` and an interrupt is held (it is raised as the deferring
    block ends, and nothing would stop the child then).
    """
    try:
        if adopt is not None:
            adopt(process)
    except BaseException:
        process.stop()
        raise
    if adopt is None and interrupted:
        process.stop()


def _in_child(parent_pid: int, gate: str | None) -> None:  # in the child, before exec
    _die_with_parent(parent_pid)
    if gate is not None:
        _wait_at_gate(gate)


#: Test seam: a folder; each spawn waits there until the test lets it go (see spawn_gate).
SPAWN_GATE_ENV = "DOMINO_TEST_SPAWN_GATE"
_GATE_WAIT_S = 60.0
_gate_count = itertools.count(1)


def spawn_gate(name: str) -> str | None:
    """For tests only, when ``$DOMINO_TEST_SPAWN_GATE`` names a folder: where this spawn waits.

    The new child, forked and not yet running its command, writes
    ``NN-NAME.spawning`` there (NN counts this process's spawns from 01) and
    waits until ``NN-NAME.go`` appears (at most 60 s); the spawner thread waits
    for it meanwhile, as it waits for every exec. A test can so deliver a
    signal exactly while a child is being started: the child exists, and the
    runner's main thread is waiting for the spawn to finish.
    """
    folder = os.environ.get(SPAWN_GATE_ENV)
    if not folder:
        return None
    return str(Path(folder) / f"{next(_gate_count):02d}-{name}")


def wait_gate_released(stem: str) -> None:
    """Wait (at most 60 s) until the test lets the spawn at ``stem`` go, as the spawner
    thread waits for an exec: for a child another process forked (the service host's)."""
    deadline = time.monotonic() + _GATE_WAIT_S
    while not os.path.exists(f"{stem}.go") and time.monotonic() < deadline:
        time.sleep(0.005)


def _wait_at_gate(stem: str) -> None:
    """In the forked child: only system calls (a forked copy of a threaded process)."""
    fd = os.open(f"{stem}.spawning", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    deadline = time.monotonic() + _GATE_WAIT_S
    while not os.path.exists(f"{stem}.go") and time.monotonic() < deadline:
        time.sleep(0.005)


class _Spawner:
    """The one thread children are started from (see the module docstring).

    A daemon thread waiting for work: it lives until the runner's process
    exits (a daemon is never waited for at exit, so a runner interrupted
    while the thread was being started cannot hang there), and a forked copy
    of the runner makes its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._owner_pid = 0

    def run(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._owner_pid != os.getpid():
                self._jobs = queue.SimpleQueue()
                self._owner_pid = os.getpid()
                threading.Thread(
                    target=_serve, args=(self._jobs,), name="domino-spawn", daemon=True
                ).start()
            jobs = self._jobs
        job = _Job(start)
        jobs.put(job)
        return job.result()


class _Job:
    """One spawn for the spawner thread, and its outcome."""

    def __init__(self, start: Callable[[], subprocess.Popen[bytes]]) -> None:
        self.start = start
        self.done = threading.Event()
        self.popen: subprocess.Popen[bytes] | None = None
        self.error: BaseException | None = None

    def result(self) -> subprocess.Popen[bytes]:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.popen is not None
        return self.popen


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        job = jobs.get()
        try:
            job.popen = job.start()
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that asked
            job.error = exc
        finally:
            job.done.set()


_SPAWNER = _Spawner()
