"""What a running stack has started, on disk, so a killed run can be cleaned up.

Each run writes ``$DOMINO_HOME/runs/<backend>-<pid>.json`` listing what it
started (process ids with their command lines, container labels, ...). A run
that ends normally deletes its file. A run killed with SIGKILL cannot, so
every start first :func:`reconcile`\\ s: for each file whose owner is gone,
it stops what is still running and deletes the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.infra.home import domino_home

__all__ = ["RecordedProcess", "RunRecord", "owner_alive", "reconcile", "runs_dir", "stopped"]


def runs_dir() -> Path:
    return domino_home() / "runs"


@dataclass(frozen=True, slots=True)
class RecordedProcess:
    """A process a run started, identified by pid and command line."""

    name: str
    pid: int
    cmdline: str


@dataclass
class RunRecord:
    """The on-disk record of one run's resources."""

    backend: str
    owner_pid: int = field(default_factory=os.getpid)
    owner_cmdline: str = ""
    processes: list[RecordedProcess] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return runs_dir() / f"{self.backend}-{self.owner_pid}.json"

    def save(self) -> None:
        if not self.owner_cmdline:
            self.owner_cmdline = process_cmdline(self.owner_pid) or ""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.touch(mode=0o600)  # the record may hold the stack's admin token
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(self.path)

    def add_process(self, name: str, pid: int) -> None:
        self.processes.append(RecordedProcess(name, pid, process_cmdline(pid) or ""))
        self.save()

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        raw = json.loads(path.read_text())
        raw["processes"] = [RecordedProcess(**p) for p in raw.get("processes", [])]
        return cls(**raw)


_HAS_PROC = Path("/proc/self/cmdline").exists()


def process_cmdline(pid: int) -> str | None:
    """The command line of a live process, or None if there is no such process."""
    proc = Path(f"/proc/{pid}/cmdline")
    if _HAS_PROC:
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
    result = subprocess.run(
        ["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None


def stopped(pid: int) -> bool:
    """True when ``pid`` is stopped by a signal (SIGSTOP: state ``T`` in ``/proc``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["T"]


def _same_process(recorded: RecordedProcess) -> bool:
    now = process_cmdline(recorded.pid)
    return now is not None and now == recorded.cmdline


def owner_alive(record: RunRecord) -> bool:
    now = process_cmdline(record.owner_pid)
    return now is not None and (not record.owner_cmdline or now == record.owner_cmdline)


def _kill(recorded: RecordedProcess, timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``.

    A SIGCONT follows the SIGTERM: a process a killed run left frozen (the
    ``pause`` fault) acts on SIGTERM only once it runs again.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(recorded.pid, signal.SIGTERM)
        os.kill(recorded.pid, signal.SIGCONT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _same_process(recorded):
        time.sleep(0.02)
    if _same_process(recorded):
        with contextlib.suppress(ProcessLookupError):
            os.kill(recorded.pid, signal.SIGKILL)


def reconcile(
    backend: str,
    *,
    extra_cleanup: Callable[[RunRecord], None] | None = None,
) -> list[str]:
    """Clean up after runs of ``backend`` whose owner is gone; return what was removed."""
    removed: list[str] = []
    folder = runs_dir()
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob(f"{backend}-*.json")):
        try:
            record = RunRecord.load(path)
        except (ValueError, TypeError, KeyError):
            path.unlink(missing_ok=True)
            removed.append(f"unreadable run record {path.name}")
            continue
        if record.owner_pid == os.getpid() or owner_alive(record):
            continue
        for recorded in record.processes:
            if _same_process(recorded):
                paused = ", was paused" if stopped(recorded.pid) else ""
                _kill(recorded)
                removed.append(f"process {recorded.name} (pid {recorded.pid}{paused})")
        if extra_cleanup is not None:
            extra_cleanup(record)
        path.unlink(missing_ok=True)
    return removed
