"""The service host started before Domino's imports (:mod:`harness.infra.early_host`).

Real processes throughout: the host (``services.kit.host``) launched early
with its log in an unnamed file of ``$DOMINO_HOME/local``, taken by a stack
that names the log in its run folder, or closed when no stack takes it; and
``domino up`` as a child process, held at the spawn gate
(``$DOMINO_TEST_SPAWN_GATE``) where the early host is spawn ``01``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness import load_topology, start_stack
from harness.infra.early_host import early_service_host, take_early_host
from harness.infra.processes import SPAWN_GATE_ENV
from harness.infra.readiness import wait_until
from harness.infra.runstate import RunRecord, process_cmdline
from harness.infra.service_host import HostedProcess, ServiceHost

pytestmark = pytest.mark.chaos

REPO = Path(__file__).resolve().parents[2]
SLEEPER = "tests.chaos.hosted_sleeper"
#: A system of stdlib-Python services: nothing for Domino's service host.
FALLBACK_SYSTEM = REPO / "tests" / "toxiproxy" / "fallback" / "domino.yaml"
HOST_MODULE = "services.kit.host"


def _state(pid: int) -> str | None:
    """The process's state letter (``R``, ``S``, ``T``, ``Z``...); None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def _gone(pid: int) -> bool:
    """No such process, or only its zombie: it runs no more."""
    return _state(pid) in (None, "Z")


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _hosts_of(parent: int) -> set[int]:
    """The service hosts running as ``parent``'s children."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if HOST_MODULE in (process_cmdline(pid) or "") and _ppid(pid) == parent:
                found.add(pid)
        except (OSError, ValueError, IndexError):
            continue
    return found


def _log_of(pid: int) -> str:
    """Where the process's stdout goes, as the kernel names it."""
    return os.readlink(f"/proc/{pid}/fd/1")


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- in-process: early_service_host and take_early_host ------------------------------------


def test_a_taken_host_serves_and_its_log_is_named_where_the_stack_says(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host writes nothing of its own when all is well: have it say what it imported.
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    before = _hosts_of(os.getpid())
    run_dir = home / "local" / "run-1"
    with early_service_host(home):
        (early,) = _hosts_of(os.getpid()) - before
        # Nothing is made before the command is read: the unnamed log is in the nearest
        # folder that exists (the run's folder will be made there, on its file system).
        assert not home.exists(), "the waiting host made no folder"
        assert _log_of(early).startswith(f"{tmp_path}/#")
        assert _log_of(early).endswith("(deleted)")
        run_dir.mkdir(parents=True)
        log = run_dir / "service-host.log"
        host = take_early_host(log)
        assert host is not None
        try:
            assert host.process.pid == early
            assert host.process.log_path == log
            assert take_early_host(run_dir / "again.log") is None, "a host is taken once"
            assert not (run_dir / "again.log").exists()
            assert os.stat(f"/proc/{early}/fd/1").st_ino == log.stat().st_ino
            assert log.stat().st_nlink == 1
            process = _start_sleeper(host, tmp_path)
            try:
                described = _described(process.log_path)
                assert described["ppid"] == early, "forked by the host taken"
            finally:
                process.stop(timeout_s=5)
            # The host's own output went to the named log (it imported FastAPI there).
            assert "fastapi" in log.read_text()
        finally:
            host.close()
    assert _gone(early)
    assert _entries(home / "local") == ["run-1"]
    assert _entries(run_dir) == ["service-host.log"], "nothing but the log, under its name"


def _described(log: Path) -> dict[str, object]:
    """The sleeper's line about itself (its other lines: what it imported)."""
    found: list[dict[str, object]] = []

    def written() -> bool:
        lines = log.read_text().splitlines() if log.exists() else []
        found.extend(json.loads(line) for line in lines if line.startswith("{"))
        return bool(found)

    wait_until(written, timeout_s=30, what="the hosted sleeper's line about itself")
    return found[0]


def _start_sleeper(host: ServiceHost, tmp_path: Path) -> HostedProcess:
    """The hosted sleeper started through ``host``, from ``tmp_path`` (which finds ``tests``)."""
    (tmp_path / "tests").symlink_to(REPO / "tests")
    return host.start(
        "sleeper",
        SLEEPER,
        ["sleep"],
        env={},
        cwd=tmp_path,
        log_path=tmp_path / "sleeper.log",
    )


def test_a_host_nobody_takes_is_closed_at_the_blocks_end_and_leaves_no_file(
    home: Path,
) -> None:
    before = _hosts_of(os.getpid())
    with early_service_host(home):
        (early,) = _hosts_of(os.getpid()) - before
        assert not _gone(early)
    assert _gone(early), "closed with the block: the process itself is gone"
    assert _state(early) is None, "and reaped"
    assert _entries(home / "local") == [], "its unnamed log left nothing"


def test_a_host_nobody_takes_is_closed_when_the_block_raises(home: Path) -> None:
    before = _hosts_of(os.getpid())
    with pytest.raises(KeyboardInterrupt), early_service_host(home):
        (early,) = _hosts_of(os.getpid()) - before
        raise KeyboardInterrupt
    assert _state(early) is None
    assert _entries(home / "local") == []


def test_with_the_host_off_nothing_is_launched(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMINO_SERVICE_HOST", "off")
    before = _hosts_of(os.getpid())
    with early_service_host(home):
        assert _hosts_of(os.getpid()) - before == set()
        assert take_early_host(home / "service-host.log") is None
    assert not (home / "local").exists()
    assert not (home / "service-host.log").exists()


def test_no_folder_launches_nothing(home: Path) -> None:
    before = _hosts_of(os.getpid())
    with early_service_host(None):
        assert _hosts_of(os.getpid()) - before == set()
        assert take_early_host(home / "service-host.log") is None


def test_a_stack_of_other_services_closes_the_early_host(home: Path) -> None:
    before = _hosts_of(os.getpid())
    with early_service_host(home):
        (early,) = _hosts_of(os.getpid()) - before
        with start_stack("local", topology=load_topology(FALLBACK_SYSTEM)) as stack:
            assert _state(early) is None, "the stack had no use for it: closed and reaped"
            record = RunRecord.load(next((home / "runs").iterdir()))
            assert "service-host" not in [p.name for p in record.processes]
            (run_dir,) = (home / "local").iterdir()
            assert not (run_dir / "service-host.log").exists()
            for url in stack.services.values():
                assert httpx.get(f"{url}/healthz", timeout=5).is_success
    assert _entries(home / "local") == []


# -- end to end: `domino up` ---------------------------------------------------------------


class _Gate:
    """The spawn gate of one runner: spawns wait at ``folder`` until released."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self._released: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def held_pid(self, stem: str, runner: subprocess.Popen[str]) -> int:
        """The pid of the child held at ``stem`` (``01-service-host``), once it is there."""
        marker = self.folder / f"{stem}.spawning"
        wait_until(
            lambda: marker.exists() and marker.read_text().strip() != "",
            timeout_s=30,
            what=f"the spawn {stem} at the gate",
            abort=lambda: runner.poll() is not None,
        )
        return int(marker.read_text())

    def release(self, stem: str) -> None:
        (self.folder / f"{stem}.go").touch()
        self._released.add(stem)

    def release_all_from_now(self) -> None:
        """Let every spawn go as it arrives (a thread of the test's, until :meth:`close`)."""

        def loop() -> None:
            while not self._stop.wait(0.005):
                for marker in self.folder.glob("*.spawning"):
                    stem = marker.name.removesuffix(".spawning")
                    if stem not in self._released:
                        self.release(stem)

        self._thread = threading.Thread(target=loop, name="test-gate", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[_Gate]:
    opened = _Gate(tmp_path / "gate")
    yield opened
    opened.close()


def _default_sigint() -> None:  # in the runner, before exec: SIGINT as a terminal sends it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def runner(home: Path, gate: _Gate) -> Iterator[subprocess.Popen[str]]:
    """``domino up --json`` with the spawn gate, its state in ``home``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "up", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home.parent,  # no domino.yaml there
        env=dict(os.environ, **{SPAWN_GATE_ENV: str(gate.folder)}),
        preexec_fn=_default_sigint,  # noqa: PLW1509
    )
    yield process
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


@pytest.fixture
def no_toxiproxy(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """The stack cannot start: its Toxiproxy binary is missing (set before ``runner``)."""
    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(home / "no-such-toxiproxy"))


@pytest.mark.usefixtures("no_toxiproxy")
def test_a_stack_that_cannot_start_exits_3_and_leaves_no_host_nor_file(
    home: Path, gate: _Gate, runner: subprocess.Popen[str]
) -> None:
    early = gate.held_pid("01-service-host", runner)
    gate.release_all_from_now()
    _out, err = runner.communicate(timeout=60)
    assert runner.returncode == 3, err
    (line,) = err.splitlines()
    assert line.startswith("domino: error: toxiproxy-server not found")
    wait_until(lambda: _state(early) is None, timeout_s=10, what="the early host gone")
    assert _entries(home / "runs") == []
    assert _entries(home / "local") == []


def test_domino_up_takes_the_host_it_launched_before_its_imports(
    home: Path, gate: _Gate, runner: subprocess.Popen[str]
) -> None:
    early = gate.held_pid("01-service-host", runner)
    # Spawned before the stack began: no run record, no run folder yet.
    assert _entries(home / "runs") == []
    assert _entries(home / "local") == []
    gate.release_all_from_now()
    assert runner.stdout is not None
    line = runner.stdout.readline()
    assert line, f"domino up printed nothing: {runner.stderr.read() if runner.stderr else ''}"
    endpoints = json.loads(line)

    record = RunRecord.load(home / "runs" / f"local-{runner.pid}.json")
    hosts = [p.pid for p in record.processes if p.name == "service-host"]
    assert hosts == [early], "the early host is the stack's, in its record"
    (run_dir,) = (home / "local").iterdir()
    log = run_dir / "service-host.log"
    assert os.stat(f"/proc/{early}/fd/1").st_ino == log.stat().st_ino
    services = [p for p in record.processes if p.name not in ("service-host", "toxiproxy")]
    assert services
    assert {_ppid(p.pid) for p in services} == {early}, "its services are forked by it"
    for url in endpoints["services"].values():
        assert httpx.get(f"{url}/health", timeout=5).is_success

    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 130
    wait_until(lambda: _gone(early), timeout_s=10, what="the host to stop with the stack")
    assert _entries(home / "runs") == []
    assert _entries(home / "local") == []


def _held_while_the_host_imports(home: Path, gate: _Gate, runner: subprocess.Popen[str]) -> int:
    """Stop the runner while it waits for its early host's exec, let the host exec: the host
    imports, and the runner (stopped before its own imports) cannot take it. The host's pid."""
    early = gate.held_pid("01-service-host", runner)
    os.kill(runner.pid, signal.SIGSTOP)
    wait_until(lambda: _state(runner.pid) == "T", timeout_s=10, what="the runner stopped")
    gate.release("01-service-host")
    wait_until(
        lambda: HOST_MODULE in (process_cmdline(early) or ""),
        timeout_s=10,
        what="the early host to run (its imports)",
    )
    assert _log_of(early).endswith("(deleted)"), "its log still has no name"
    assert _entries(home / "runs") == []
    assert _entries(home / "local") == []
    return early


def test_a_sigkill_before_the_stack_takes_the_host_leaves_nothing(
    home: Path, gate: _Gate, runner: subprocess.Popen[str]
) -> None:
    early = _held_while_the_host_imports(home, gate, runner)
    os.kill(runner.pid, signal.SIGKILL)
    assert runner.wait(timeout=10) == -signal.SIGKILL
    # Its parent-death signal ends it: nobody else would.
    wait_until(lambda: _gone(early), timeout_s=10, what="the early host to die with the runner")
    assert _entries(home / "local") == [], "the unnamed log is gone with its last holder"
    assert _entries(home / "runs") == []


def test_a_sigint_before_the_stack_takes_the_host_exits_130_and_leaves_nothing(
    home: Path, gate: _Gate, runner: subprocess.Popen[str]
) -> None:
    early = _held_while_the_host_imports(home, gate, runner)
    gate.release_all_from_now()
    os.kill(runner.pid, signal.SIGINT)  # pending until the runner runs again
    os.kill(runner.pid, signal.SIGCONT)
    _out, err = runner.communicate(timeout=30)
    assert runner.returncode == 130, err
    assert "everything it started is stopped" in err
    assert "Traceback" not in err
    assert _gone(early)
    assert _entries(home / "local") == []
    assert _entries(home / "runs") == []
