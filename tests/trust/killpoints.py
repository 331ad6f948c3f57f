"""Kill points: end ``domino run`` with a signal in a chosen phase, then look for what it left.

Shared by ``tests/trust/test_kill_points.py`` (local CI sample),
``tests/docker/test_docker_kill_points.py`` (docker CI sample) and
``bench/soak_kill_points.py`` (the soak).

One kill point: start ``python -m harness.cli run SPEC --report DIR`` with a
private ``DOMINO_HOME`` on a short incident spec (:func:`write_spec`), follow
its stderr until it reaches the phase (``settle``: ``domino: stack ready``;
``steady``, ``fault``, ``recovery``: the progress lines of
:mod:`harness.progress`; ``reporting``: the ``draining`` line), wait a chosen
extra delay within the phase, send SIGINT, SIGTERM or SIGKILL, then check:

* the exit code (130 for SIGINT and SIGTERM, -9 for SIGKILL);
* no process the run started is alive: those its run record lists (pid and
  command line), and any process in ``/proc`` whose environment holds that
  ``DOMINO_HOME`` or whose command line holds its run folder or its
  Toxiproxy port (polled with a deadline: after SIGKILL they die by the
  parent-death signal);
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

from harness.infra.readiness import ReadinessTimeoutError, wait_until
from harness.infra.runstate import RecordedProcess, RunRecord, process_cmdline

REPO = Path(__file__).resolve().parents[2]
SPEC_ID = "kill-points"
PROFILE = "hardened"
PHASES = ("settle", "steady", "fault", "recovery", "reporting")
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")
FAULTED_PROXY = "domino_card_to_pay"
#: The progress lines of harness.progress (not a terminal: one line per phase change).
_PROGRESS = re.compile(rf"^{SPEC_ID} \[{PROFILE}\] (steady|fault|recovery|draining)\s")
_READY = "domino: stack ready"
_ORDER = {name: i for i, name in enumerate(("starting", *PHASES, "exited"))}

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
        """How long ``phase`` lasts (settle and reporting: a short, fixed window)."""
        return {
            "settle": 0.1,
            "steady": self.steady_s,
            "fault": self.hold_s,
            "recovery": self.recovery_s,
            "reporting": 0.6,
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

    @classmethod
    def seeded(
        cls, sig: str, phase: str, rng: random.Random, timing: Timing, backend: str = "local"
    ) -> KillPoint:
        """A random delay within the first 80 % of the phase (so it lands in it)."""
        return cls(sig, phase, round(rng.uniform(0, 0.8 * timing.span_s(phase)), 3), backend)

    def __str__(self) -> str:
        return f"{self.backend} {self.signal} {self.phase}+{self.delay_s:.2f}s"


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
    toxic_at_kill: bool | None = None  # fault phase: the fault's toxic was on Toxiproxy
    leftovers: list[str] = field(default_factory=list)  # problems: should not be there
    left_for_next_run: list[str] = field(default_factory=list)  # SIGKILL: expected, reconciled
    start_checks: list[str] = field(default_factory=list)  # problems found when it started
    seconds: float = 0.0
    snapshot: Snapshot | None = None

    @property
    def clean(self) -> bool:
        return not self.leftovers and not self.start_checks

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.point.backend,
            "signal": self.point.signal,
            "phase": self.point.phase,
            "delay_s": self.point.delay_s,
            "landed": self.landed,
            "exit_code": self.exit_code,
            "toxic_at_kill": self.toxic_at_kill,
            "leftovers": self.leftovers,
            "left_for_next_run": self.left_for_next_run,
            "start_checks": self.start_checks,
            "seconds": round(self.seconds, 2),
        }

    def line(self) -> str:
        found = "; ".join(self.leftovers + self.start_checks) or "none"
        extra = (
            f"  left for next run: {len(self.left_for_next_run)}" if self.left_for_next_run else ""
        )
        toxic = "" if self.toxic_at_kill is None else f" toxic_at_kill={self.toxic_at_kill}"
        return (
            f"{self.point.backend:<6} {self.point.signal:<7} {self.point.phase:<9} "
            f"+{self.point.delay_s:5.2f}s landed={self.landed:<9} exit={self.exit_code}{toxic} "
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
    """A ``domino`` command as a child process, its stderr followed line by line."""

    def __init__(self, argv: list[str], home: Path, log: Path, *, backend: str) -> None:
        _sigint_reaches_children()
        self.home = home
        self.backend = backend
        self._stdout: TextIO = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=runner_env(home),
            cwd=REPO,
            start_new_session=True,  # a Ctrl-C meant for the tests does not reach it
        )
        self.lines: list[str] = []
        self.phase = "starting"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def record_path(self) -> Path:
        return self.home / "runs" / f"{self.backend}-{self.process.pid}.json"

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(_READY) and self.phase == "starting":
                self.phase = "settle"
            elif match := _PROGRESS.match(line):
                seen = {"draining": "reporting"}.get(match.group(1), match.group(1))
                if _ORDER[seen] > _ORDER[self.phase]:
                    self.phase = seen

    def reached(self, phase: str) -> bool:
        return _ORDER[self.phase] >= _ORDER[phase]

    def exited(self) -> str | None:
        code = self.process.poll()
        if code is None:
            return None
        return f"the runner exited with {code} in phase {self.phase}: {self.tail()}"

    def tail(self, lines: int = 6) -> str:
        return " | ".join(self.lines[-lines:])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self._reader.join(timeout=5)
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
    """At the run's "stack ready": the previous run's leftovers gone, a Toxiproxy without faults."""
    problems = check_cleared(stale, exclude={runner.process.pid}) if stale else []
    if snapshot.toxiproxy_url:
        faults = toxiproxy_faults(snapshot.toxiproxy_url)
        if faults:
            problems += [f"new run's Toxiproxy starts with {f}" for f in faults]
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


def run_kill_point(
    point: KillPoint,
    *,
    home: Path,
    spec: Path,
    workdir: Path,
    stale: Snapshot | None = None,
    reach_timeout_s: float = 120.0,
) -> Outcome:
    """Run the spec, kill the runner at ``point``, and check what it left."""
    began = time.monotonic()
    outcome = Outcome(point)
    workdir.mkdir(parents=True, exist_ok=True)
    argv = ["run", str(spec), "--report", str(workdir / "report"), "--backend", point.backend]
    runner = Runner(argv, home, workdir / "stdout.txt", backend=point.backend)
    snapshot = Snapshot(point.backend, str(home), str(runner.record_path))
    outcome.snapshot = snapshot
    try:
        wait_until(
            lambda: runner.reached("settle"),
            timeout_s=reach_timeout_s,
            what=f"{point}: the stack to be ready",
            abort=runner.exited,
        )
        snapshot.read()
        outcome.start_checks = _start_checks(runner, snapshot, stale)
        wait_until(
            lambda: runner.reached(point.phase),
            timeout_s=reach_timeout_s,
            what=f"{point}: phase {point.phase}",
            abort=runner.exited,
        )
        entered = time.monotonic()
        # The chosen moment, or sooner if the phase ends first (then it lands in the next one).
        wait_until(
            lambda: (
                time.monotonic() - entered >= point.delay_s
                or _ORDER[runner.phase] > _ORDER[point.phase]
                or runner.process.poll() is not None
            ),
            timeout_s=point.delay_s + 30,
            what=f"{point}: the kill moment",
        )
        snapshot.read()
        if runner.phase == "fault":
            outcome.toxic_at_kill = _toxic_on(snapshot.toxiproxy_url, FAULTED_PROXY)
        outcome.landed = runner.phase if runner.process.poll() is None else "exited"
        if outcome.landed != "exited":
            os.kill(runner.process.pid, getattr(signal, point.signal))
        try:
            outcome.exit_code = runner.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            outcome.leftovers.append(f"runner still running 60 s after {point.signal}")
            runner.process.kill()
            outcome.exit_code = runner.process.wait(timeout=30)
        runner._reader.join(timeout=5)
        _judge(outcome, snapshot, runner)
    except ReadinessTimeoutError as exc:
        outcome.leftovers.append(f"kill point not reached: {exc}")
    finally:
        runner.close()
        outcome.seconds = time.monotonic() - began
    return outcome


def _judge(outcome: Outcome, snapshot: Snapshot, runner: Runner) -> None:
    _judge_exit(outcome, runner)
    _judge_remains(outcome, snapshot)


def _judge_exit(outcome: Outcome, runner: Runner) -> None:
    """The exit code, and that a graceful ending said it stopped everything."""
    graceful = outcome.point.signal != "SIGKILL"
    if outcome.landed == "exited":
        outcome.leftovers.append(
            f"missed: the run ended (exit {outcome.exit_code}) before the kill"
        )
    elif graceful and outcome.exit_code != 130:
        outcome.leftovers.append(f"exit code {outcome.exit_code}, not 130: {runner.tail(3)}")
    elif not graceful and outcome.exit_code != -signal.SIGKILL:
        outcome.leftovers.append(f"exit code {outcome.exit_code}, not -9")
    if graceful and outcome.landed != "exited":
        said = "everything it started is stopped"
        if not any(said in line for line in runner.lines):
            outcome.leftovers.append(f"did not say {said!r}: {runner.tail(3)}")


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
    """Counts by signal and phase, and every leftover found."""
    by: dict[str, dict[str, int]] = {}
    for o in outcomes:
        key = f"{o.point.backend} {o.point.signal}"
        cell = by.setdefault(key, {})
        cell[o.landed or "not reached"] = cell.get(o.landed or "not reached", 0) + 1
    return {
        "tried": len(outcomes),
        "clean": sum(o.clean for o in outcomes),
        "with_leftovers": sum(not o.clean for o in outcomes),
        "by_signal_and_landed_phase": by,
        "sigkill_left_for_next_run_and_cleared": sum(
            bool(o.left_for_next_run) for o in outcomes if o.point.signal == "SIGKILL"
        ),
        "fault_phase_kills_with_toxic_applied": sum(o.toxic_at_kill is True for o in outcomes),
        "leftovers": [{**o.as_dict(), "point": str(o.point)} for o in outcomes if not o.clean],
        "seconds": round(sum(o.seconds for o in outcomes), 1),
    }
