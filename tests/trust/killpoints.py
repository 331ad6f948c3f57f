"""Kill points: end ``domino run`` with a signal in a chosen phase, then look for what it left.

Shared by ``tests/trust/test_kill_points.py`` (local CI sample),
``tests/docker/test_docker_kill_points.py`` (docker CI sample) and
``bench/soak_kill_points.py`` (the soak).

One kill point: start ``python -m harness.cli run SPEC --report DIR`` with a
private ``DOMINO_HOME`` on a short incident spec (:func:`write_spec`), under
:mod:`tests.trust.reaper` (a child subreaper) when asked, follow its stderr
and stdout until it reaches the phase, wait a chosen extra delay within the
phase, send SIGINT, SIGTERM or SIGKILL, then check. The phases:

* ``spawn``: a child (Toxiproxy or a service) being started, held between
  fork and exec by ``$DOMINO_TEST_SPAWN_GATE`` (:mod:`harness.infra.processes`)
  until the signal has been delivered, as ``tests/trust/test_spawn_interrupts.py``
  does (local only: the docker backend forks no child);
* ``starting``: the first ``domino: starting ...`` line (reconcile done,
  the stack being started);
* ``settle``: ``domino: stack ready`` (the run waits for every journey to
  answer healthy);
* ``steady``, ``fault``, ``recovery``: the progress lines of
  :mod:`harness.experiment.progress`;
* ``draining``: its ``draining`` line (the faults removed, the calls in
  flight drained, the verdict judged, the stack torn down);
* ``reporting``: the first line on stdout (the stack is down; the summary
  is printed and the reports written).

Checked:

* a SIGINT or SIGTERM must end the run with exit 130 within
  :data:`LOST_AFTER_S`, saying everything it started is stopped, and (at a
  spawn point) start no further child; otherwise it is counted as a *lost
  signal*;
* the exit code of a SIGKILL is -9;
* no process the run started is alive: those its run record lists (pid and
  command line), and any process in ``/proc`` whose environment holds that
  ``DOMINO_HOME`` or whose command line holds its run folder or its
  Toxiproxy port (polled with a deadline: after SIGKILL they die by the
  parent-death signal); under the reaper, after SIGINT/SIGTERM no child was
  left for the reaper (Domino stopped each itself), and after any signal no
  child outlived the runner by 10 s;
* no Toxiproxy of the run still answers; if one does, every toxic and
  disabled proxy on it is listed;
* SIGINT/SIGTERM: no run record and no run folder remain; docker: no
  container or network labelled with the run's ``domino.run``;
* SIGKILL: what remains (the record; on docker the containers, the network,
  and the toxics on the still-running Toxiproxy container) is reported as
  left for the next run, and :func:`check_cleared` proves the next run
  removed it (:func:`next_up` starts and stops ``domino up --json``; the
  soak uses the next kill point's run).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from harness.infra.processes import SPAWN_GATE_ENV
from harness.infra.readiness import ReadinessTimeoutError, wait_until
from harness.infra.runstate import RecordedProcess, RunRecord, process_cmdline

REPO = Path(__file__).resolve().parents[2]
SPEC_ID = "kill-points"
PROFILE = "hardened"
#: The phases a kill can be sent in the instant they are seen (:meth:`Runner.arm`): too
#: short for a poll of the test's to see them in time.
_ARMABLE = ("draining", "reporting")
PHASES = ("spawn", "starting", "settle", "steady", "fault", "recovery", "draining", "reporting")
#: The docker backend starts containers, not child processes: no spawn point.
DOCKER_PHASES = tuple(p for p in PHASES if p != "spawn")
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")
#: The children a local run of the spec starts, in order (each one a spawn point).
SPAWN_TARGETS = ("toxiproxy", "bank", "card", "pay", "remit")
FAULTED_PROXY = "domino_card_to_pay"
#: A SIGINT or SIGTERM that has not ended the run with exit 130 by then is lost.
LOST_AFTER_S = 30.0
#: The progress lines of harness.experiment.progress (not a terminal: one per phase change).
_PROGRESS = re.compile(rf"^{SPEC_ID} \[{PROFILE}\] (steady|fault|recovery|draining)\s")
_STARTING = "domino: starting "
_READY = "domino: stack ready"
#: The phases a runner's output shows, in order (``spawn`` is read from the spawn gate).
_SEEN = ("launched", "starting", "settle", "steady", "fault", "recovery", "draining", "reporting")
_ORDER = {name: i for i, name in enumerate((*_SEEN, "exited"))}

_SPEC = """\
# Shortened from harness/systems/bank/incidents/kbpay-2023-01-25.yaml for kill points:
# a short run, one profile, expectations any run meets.
id: {spec_id}
title: KB Pay outage, shortened for kill points
date: "2023-01-25"
sources: [tests/trust/killpoints.py]
summary: Pay hangs for the card company; the runner is killed somewhere in the run.
topology: bank
profiles: [{profile}]
steady_state_s: {steady_s}
recovery_s: {recovery_s}
client_timeout_s: 3
journeys:
  - {{journey: login, users: 1, think_ms: 200}}
  - {{journey: balance, users: 1, think_ms: 100}}
  - {{journey: card-tab, users: 1, think_ms: 100}}
timeline:
  - {{fault: timeout, edge: "card->pay", timeout_ms: 0, onset_s: 0, hold_s: {hold_s}}}
expect:
  {profile}:
    journeys:
      login: [healthy, degraded, failed]
      balance: [healthy, degraded, failed]
      card-tab: [healthy, degraded, failed]
    invariants:
      no_fault_left: holds
"""


@dataclass(frozen=True, slots=True)
class Timing:
    """Phase lengths of the spec :func:`write_spec` writes."""

    steady_s: float = 1.0
    hold_s: float = 3.0
    recovery_s: float = 1.0

    def span_s(self, phase: str) -> float:
        """How long ``phase`` lasts (the ones the spec does not set: short, fixed windows,
        measured on a loaded 2-core machine; spawn: the signal lands at the gate)."""
        return {
            "spawn": 0.0,
            "starting": 1.2,
            "settle": 0.1,
            "steady": self.steady_s,
            "fault": self.hold_s,
            "recovery": self.recovery_s,
            # The draining line to the summary: 0.06-0.07 s on a quiet machine since a
            # service stops as soon as it is told to (0.3 s before).
            "draining": 0.06,
            # The summary's first line to the exit: about 0.02 s since the program ends
            # without Python's finalization (0.05 s and more before).
            "reporting": 0.02,
        }[phase]


def write_spec(folder: Path, timing: Timing = Timing()) -> Path:
    """A short incident spec (the KB Pay timeout on card->pay) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{SPEC_ID}.yaml"
    path.write_text(
        _SPEC.format(
            spec_id=SPEC_ID,
            profile=PROFILE,
            steady_s=timing.steady_s,
            hold_s=timing.hold_s,
            recovery_s=timing.recovery_s,
        )
    )
    return path


@dataclass(frozen=True, slots=True)
class KillPoint:
    """End the runner with ``signal`` ``delay_s`` seconds into ``phase``."""

    signal: str
    phase: str
    delay_s: float
    backend: str = "local"
    #: spawn: the child being started when the signal lands (its first start).
    target: str = ""

    @classmethod
    def seeded(
        cls, sig: str, phase: str, rng: random.Random, timing: Timing, backend: str = "local"
    ) -> KillPoint:
        """A random delay within the first 80 % of the phase (so it lands in it);
        spawn: a random child of :data:`SPAWN_TARGETS`, no delay."""
        if phase == "spawn":
            return cls(sig, phase, 0.0, backend, rng.choice(SPAWN_TARGETS))
        return cls(sig, phase, round(rng.uniform(0, 0.8 * timing.span_s(phase)), 3), backend)

    @property
    def where(self) -> str:
        return f"spawn:{self.target}" if self.phase == "spawn" else self.phase

    def __str__(self) -> str:
        return f"{self.backend} {self.signal} {self.where}+{self.delay_s:.2f}s"


@dataclass
class Snapshot:
    """What a run had started, read from its run record while it ran."""

    backend: str
    home: str
    record_path: str
    processes: list[RecordedProcess] = field(default_factory=list)
    run_dir: str | None = None
    toxiproxy_url: str | None = None
    docker_run: str | None = None

    def merge(self, record: RunRecord) -> None:
        known = {(p.pid, p.cmdline) for p in self.processes}
        self.processes += [p for p in record.processes if (p.pid, p.cmdline) not in known]
        self.run_dir = self.run_dir or record.extra.get("run_dir")
        self.docker_run = self.docker_run or record.extra.get("run")
        stack = record.extra.get("stack") or {}
        self.toxiproxy_url = self.toxiproxy_url or stack.get("toxiproxy") or _toxiproxy_url(self)

    def read(self) -> None:
        """Merge the run record's current content (it is replaced atomically)."""
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError, KeyError):
            self.merge(RunRecord.load(Path(self.record_path)))


def _toxiproxy_url(snapshot: Snapshot) -> str | None:
    for p in snapshot.processes:
        if p.name == "toxiproxy":
            argv = p.cmdline.split()
            with contextlib.suppress(ValueError, IndexError):
                return f"http://{argv[argv.index('-host') + 1]}:{argv[argv.index('-port') + 1]}"
    return None


@dataclass
class Outcome:
    """What one kill point found."""

    point: KillPoint
    landed: str = ""  # the phase the runner was in when the signal was sent
    exit_code: int | None = None
    exit_s: float | None = None  # from the signal to the runner's end
    toxic_at_kill: bool | None = None  # fault phase: the fault's toxic was on Toxiproxy
    leftovers: list[str] = field(default_factory=list)  # problems: should not be there
    lost: list[str] = field(default_factory=list)  # SIGINT/SIGTERM not honoured: lost signal
    other_run: list[str] = field(default_factory=list)  # another run's processes touched
    left_for_next_run: list[str] = field(default_factory=list)  # SIGKILL: expected, reconciled
    start_checks: list[str] = field(default_factory=list)  # problems found when it started
    seconds: float = 0.0
    snapshot: Snapshot | None = None
    note: str = ""  # why a kill point counts as missed though the signal was sent

    @property
    def missed(self) -> bool:
        """The run ended before the signal was sent (no kill point: not judged)."""
        return self.landed == "exited"

    @property
    def clean(self) -> bool:
        return not (self.leftovers or self.start_checks or self.lost or self.other_run)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.point.backend,
            "signal": self.point.signal,
            "phase": self.point.phase,
            "target": self.point.target,
            "delay_s": self.point.delay_s,
            "landed": self.landed,
            "exit_code": self.exit_code,
            "exit_s": None if self.exit_s is None else round(self.exit_s, 2),
            "toxic_at_kill": self.toxic_at_kill,
            "leftovers": self.leftovers,
            "lost_signal": self.lost,
            "other_run_touched": self.other_run,
            "left_for_next_run": self.left_for_next_run,
            "start_checks": self.start_checks,
            "seconds": round(self.seconds, 2),
            "note": self.note,
        }

    def line(self) -> str:
        found = "; ".join(self.leftovers + self.start_checks) or "none"
        if self.lost:
            found += f"  LOST SIGNAL: {'; '.join(self.lost)}"
        if self.other_run:
            found += f"  OTHER RUN TOUCHED: {'; '.join(self.other_run)}"
        took = "" if self.exit_s is None else f" in {self.exit_s:.1f}s"
        if self.note:
            found += f"  ({self.note})"
        extra = (
            f"  left for next run: {len(self.left_for_next_run)}" if self.left_for_next_run else ""
        )
        toxic = "" if self.toxic_at_kill is None else f" toxic_at_kill={self.toxic_at_kill}"
        return (
            f"{self.point.backend:<6} {self.point.signal:<7} {self.point.where:<15} "
            f"+{self.point.delay_s:5.2f}s landed={self.landed:<15} exit={self.exit_code}{took}"
            f"{toxic} "
            f"leftovers: {found}{extra}  ({self.seconds:.1f}s)"
        )


def runner_env(home: Path) -> dict[str, str]:
    """The runner's environment: a private DOMINO_HOME that still finds the Toxiproxy binary."""
    from harness.errors import DominoError
    from harness.toxiproxy.binary import find_toxiproxy

    env = dict(os.environ, DOMINO_HOME=str(home), PYTHONUNBUFFERED="1")
    with contextlib.suppress(DominoError):  # the docker backend needs none
        env["DOMINO_TOXIPROXY_BIN"] = str(find_toxiproxy())
    return env


def _sigint_reaches_children() -> None:
    """A runner started from a process ignoring SIGINT would ignore it too (exec keeps SIG_IGN)."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    ):
        signal.signal(signal.SIGINT, signal.default_int_handler)


class Runner:
    """A ``domino`` command as a child process, its stderr and stdout followed line by line.

    With ``reaper`` (a report path) the command runs under
    :mod:`tests.trust.reaper`: :attr:`pid` is the command's, :attr:`process`
    the reaper's, and :meth:`reaped` its report. ``env`` is added to the
    runner's environment (e.g. the spawn gate). Stdout is copied to ``log``
    line by line (flushed).
    """

    def __init__(
        self,
        argv: list[str],
        home: Path,
        log: Path,
        *,
        backend: str,
        reaper: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        _sigint_reaches_children()
        self.home = home
        self.backend = backend
        self.reaper = reaper
        self._stdout: TextIO = log.open("w")
        command = [sys.executable, "-m", "harness.cli", *argv]
        if reaper is not None:
            command = [sys.executable, "-m", "tests.trust.reaper", str(reaper), "--", *command]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**runner_env(home), **(env or {})},
            cwd=REPO,
            start_new_session=True,  # a Ctrl-C meant for the tests does not reach it
        )
        self.pid = self.process.pid if reaper is None else self._inner_pid(reaper)
        self.lines: list[str] = []
        self.out_lines: list[str] = []
        self.phase = "launched"
        #: When each phase was first seen (time.monotonic()).
        self.entered: dict[str, float] = {"launched": time.monotonic()}
        #: A kill the reader threads send the instant its phase is seen (:meth:`arm`).
        self._armed: tuple[str, int] | None = None
        #: The phase an armed kill was sent in, once sent.
        self.fired_in: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()

    def _inner_pid(self, reaper: Path) -> int:
        pid_file = Path(f"{reaper}.pid")
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text().strip() != "",
            timeout_s=60,
            what="the reaper to start the runner",
            abort=lambda: None if self.process.poll() is None else "the reaper exited",
        )
        return int(pid_file.read_text())

    @property
    def record_path(self) -> Path:
        return self.home / "runs" / f"{self.backend}-{self.pid}.json"

    def arm(self, phase: str, signum: int) -> None:
        """Send ``signum`` from the thread that reads the output, the instant ``phase`` is
        seen: a phase of a few hundredths of a second (reporting, the reports written from
        the summary's first line on) would be over before a poll of the test's saw it."""
        self._armed = (phase, signum)

    def _enter(self, phase: str) -> None:
        if _ORDER[phase] > _ORDER[self.phase]:
            self.phase = phase
            self.entered.setdefault(phase, time.monotonic())
            if self._armed is not None and self._armed[0] == phase and self.fired_in is None:
                self.fired_in = phase
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, self._armed[1])

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(_STARTING):
                self._enter("starting")
            elif line.startswith(_READY):
                self._enter("settle")
            elif match := _PROGRESS.match(line):
                self._enter(match.group(1))

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._stdout.write(line)
            self._stdout.flush()
            self.out_lines.append(line.rstrip("\n"))
            if self.phase == "draining":  # the run's summary: the stack is down
                self._enter("reporting")

    def reached(self, phase: str) -> bool:
        return _ORDER[self.phase] >= _ORDER[phase]

    def runner_alive(self) -> bool:
        """The ``domino`` process itself is running (not the reaper)."""
        return self.process.poll() is None and (self.reaper is None or _alive(self.pid))

    def exited(self) -> str | None:
        if self.runner_alive():
            return None
        return f"the runner exited in phase {self.phase}: {self.tail()}"

    def reaped(self) -> dict[str, Any] | None:
        """The reaper's report, once it has ended."""
        if self.reaper is None or self.process.poll() is None:
            return None
        try:
            report: dict[str, Any] = json.loads(self.reaper.read_text())
        except (OSError, ValueError):
            return None
        return report

    def exit_code(self) -> int | None:
        """The ``domino`` process's return code (negative: the signal that ended it)."""
        code = self.process.poll()
        if code is None or self.reaper is None:
            return code
        reaped = self.reaped()
        return None if reaped is None else int(reaped["exit_code"])

    def tail(self, lines: int = 6) -> str:
        return " | ".join(self.lines[-lines:])

    def close(self) -> None:
        if self.process.poll() is None:
            if self.reaper is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=30)
            if self.process.poll() is None:
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        self._out_reader.join(timeout=5)
        self._stdout.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _same_alive(p: RecordedProcess) -> bool:
    return _alive(p.pid) and process_cmdline(p.pid) == p.cmdline


def scan_proc(
    snapshot: Snapshot, *, exclude: set[int] | None = None, whole_home: bool = True
) -> list[str]:
    """Live processes of the snapshot's run, found in /proc rather than in its record.

    A process is the run's when its command line or environment holds the
    run folder (services get their data folder in it), or its command line
    holds the run's Toxiproxy port; with ``whole_home``, also when its
    environment holds ``DOMINO_HOME`` (everything a run starts inherits it).
    """
    exclude = {os.getpid(), *(exclude or set())}
    env_marks = [f"DOMINO_HOME={snapshot.home}\0".encode()] if whole_home else []
    marks = [snapshot.run_dir.encode()] if snapshot.run_dir else []
    env_marks += marks
    if snapshot.toxiproxy_url and whole_home and snapshot.backend == "local":
        marks.append(f"-port\0{snapshot.toxiproxy_url.rsplit(':', 1)[1]}\0".encode())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude or not _alive(int(entry.name)):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes() + b"\0"
            environ = (entry / "environ").read_bytes() + b"\0"
        except OSError:
            continue
        if any(m in environ for m in env_marks) or any(m in cmdline for m in marks):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()[:120]
            found.append(f"pid {entry.name}: {shown}")
    return found


def toxiproxy_faults(url: str) -> list[str] | None:
    """Toxics and disabled proxies on the Toxiproxy at ``url``; None when it does not answer."""
    try:
        proxies = httpx.get(f"{url}/proxies", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    found = []
    for name, proxy in sorted(proxies.items()):
        if not proxy.get("enabled", True):
            found.append(f"disabled proxy {name}")
        found += [
            f"toxic {t['name']} ({t['type']}, {t['stream']}) on {name}"
            for t in proxy.get("toxics") or []
        ]
    return found


def _docker_client() -> Any:
    from harness.backends.docker.engine import connect

    return connect()


def docker_resources(run: str, client: Any | None = None) -> list[str]:
    """Containers and networks labelled ``domino.run=run``."""
    from harness.backends.docker.compose import LABEL_RUN
    from harness.backends.docker.owners import domino_resources

    own = client is None
    client = client if client is not None else _docker_client()
    try:
        containers, networks = domino_resources(client, label=f"{LABEL_RUN}={run}")
        return sorted(f"container {c.name}" for c in containers) + sorted(
            f"network {n.name}" for n in networks
        )
    finally:
        if own:
            client.close()


def _poll(condition: Callable[[], bool], timeout_s: float, what: str) -> bool:
    try:
        wait_until(condition, timeout_s=timeout_s, interval_s=0.05, what=what)
    except ReadinessTimeoutError:
        return False
    return True


def _processes_left(snapshot: Snapshot, timeout_s: float) -> list[str]:
    """Processes of the run still alive after ``timeout_s`` (none expected)."""

    def left() -> list[str]:
        recorded = [
            f"{p.name} (pid {p.pid}, from the run record)"
            for p in snapshot.processes
            if _same_alive(p)
        ]
        return recorded + scan_proc(snapshot)

    _poll(lambda: not left(), timeout_s, "the run's processes to be gone")
    return left()


def check_cleared(stale: Snapshot, *, exclude: set[int] | None = None) -> list[str]:
    """After the next run started: what a SIGKILLed run left must be gone (problems)."""
    problems = []
    if Path(stale.record_path).exists():
        problems.append(f"stale run record {Path(stale.record_path).name} still there")
    if stale.run_dir and Path(stale.run_dir).exists():
        problems.append(f"stale run folder {stale.run_dir} still there")
    alive = [f"{p.name} (pid {p.pid})" for p in stale.processes if _same_alive(p)]
    problems += [f"stale process {a} still alive" for a in alive]
    problems += [
        f"stale process {p} still alive"
        for p in scan_proc(stale, exclude=exclude, whole_home=False)
    ]
    if stale.docker_run:
        problems += [f"stale {r} still there" for r in docker_resources(stale.docker_run)]
    if stale.toxiproxy_url and stale.backend == "docker":
        faults = toxiproxy_faults(stale.toxiproxy_url)
        if faults is not None:
            problems.append(f"stale Toxiproxy at {stale.toxiproxy_url} still answers")
    return problems


def _start_checks(runner: Runner, snapshot: Snapshot, stale: Snapshot | None) -> list[str]:
    """Once the run has reconciled: the previous run's leftovers gone, no other run record,
    and (at "stack ready") a Toxiproxy without faults.

    The Toxiproxy is read first, and its answer counts only if the run was still
    settling when it came: once the steady state is over the run's own fault is on
    it (a loaded machine once took the answer that late).
    """
    problems = []
    if snapshot.toxiproxy_url and runner.phase == "settle":
        faults = toxiproxy_faults(snapshot.toxiproxy_url)
        if faults and runner.phase == "settle":
            problems += [f"new run's Toxiproxy starts with {f}" for f in faults]
    if stale:
        problems += check_cleared(stale, exclude={runner.pid, runner.process.pid})
    others = [
        p.name
        for p in (Path(snapshot.home) / "runs").glob(f"{snapshot.backend}-*.json")
        if p.name != Path(snapshot.record_path).name
    ]
    problems += [f"other run record {name} at start" for name in others]
    return problems


def _toxic_on(url: str | None, proxy: str) -> bool | None:
    if url is None:
        return None
    try:
        toxics = httpx.get(f"{url}/proxies/{proxy}/toxics", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    return bool(toxics)


def signal_delivered(pid: int, signum: int) -> bool:
    """The kernel has handed ``signum`` to the process (no thread holds it pending)."""
    bit = 1 << (signum - 1)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # it has exited
    pending = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return not pending & bit


class _Gate:
    """The spawn gate of one run (``$DOMINO_TEST_SPAWN_GATE``): spawns held until released."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.released: list[str] = []

    def held(self) -> list[str]:
        """Spawns waiting at the gate, in order (``NN-NAME``)."""
        waiting = {p.name.removesuffix(".spawning") for p in self.folder.glob("*.spawning")}
        return sorted(waiting - set(self.released))

    def release(self, stem: str) -> None:
        (self.folder / f"{stem}.go").touch()
        self.released.append(stem)

    def hold_at(self, target: str, runner: Runner, timeout_s: float) -> str:
        """Let every spawn go until ``target``'s first; return its stem, still held."""
        found: list[str] = []

        def step() -> bool:
            for stem in self.held():
                if stem.split("-", 1)[1] == target:
                    found.append(stem)
                    return True
                self.release(stem)
            return False

        wait_until(step, timeout_s=timeout_s, what=f"the spawn of {target}", abort=runner.exited)
        return found[0]


def run_kill_point(
    point: KillPoint,
    *,
    home: Path,
    spec: Path,
    workdir: Path,
    stale: Snapshot | None = None,
    reach_timeout_s: float = 120.0,
    reaper: bool = False,
) -> Outcome:
    """Run the spec, kill the runner at ``point``, and check what it left.

    With ``reaper`` the run is started under :mod:`tests.trust.reaper`.
    """
    began = time.monotonic()
    outcome = Outcome(point)
    workdir.mkdir(parents=True, exist_ok=True)
    argv = ["run", str(spec), "--report", str(workdir / "report"), "--backend", point.backend]
    gate = _Gate(workdir / "gate") if point.phase == "spawn" else None
    runner = Runner(
        argv,
        home,
        workdir / "stdout.txt",
        backend=point.backend,
        reaper=workdir / "reaped.json" if reaper or gate else None,
        env={SPAWN_GATE_ENV: str(gate.folder)} if gate else None,
    )
    snapshot = Snapshot(point.backend, str(home), str(runner.record_path))
    outcome.snapshot = snapshot
    signum = getattr(signal, point.signal)
    if point.phase in _ARMABLE and point.delay_s == 0:
        runner.arm(point.phase, signum)  # (nothing to read first: the run is over by then)
    try:
        held = ""
        if gate is not None:
            held = gate.hold_at(point.target, runner, reach_timeout_s)
            entered = time.monotonic()
        else:
            # Checked once reconciled: at "stack ready", or at the start-up phase's kill.
            checks_at = point.phase if _ORDER[point.phase] < _ORDER["settle"] else "settle"
            wait_until(
                lambda: runner.reached(checks_at),
                timeout_s=reach_timeout_s,
                what=f"{point}: phase {checks_at}",
                abort=runner.exited,
            )
            if checks_at == "settle":
                snapshot.read()
                outcome.start_checks = _start_checks(runner, snapshot, stale)
            wait_until(
                lambda: runner.reached(point.phase),
                timeout_s=reach_timeout_s,
                what=f"{point}: phase {point.phase}",
                abort=runner.exited,
            )
            entered = runner.entered.get(point.phase, time.monotonic())
            # The chosen moment, or sooner if the phase ends first (it lands in the next one).
            wait_until(
                lambda: (
                    time.monotonic() - entered >= point.delay_s
                    or _ORDER[runner.phase] > _ORDER[point.phase]
                    or not runner.runner_alive()
                ),
                timeout_s=point.delay_s + 30,
                what=f"{point}: the kill moment",
            )
        snapshot.read()
        if runner.phase == "fault":
            outcome.toxic_at_kill = _toxic_on(snapshot.toxiproxy_url, FAULTED_PROXY)
        outcome.landed = _send_kill(runner, signum, f"spawn:{point.target}" if held else "")
        signalled = time.monotonic()
        if held:
            wait_until(
                lambda: signal_delivered(runner.pid, signum),
                timeout_s=10,
                what="the signal delivered",
            )
            if point.signal != "SIGKILL":
                gate.release(held)  # type: ignore[union-attr]  # the spawn completes after it
        _await_end(outcome, runner, gate, signalled)
        _after_its_end(outcome, runner, workdir / "report" / "report.json")
        snapshot.read()  # SIGKILL: the record as the run left it
        if gate is not None or _ORDER[point.phase] < _ORDER["settle"]:
            outcome.start_checks = _start_checks(runner, snapshot, stale)
        _judge(outcome, snapshot, runner)
    except ReadinessTimeoutError as exc:
        outcome.leftovers.append(f"kill point not reached: {exc}")
    finally:
        runner.close()
        outcome.seconds = time.monotonic() - began
    return outcome


def _send_kill(runner: Runner, signum: int, held_at: str) -> str:
    """Signal the runner now, unless the reader thread already did (an armed kill) or it
    has exited; the phase the kill landed in (a run ended meanwhile is told after)."""
    if runner.fired_in is not None:
        return runner.fired_in
    where = held_at or runner.phase
    if not runner.runner_alive():
        return "exited"
    os.kill(runner.pid, signum)
    return where


def _await_end(outcome: Outcome, runner: Runner, gate: _Gate | None, signalled: float) -> None:
    """Wait for the runner to end; a SIGINT/SIGTERM not honoured within LOST_AFTER_S is lost.

    At a spawn point every spawn after the signal is a child started by a run
    that should have stopped: it is noted (as lost) and let go.
    """
    graceful = outcome.point.signal != "SIGKILL"
    went_on: list[str] = []

    def ended() -> bool:
        if gate is not None:
            for stem in gate.held():
                went_on.append(stem.split("-", 1)[1])
                gate.release(stem)
        return not runner.runner_alive()

    try:
        wait_until(ended, timeout_s=LOST_AFTER_S, what="the runner to end")
    except ReadinessTimeoutError:
        if graceful and outcome.landed != "exited":
            outcome.lost.append(
                f"still running {LOST_AFTER_S:g} s after {outcome.point.signal}: {runner.tail(2)}"
            )
        with contextlib.suppress(ReadinessTimeoutError):
            wait_until(ended, timeout_s=60, what="the runner to end")
        if runner.runner_alive():
            outcome.leftovers.append(f"runner still running {LOST_AFTER_S + 60:g} s after it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(runner.pid, signal.SIGKILL)
    outcome.exit_s = time.monotonic() - signalled
    if went_on and graceful:
        outcome.lost.append(f"after {outcome.point.signal} the run went on to start {went_on}")
    with contextlib.suppress(subprocess.TimeoutExpired):
        runner.process.wait(timeout=60)  # the reaper: its orphans reaped, its report written
    outcome.exit_code = runner.exit_code()
    runner._reader.join(timeout=5)
    runner._out_reader.join(timeout=5)


def _after_its_end(outcome: Outcome, runner: Runner, report: Path) -> None:
    """A SIGINT/SIGTERM sent in the last instant of reporting can land after the run has
    written its complete reports and left ``main`` (only the interpreter's exit is left):
    the process then ends by the signal itself (exit -2 or -15). That run had ended
    before the kill: it counts as missed, with a note, not as a kill point."""
    sig = getattr(signal, outcome.point.signal)
    if sig == signal.SIGKILL or outcome.exit_code != -sig:
        return
    said = any(line.strip().startswith("reports:") for line in runner.out_lines)
    try:
        complete = json.loads(report.read_text()).get("complete") is True
    except (OSError, ValueError, AttributeError):
        complete = False
    if said and complete:
        outcome.landed = "exited"
        outcome.note = (
            f"after the run: reports complete, main returned; {outcome.point.signal} ended it"
        )


def _judge(outcome: Outcome, snapshot: Snapshot, runner: Runner) -> None:
    _judge_exit(outcome, runner)
    _judge_remains(outcome, snapshot)
    _judge_reaped(outcome, runner)
    # A run folder the record had not named yet (it is named run-PID-MS).
    if outcome.point.signal != "SIGKILL":
        for folder in (runner.home / outcome.point.backend).glob(f"run-{runner.pid}-*"):
            if str(folder) != snapshot.run_dir:
                outcome.leftovers.append(f"run folder {folder} left")


def _judge_exit(outcome: Outcome, runner: Runner) -> None:
    """The exit code, and that a graceful ending said it stopped everything (else: lost)."""
    graceful = outcome.point.signal != "SIGKILL"
    if outcome.missed:
        return
    if graceful and outcome.exit_code != 130:
        outcome.lost.append(f"exit code {outcome.exit_code}, not 130: {runner.tail(3)}")
    elif not graceful and outcome.exit_code != -signal.SIGKILL:
        outcome.leftovers.append(f"exit code {outcome.exit_code}, not -9")
    if graceful:
        said = "everything it started is stopped"
        if not any(said in line for line in runner.lines):
            outcome.lost.append(f"did not say {said!r}: {runner.tail(3)}")
        if any("Traceback" in line for line in runner.lines):
            outcome.lost.append(f"a traceback: {runner.tail(3)}")


def _judge_reaped(outcome: Outcome, runner: Runner) -> None:
    """Under the reaper: no child Domino lost track of (graceful), none outliving the runner."""
    reaped = runner.reaped()
    if runner.reaper is None:
        return
    if reaped is None:
        outcome.leftovers.append("the reaper wrote no report")
        return
    if outcome.point.signal != "SIGKILL" and not outcome.missed:
        outcome.leftovers += [
            f"child pid {o['pid']} not stopped by Domino (reaped: {o['status']})"
            for o in reaped["orphans"]
        ]
    lived_on = reaped["lived_on"]
    outcome.leftovers += [f"child pid {pid} outlived the runner by 10 s" for pid in lived_on]


def _judge_remains(outcome: Outcome, snapshot: Snapshot) -> None:
    """Processes, Toxiproxy faults, the run record and folder, docker resources."""
    point = outcome.point
    graceful = point.signal != "SIGKILL"
    outcome.leftovers += [f"process alive: {p}" for p in _processes_left(snapshot, 15.0)]

    if snapshot.toxiproxy_url:
        faults = toxiproxy_faults(snapshot.toxiproxy_url)
        if faults is not None:
            where = f"Toxiproxy at {snapshot.toxiproxy_url} still up"
            if point.backend == "docker" and not graceful:
                outcome.left_for_next_run.append(where)
                outcome.left_for_next_run += faults
            else:
                outcome.leftovers.append(where)
                outcome.leftovers += faults

    record = Path(snapshot.record_path)
    if graceful:
        if record.exists():
            outcome.leftovers.append(f"run record {record.name} left")
        if snapshot.run_dir and Path(snapshot.run_dir).exists():
            outcome.leftovers.append(f"run folder {snapshot.run_dir} left")
    elif record.exists():
        outcome.left_for_next_run.append(f"run record {record.name}")
        if snapshot.run_dir and Path(snapshot.run_dir).exists():
            outcome.left_for_next_run.append(f"run folder {Path(snapshot.run_dir).name}")

    if snapshot.docker_run:
        resources = docker_resources(snapshot.docker_run)
        if graceful:
            outcome.leftovers += [f"{r} left" for r in resources]
        else:
            outcome.left_for_next_run += resources


@contextlib.contextmanager
def next_up(home: Path, log: Path, *, backend: str = "local") -> Iterator[dict[str, Any]]:
    """``domino up --json`` (the next run) until the block ends; yields its endpoints."""
    argv = ["up", "--json", "--backend", backend, "--profile", PROFILE]
    runner = Runner(argv, home, log, backend=backend)
    try:
        wait_until(
            lambda: log.exists() and log.read_text().endswith("\n"),
            timeout_s=120,
            what="domino up to print its endpoints",
            abort=runner.exited,
        )
        endpoints: dict[str, Any] = json.loads(log.read_text().splitlines()[0])
        endpoints["_pid"] = runner.process.pid
        endpoints["_stderr"] = runner.lines
        yield endpoints
        runner.process.send_signal(signal.SIGTERM)
        endpoints["_exit"] = runner.process.wait(timeout=60)
    finally:
        runner.close()


def next_run_checks(home: Path, log: Path, stale: Snapshot) -> list[str]:
    """Start and stop the next run; what the SIGKILLed run left must be gone, the new one clean."""
    problems: list[str] = []
    with next_up(home, log, backend=stale.backend) as endpoints:
        problems += check_cleared(stale, exclude={endpoints["_pid"]})
        faults = toxiproxy_faults(endpoints["toxiproxy"])
        if faults is None:
            problems.append("the next run's Toxiproxy does not answer")
        else:
            problems += [f"the next run's Toxiproxy starts with {f}" for f in faults]
        proxies = httpx.get(f"{endpoints['toxiproxy']}/proxies", timeout=5).json()
        if FAULTED_PROXY not in proxies:
            problems.append(f"the next run has no proxy {FAULTED_PROXY}: {sorted(proxies)}")
        expected = f"{stale.backend}-{endpoints['_pid']}.json"
        new = Snapshot(stale.backend, str(home), str(home / "runs" / expected))
        new.read()
        records = sorted(p.name for p in (home / "runs").glob(f"{stale.backend}-*.json"))
        if records != [expected]:
            problems.append(f"run records during the next run: {records}, not [{expected}]")
    if endpoints.get("_exit") != 130:
        problems.append(f"the next run exited {endpoints.get('_exit')} on SIGTERM, not 130")
    problems += [f"the next run left: {p}" for p in _processes_left(new, 15.0)]
    if new.docker_run:
        problems += [f"the next run left {r}" for r in docker_resources(new.docker_run)]
    if list((home / "runs").glob(f"{stale.backend}-*.json")):
        problems.append("the next run left its run record")
    return problems


def clean_up_after(snapshot: Snapshot, *, processes_only: bool = False) -> list[str]:
    """Stop what a run with leftovers left (so a soak goes on); only what that run started.

    With ``processes_only`` the run record (and on docker the containers) stay,
    for the next run's reconcile to remove.
    """
    done = []
    for p in snapshot.processes:
        if _same_alive(p):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            done.append(f"killed {p.name} (pid {p.pid})")
    if processes_only:
        return done
    if snapshot.docker_run:
        from harness.backends.docker.compose import LABEL_RUN
        from harness.backends.docker.owners import remove_labelled

        with contextlib.closing(_docker_client()) as client:
            done += remove_labelled(client, f"{LABEL_RUN}={snapshot.docker_run}")
    Path(snapshot.record_path).unlink(missing_ok=True)
    return done


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Counts by backend, signal and phase, and every problem found.

    ``leaks``: kill points that left something that should not be there;
    ``lost_signals``: SIGINT/SIGTERM that did not end the run with exit 130
    within :data:`LOST_AFTER_S` (or at a spawn point let it start another
    child); ``other_run_touched``: kill points after which another live run's
    process was not as before (set by the soak); ``missed``: the run ended
    before the signal was sent (not a kill point).
    """
    by: dict[str, dict[str, int]] = {}
    planned: dict[str, dict[str, int]] = {}
    for o in outcomes:
        key = f"{o.point.backend} {o.point.signal}"
        cell = by.setdefault(key, {})
        landed = (o.landed.split(":")[0] if o.landed else "") or "not reached"
        cell[landed] = cell.get(landed, 0) + 1
        wanted = planned.setdefault(key, {})
        wanted[o.point.phase] = wanted.get(o.point.phase, 0) + 1
    graceful = [o for o in outcomes if o.point.signal != "SIGKILL" and not o.missed]
    exits = [o.exit_s for o in graceful if o.exit_s is not None]
    codes: dict[str, int] = {}
    for o in outcomes:
        code = f"{o.point.signal} {o.exit_code}"
        codes[code] = codes.get(code, 0) + 1
    spawns: dict[str, int] = {}
    for o in outcomes:
        if o.point.phase == "spawn":
            spawns[o.point.target] = spawns.get(o.point.target, 0) + 1
    return {
        "tried": len(outcomes),
        "clean": sum(o.clean for o in outcomes),
        "leaks": sum(bool(o.leftovers or o.start_checks) for o in outcomes),
        "lost_signals": sum(bool(o.lost) for o in outcomes),
        "other_run_touched": sum(bool(o.other_run) for o in outcomes),
        "missed": sum(o.missed for o in outcomes),
        "with_leftovers": sum(not o.clean for o in outcomes),
        "planned_by_signal_and_phase": planned,
        "by_signal_and_landed_phase": by,
        "spawn_points_by_child": spawns,
        "exit_codes": codes,
        "graceful_exit_s": {
            "count": len(exits),
            "max": round(max(exits), 2) if exits else None,
            "median": round(sorted(exits)[len(exits) // 2], 2) if exits else None,
        },
        "sigkill_left_for_next_run_and_cleared": sum(
            bool(o.left_for_next_run) for o in outcomes if o.point.signal == "SIGKILL"
        ),
        "fault_phase_kills_with_toxic_applied": sum(o.toxic_at_kill is True for o in outcomes),
        "problems": [{**o.as_dict(), "point": str(o.point)} for o in outcomes if not o.clean],
        "missed_points": [f"{o.point} {o.note}".strip() for o in outcomes if o.missed],
        "seconds": round(sum(o.seconds for o in outcomes), 1),
    }
