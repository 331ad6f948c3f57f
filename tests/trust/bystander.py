"""Another live Domino run that a soak's runs must never touch, and stale records naming it.

:func:`bystander` starts ``domino up --json`` (local backend, bank, hardened)
in a ``DOMINO_HOME`` of its own, beside a *sentinel*: a small process that
writes down every signal it receives (SIGKILL and SIGSTOP cannot be caught;
they show as a dead or stopped process). :meth:`Bystander.plant` writes into
the soak's ``DOMINO_HOME`` a run record such as a SIGKILLed run leaves when
its pids have been reused (pid_max is 32,768 on many hosts): a dead owner,
and as its processes the bystander's own (its runner, Toxiproxy, each
service) and the sentinel, each by pid and command line, either without a
start time (every record before start times were kept; the red team's
shape) or with another start time (the process the pid named before); and as
its run folder the bystander's. :meth:`Bystander.touched` says what is not as
it was: a process gone, replaced (another start time) or stopped, a signal
the sentinel received, the Toxiproxy or a service not answering, the run
folder or the bystander's record gone.

A record that names a process exactly (pid, start time and command line) of
a run in another ``DOMINO_HOME`` is not planted: reconcile takes that as
proof (:mod:`harness.infra.runstate`); no stale record of a real run can
hold another process's start time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.infra.readiness import wait_until
from harness.infra.runstate import RecordedProcess, RunRecord, process_cmdline, process_started
from tests.trust.killpoints import REPO, runner_env

#: Writes each signal it gets (by name, one a line) to the file named by its argument.
_SENTINEL = """\
import signal, sys
log = open(sys.argv[1], "a", buffering=1)
def note(signum, _frame):
    log.write(signal.Signals(signum).name + "\\n")
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCONT, signal.SIGUSR1,
          signal.SIGUSR2, signal.SIGQUIT, signal.SIGALRM):
    signal.signal(s, note)
log.write("ready\\n")
while True:
    signal.pause()
"""


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return "gone"


@dataclass
class Bystander:
    """A live run in another DOMINO_HOME: its processes as first seen, its endpoints."""

    home: Path
    up: subprocess.Popen[str]
    sentinel: subprocess.Popen[bytes]
    sentinel_log: Path
    endpoints: dict[str, object]
    run_dir: str
    processes: list[RecordedProcess] = field(default_factory=list)
    planted: int = 0

    @property
    def record_path(self) -> Path:
        return self.home / "runs" / f"local-{self.up.pid}.json"

    def plant(self, home: Path, backend: str) -> Path:
        """A stale record in ``home`` naming this run's processes and run folder."""
        self.planted += 1
        reused = self.planted % 2 == 0  # alternately: no start time, another start time
        named = [
            {"name": p.name, "pid": p.pid, "cmdline": p.cmdline}
            | ({"started": f"{p.started}0"} if reused else {})
            for p in self.processes
        ]
        owner = _dead_pid()
        path = home / "runs" / f"{backend}-{owner}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "backend": backend,
            "owner_pid": owner,
            "owner_cmdline": f"{sys.executable} -m harness.cli run kill-points.yaml",
            "processes": named,
            "extra": {"run_dir": self.run_dir},
        }
        path.write_text(json.dumps(record))
        return path

    def touched(self) -> list[str]:
        """What is not as it was (nothing, if no run touched it)."""
        found = []
        for p in self.processes:
            state = _state(p.pid)
            if process_started(p.pid) != p.started or process_cmdline(p.pid) != p.cmdline:
                found.append(f"{p.name} (pid {p.pid}) is gone or replaced (state {state})")
            elif state == "T":
                found.append(f"{p.name} (pid {p.pid}) is stopped")
        received = [line for line in self.sentinel_log.read_text().splitlines() if line != "ready"]
        if received:
            found.append(f"the sentinel received {', '.join(received)}")
        urls = {"toxiproxy": f"{self.endpoints['toxiproxy']}/version"}
        services = self.endpoints.get("services")
        assert isinstance(services, dict)
        urls |= {name: f"{url}/health" for name, url in services.items()}
        for name, url in urls.items():
            try:
                answer = str(httpx.get(url, timeout=5).status_code)
            except httpx.HTTPError as exc:
                answer = type(exc).__name__
            if not answer.startswith("2"):
                found.append(f"{name} does not answer ({answer})")
        if not Path(self.run_dir).is_dir():
            found.append(f"its run folder {self.run_dir} is gone")
        if not self.record_path.exists():
            found.append(f"its run record {self.record_path.name} is gone")
        return found


@contextlib.contextmanager
def bystander(folder: Path) -> Iterator[Bystander]:
    """``domino up`` (local, bank, hardened) in ``folder``/home and a sentinel, until the end."""
    home = folder / "home"
    folder.mkdir(parents=True, exist_ok=True)
    sentinel_log = folder / "sentinel.log"
    sentinel_log.touch()
    sentinel = subprocess.Popen(
        [sys.executable, "-c", _SENTINEL, str(sentinel_log)],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    up: subprocess.Popen[str] | None = None
    try:
        wait_until(lambda: "ready" in sentinel_log.read_text(), timeout_s=30, what="the sentinel")
        up = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "up", "--json", "--profile", "hardened"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=(folder / "up.stderr.txt").open("w"),
            text=True,
            env=runner_env(home),
            cwd=REPO,
            start_new_session=True,
        )
        assert up.stdout is not None
        endpoints = json.loads(up.stdout.readline())
        record = RunRecord.load(home / "runs" / f"local-{up.pid}.json")
        own = [
            RecordedProcess(name, pid, process_cmdline(pid) or "", process_started(pid) or "")
            for name, pid in (("domino up", up.pid), ("sentinel", sentinel.pid))
        ]
        yield Bystander(
            home=home,
            up=up,
            sentinel=sentinel,
            sentinel_log=sentinel_log,
            endpoints=endpoints,
            run_dir=str(record.extra["run_dir"]),
            processes=[*record.processes, *own],
        )
    finally:
        if up is not None and up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
        if sentinel.poll() is None:
            os.kill(sentinel.pid, signal.SIGKILL)
            sentinel.wait()
