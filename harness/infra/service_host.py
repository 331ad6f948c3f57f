"""The runner's side of the service host: Domino's own services forked from one preloaded process.

Each of Domino's Python services (``{python} -m services.NAME``) spent about
half a second of CPU importing FastAPI, pydantic, httpx and uvicorn, four at
once on a stack of four. :class:`ServiceHost` starts ``services.kit.host``
once, as an ordinary child (:func:`~harness.infra.processes.spawn`: its own
session, killed with the runner, in the run record), which makes those
imports and then forks each service on request over a socket pair
(:meth:`ServiceHost.start`). The fork becomes what ``python -m`` would have
been (see the host's docstring); the runner gets back its pid, and the host
reports each exit, which a reader thread takes (:class:`HostedProcess`).

Chain of deaths: a SIGKILLed runner's parent-death signal kills the host;
the host's kills its services. Each service is in the run record with its
pid, start time and command line (a fork's command line is the host's), so
a next run's reconcile recognises and stops whatever might be left.

A host that dies unexpectedly is seen at once (its socket closes): every
service it had still running is killed (by the parent-death signal, and
here, to be sure) and reported dead with SIGKILL, waiting starts fail with
:class:`~harness.errors.ServiceHostError`, and :attr:`ServiceHost.usable` is
False, so the backend starts services as separate processes from then on.

``$DOMINO_SERVICE_HOST=off`` turns the host off (:func:`host_wanted`):
every service is spawned as its own process, as before.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ServiceHostError, UsageError
from harness.infra.processes import (
    ManagedProcess,
    hand_over,
    read_log_tail,
    spawn,
    spawn_gate,
    stop_gracefully,
    wait_gate_released,
)
from harness.infra.runstate import process_started
from harness.infra.signals import interrupts_deferred

__all__ = [
    "HOST_MODULE",
    "SERVICE_HOST_ENV",
    "HostedProcess",
    "ServiceHost",
    "host_wanted",
    "hosted_module",
]

#: ``off`` starts every service as its own process (the default is ``on``).
SERVICE_HOST_ENV = "DOMINO_SERVICE_HOST"
HOST_MODULE = "services.kit.host"
#: Domino's own services package (a sibling of ``harness``), found without importing it.
_OWN_SERVICES = Path(__file__).resolve().parents[2] / "services"
_MESSAGE_MAX_BYTES = 1 << 20
#: How long a start may wait for the host's answer (the host may still be importing).
_START_TIMEOUT_S = 60.0
#: How long it may still wait once an interrupt is held (the run is ending).
_INTERRUPTED_WAIT_S = 5.0
_SERVICE_MODULE = re.compile(r"services\.[A-Za-z_][A-Za-z0-9_]*")


def host_wanted() -> bool:
    """Whether ``$DOMINO_SERVICE_HOST`` leaves the host on (unset: on)."""
    value = os.environ.get(SERVICE_HOST_ENV, "on").strip().lower()
    if value in ("on", "1", "yes", ""):
        return True
    if value in ("off", "0", "no"):
        return False
    raise UsageError(
        f"${SERVICE_HOST_ENV}={value!r}: expected on or off "
        "(off starts each of Domino's services as its own process)"
    )


def hosted_module(argv: Sequence[str], cwd: Path) -> str | None:
    """The module of one of Domino's own services that ``argv`` runs, if the host can run it.

    Only ``{python} -m services.NAME [args]`` with this interpreter, for a
    service of Domino's own ``services`` package, and only when ``cwd`` has
    no other ``services`` package that ``python -m`` would have found first.
    Any other command is started as its own process.
    """
    if len(argv) < 3 or argv[0] != sys.executable or argv[1] != "-m":
        return None
    module = argv[2]
    if not _SERVICE_MODULE.fullmatch(module):
        return None
    if not (_OWN_SERVICES / module.split(".")[1] / "__main__.py").is_file():
        return None
    shadow = cwd / "services"
    if shadow.exists() and shadow.resolve() != _OWN_SERVICES.resolve():
        return None
    return module


@dataclass(eq=False)
class HostedProcess:
    """A service the host forked: a :class:`~harness.infra.processes.ChildProcess`.

    Not the runner's child: its exit is known from the host's report.
    """

    name: str
    pid: int
    log_path: Path
    host: ServiceHost = field(repr=False)

    def poll(self) -> int | None:
        """Its return code once the host has reported its exit, else None."""
        return self.host.exit_code(self.pid)

    def alive(self) -> bool:
        return self.poll() is None

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout_s: float) -> int:
        """Its return code; subprocess.TimeoutExpired if it has not exited within ``timeout_s``."""
        code = self.host.wait_exit(self.pid, timeout_s)
        if code is None:
            raise subprocess.TimeoutExpired(self.name, timeout_s)
        return code

    def send_signal(self, signum: int) -> None:
        """Send ``signum``, unless its exit has been reported. (The host reaps it before
        the report arrives: a pid reused within that moment could get the signal.)"""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        stop_gracefully(self, timeout_s)

    def log_tail(self, lines: int = 15) -> str:
        """Its log's last lines; once the host is gone, and this service with it, how."""
        tail = read_log_tail(self.log_path, lines)
        return tail if self.host.usable else f"{tail}\n({self.host.gone(with_log=False)})"


class ServiceHost:
    """A running service host and the reader thread that takes its answers.

    Use :meth:`open` (a context manager), or :meth:`launch` and :meth:`close`.
    """

    def __init__(self, process: ManagedProcess, control: socket.socket) -> None:
        self.process = process
        self._control = control
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._answers: dict[int, dict[str, Any]] = {}
        self._codes: dict[int, int] = {}
        #: pid -> start time of each service started and not reported exited.
        self._live: dict[int, str] = {}
        self._dead = False
        self._reader = threading.Thread(target=self._read, name="domino-service-host", daemon=True)
        self._reader.start()

    @classmethod
    def launch(
        cls, log_path: Path, *, adopt: Callable[[ManagedProcess], None] | None = None
    ) -> ServiceHost:
        """Start the host; it imports meanwhile, and answers starts once it has."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = spawn(
                "service-host",
                [sys.executable, "-m", HOST_MODULE, str(theirs.fileno())],
                log_path=log_path,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                pass_fds=[theirs.fileno()],
                cwd=_OWN_SERVICES.parent,
                adopt=adopt,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(process, ours)

    @classmethod
    @contextlib.contextmanager
    def open(cls, log_path: Path) -> Any:
        host = cls.launch(log_path)
        try:
            yield host
        finally:
            host.close()

    @property
    def usable(self) -> bool:
        """False once the host has exited."""
        return not self._dead

    def start(
        self,
        name: str,
        module: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        listen_fd: int | None = None,
        adopt: Callable[[HostedProcess], None] | None = None,
    ) -> HostedProcess:
        """Fork ``python -m MODULE ARGS`` in the host, as :func:`~harness.infra.processes.spawn`
        starts a command: ``adopt`` and interrupts as there, the spawn gate too.

        ``listen_fd``: a listening socket of the runner's, passed to the service
        at the same descriptor number. ServiceHostError if the host is gone,
        cannot fork or does not answer in time.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with interrupts_deferred() as received:
            gate = spawn_gate(name)
            request_id = next(self._ids)
            request = {
                "op": "start",
                "id": request_id,
                "name": name,
                "module": module,
                "args": list(args),
                "env": dict(env),
                "cwd": str(cwd),
                "log": str(log_path),
                "listen_fd": listen_fd,
                "gate": gate,
            }
            pid = self._ask(request, [listen_fd] if listen_fd is not None else [], name, received)
            if gate is not None:
                wait_gate_released(gate)
            process = HostedProcess(name, pid, log_path, self)
            hand_over(process, adopt, interrupted=bool(received))
        return process

    def _ask(
        self, request: dict[str, Any], fds: list[int], name: str, interrupts: list[int]
    ) -> int:
        """Send a start request; the new service's pid. An interrupt held meanwhile
        (``interrupts``) cuts the wait for a host still importing to a few seconds."""
        request_id = request["id"]
        try:
            with self._send_lock:
                socket.send_fds(self._control, [json.dumps(request).encode()], fds)
        except OSError as exc:
            raise ServiceHostError(
                f"service {name}: the service host is gone ({exc.strerror or exc}); "
                f"{self._host_said()}"
            ) from None
        deadline = time.monotonic() + _START_TIMEOUT_S
        with self._cond:
            while request_id not in self._answers and not self._dead:
                if interrupts:
                    deadline = min(deadline, time.monotonic() + _INTERRUPTED_WAIT_S)
                    interrupts = []  # the deadline is set once
                left = deadline - time.monotonic()
                if left <= 0:
                    # The request is still queued: shut the host down, so it cannot fork
                    # this service later, with nobody owning it (it kills what it forked).
                    self._shut()
                    raise ServiceHostError(
                        f"service {name}: the service host did not answer in time; "
                        f"{self._host_said()}"
                    )
                self._cond.wait(min(left, 0.1))  # an interrupt is seen within 0.1 s
            answer = self._answers.pop(request_id, None)
        if answer is None:
            raise ServiceHostError(
                f"service {name}: the service host exited before starting it; {self._host_said()}"
            )
        if answer["op"] != "started":
            raise ServiceHostError(f"service {name}: the service host: {answer.get('error')}")
        return int(answer["pid"])

    def gone(self, *, with_log: bool = True) -> str:
        """The host's end in words, for messages once it is not :attr:`usable`: with its
        log's last lines, or (``with_log=False``) in one line naming the log."""
        code = self.process.poll()
        how = "is gone" if code is None else f"exited ({_exit_words(code)})"
        said = self._host_said() if with_log else f"its log: {self.process.log_path}"
        return (
            f"the service host (pid {self.process.pid}) {how} and its services died with it; {said}"
        )

    def _host_said(self) -> str:
        return f"last lines of {self.process.log_path}:\n{self.process.log_tail(5)}"

    def exit_code(self, pid: int) -> int | None:
        with self._cond:
            return self._codes.get(pid)

    def wait_exit(self, pid: int, timeout_s: float) -> int | None:
        """``pid``'s return code once reported, waiting at most ``timeout_s``; None if not yet."""
        with self._cond:
            self._cond.wait_for(lambda: pid in self._codes, timeout_s)
            return self._codes.get(pid)

    def _read(self) -> None:
        """The reader thread: the host's answers and exit reports, until its socket closes
        (or a message it cannot read: the host is then as good as gone)."""
        try:
            self._take_messages()
        finally:
            self._host_gone()

    def _take_messages(self) -> None:
        while True:
            try:
                data, _fds, _flags, _addr = socket.recv_fds(self._control, _MESSAGE_MAX_BYTES, 0)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            with self._cond:
                op = message["op"]
                if op == "exit":
                    pid = int(message["pid"])
                    self._live.pop(pid, None)
                    self._codes[pid] = int(message["code"])
                else:
                    if op == "started":
                        pid = int(message["pid"])
                        self._codes.pop(pid, None)  # a pid the kernel gave out again
                        self._live[pid] = process_started(pid) or ""
                    self._answers[int(message["id"])] = message
                self._cond.notify_all()

    def _host_gone(self) -> None:
        """The host's socket closed: its services still running die with it (SIGKILL)."""
        with self._cond:
            self._dead = True
            orphans = dict(self._live)
            self._cond.notify_all()
        for pid, started in orphans.items():
            _kill_if_same(pid, started)
        with self._cond:
            for pid in orphans:
                self._codes.setdefault(pid, -signal.SIGKILL)
            self._live.clear()
            self._cond.notify_all()

    def _shut(self) -> None:
        """Close the runner's end for both directions: the host ends, killing its services,
        and the reader thread sees the end (the host is no longer :attr:`usable`)."""
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)

    def close(self, timeout_s: float = 5.0) -> None:
        """End the host (it kills any service still running) and its reader thread."""
        self._shut()
        self._reader.join(timeout=timeout_s)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.stop(timeout_s)
        self._control.close()


def _exit_words(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"code {code}"


def _kill_if_same(pid: int, started: str, timeout_s: float = 5.0) -> None:
    """SIGKILL ``pid`` if it is still the process that started at ``started``; wait for it."""
    deadline = time.monotonic() + timeout_s
    while started and process_started(pid) == started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
