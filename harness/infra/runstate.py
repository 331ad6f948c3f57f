"""What a running stack has started, on disk, so a killed run can be cleaned up.

Each run writes ``$DOMINO_HOME/runs/<backend>-<pid>.json`` (a second stack the
same process runs at once, as ``matrix --workers`` does, ``<backend>-<pid>-2.json``
and so on) listing what it started (process ids with their command lines and start times, container
labels, ...). A run that ends normally deletes its file. A run killed with
SIGKILL cannot, so every start first :func:`reconcile`\\ s: for each file
whose owner is gone, it stops what is still running and deletes the file.

A process is the record's only if it provably is: a pid is reused (pid_max is
32,768 on many hosts) and a stale record's pid can name a live process of
another run with the very same command line. So each process is recorded
with its start time (:func:`process_started`: the kernel's start time and
the boot's id on Linux), which a reused pid does not share, and reconcile
signals a process only when pid, start time and command line all match and
no live run's record lists it. A record written without start times (by an
older Domino) proves nothing: its processes are left alone.

A run may also change files in the user's working copy (a service's settings
file, ``files:`` in a topology). Each one's original is kept in the record,
whole, before the file is first written (:func:`keep_original`); the run puts
them back when it ends (:func:`restore_originals`), and so does reconcile
for a run that was killed. A record whose originals could not all be put
back is not deleted, so the next reconcile tries again.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.infra.home import domino_home, make_state_folder

__all__ = [
    "OriginalFile",
    "RecordedProcess",
    "RunRecord",
    "keep_original",
    "live_records",
    "owner_alive",
    "process_cmdline",
    "process_started",
    "reconcile",
    "restore_originals",
    "runs_dir",
    "stopped",
    "write_atomically",
]


def runs_dir() -> Path:
    return domino_home() / "runs"


@dataclass(frozen=True, slots=True)
class RecordedProcess:
    """A process a run started, identified by pid, command line and start time.

    ``started`` is :func:`process_started` when it was recorded ("": unknown,
    so never provably this process).
    """

    name: str
    pid: int
    cmdline: str
    started: str = ""


@dataclass(frozen=True, slots=True)
class OriginalFile:
    """A file in the user's working copy as it was before a run wrote it.

    ``content`` is its bytes in base64, or None when there was no file (putting
    it back deletes the run's); ``mode`` its permission bits.
    """

    path: str
    content: str | None
    mode: int = 0o644


@dataclass
class RunRecord:
    """The on-disk record of one run's resources."""

    backend: str
    owner_pid: int = field(default_factory=os.getpid)
    owner_cmdline: str = ""
    processes: list[RecordedProcess] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: The owner's :func:`process_started` ("": unknown; the command line decides).
    owner_started: str = ""
    #: Working-copy files the run wrote, as they were before (:func:`keep_original`).
    originals: list[OriginalFile] = field(default_factory=list)

    #: The record's file name in :func:`runs_dir`, chosen when it is made: one per
    #: stack, also when one process runs several at once (:func:`_claim_name`).
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = _claim_name(self.backend, self.owner_pid)

    @property
    def path(self) -> Path:
        return runs_dir() / self.name

    def save(self) -> None:
        if not self.owner_cmdline:
            self.owner_cmdline = process_cmdline(self.owner_pid) or ""
        if not self.owner_started:
            self.owner_started = process_started(self.owner_pid) or ""
        with _SAVING:  # a stack's threads (its spawner's included) save one at a time
            make_state_folder(self.path.parent)
            tmp = self.path.with_suffix(".tmp")
            tmp.touch(mode=0o600)  # the record may hold the stack's admin token
            tmp.write_text(json.dumps(asdict(self)))
            tmp.replace(self.path)

    def add_process(self, name: str, pid: int) -> None:
        started = process_started(pid) or ""
        self.processes.append(RecordedProcess(name, pid, process_cmdline(pid) or "", started))
        self.save()

    def discard(self) -> None:
        """Delete the record, unless it holds originals not put back (the next reconcile's)."""
        if self.originals:
            self.save()
            return
        with _SAVING:  # a save under way on another thread cannot write it back after this
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            _names_in_use.discard((str(runs_dir()), self.name))

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        raw = json.loads(path.read_text())
        raw.setdefault("name", path.name)  # written before records named themselves
        raw["processes"] = [RecordedProcess(**p) for p in raw.get("processes", [])]
        raw["originals"] = [OriginalFile(**f) for f in raw.get("originals", [])]
        return cls(**raw)


_SAVING = threading.Lock()
#: (runs folder, record name) of this process's live stacks (guarded by ``_SAVING``).
_names_in_use: set[tuple[str, str]] = set()


def _claim_name(backend: str, pid: int) -> str:
    """``<backend>-<pid>.json``, or ``-2``, ``-3``, ... while another stack of this
    process holds it in the same runs folder: two stacks of one process (``matrix
    --workers``) once shared one record, each overwriting the other's list of what
    it had started."""
    folder = str(runs_dir())
    with _SAVING:
        serial = 1
        while (folder, name := f"{backend}-{pid}{f'-{serial}' if serial > 1 else ''}.json") in (
            _names_in_use
        ):
            serial += 1
        _names_in_use.add((folder, name))
        return name


def _scratch(path: Path) -> Path:
    """The one temporary name writes to ``path`` go through (so a killed run's is found)."""
    return path.with_name(f".{path.name}.domino-tmp")


def write_atomically(path: Path, content: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``content`` in one step: a reader sees the old file or the new.

    ``mode``: the new file's permission bits (default: the old file's, if any).
    """
    scratch = _scratch(path)
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = path.stat().st_mode & 0o7777
    with scratch.open("wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    if mode is not None:
        scratch.chmod(mode)
    scratch.replace(path)


def keep_original(record: RunRecord, path: Path) -> None:
    """Keep ``path`` as it is now in ``record`` (saved) before the run first writes it.

    Once per path per run. UsageError when a live run of another process is
    using the same file (its original would be taken for the user's).
    """
    key = str(path)
    if any(f.path == key for f in record.originals):
        return
    folder = runs_dir()
    for other_path in folder.glob("*.json") if folder.is_dir() else ():
        if other_path == record.path:
            continue
        try:
            other = RunRecord.load(other_path)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if any(f.path == key for f in other.originals) and owner_alive(other):
            raise UsageError(
                f"{path} is being written by another Domino run (pid {other.owner_pid}); "
                "wait for it to end"
            )
    try:
        content: str | None = base64.b64encode(path.read_bytes()).decode()
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        content, mode = None, 0o644
    record.originals.append(OriginalFile(key, content, mode))
    record.save()


def restore_originals(record: RunRecord) -> list[str]:
    """Put every working-copy file ``record`` kept back as it was; say what was done.

    An original that cannot be put back stays in the record (saved), with a
    line saying why; the others leave it.
    """
    done, left = [], []
    for original in record.originals:
        path = Path(original.path)
        try:
            with contextlib.suppress(FileNotFoundError):
                _scratch(path).unlink()
            if original.content is None:
                path.unlink(missing_ok=True)
                done.append(f"removed {path} (the run made it)")
            else:
                content = base64.b64decode(original.content)
                write_atomically(path, content, mode=original.mode)
                done.append(f"put back {path}")
        except OSError as exc:
            left.append(original)
            done.append(f"could not put back {path}: {exc.strerror or exc}; will try again")
    if left or record.originals:
        record.originals = left
        record.save()
    return done


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


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_started(pid: int) -> str | None:
    """When a live process started, as an opaque text; None if there is no such live process.

    With the pid it names one process: a pid is reused, a (pid, start) pair is
    not. On Linux: the boot's id and the start time in clock ticks since boot
    (field 22 of ``/proc/PID/stat``; the boot's id because tick counts repeat
    from one boot to the next). Elsewhere: ``ps``'s start time, to the second.
    """
    if _HAS_PROC:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rpartition(")")[2].split()
        # fields[0] is the state (field 3 of proc(5)); a zombie has ended already.
        if len(fields) < 20 or fields[0] in ("Z", "X"):
            return None
        return f"{_boot_id()}/{fields[19]}"
    result = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False
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
    """The process the record names is still alive: same pid, start time and command line."""
    if not recorded.started or process_started(recorded.pid) != recorded.started:
        return False
    return process_cmdline(recorded.pid) == recorded.cmdline


def owner_alive(record: RunRecord) -> bool:
    """The run that wrote ``record`` is still running.

    With the owner's start time recorded, a reused owner pid is not taken for
    the owner; without it, a live process with the owner's command line is
    (so an old record of a live run is never cleaned up under it).
    """
    if record.owner_started:
        return process_started(record.owner_pid) == record.owner_started
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
    """Clean up after runs of ``backend`` whose owner is gone; return what was removed.

    A process is stopped only if it is provably the one the record names
    (pid, start time and command line) and no live run's record, of any
    backend, lists it.
    """
    removed: list[str] = []
    folder = runs_dir()
    if not folder.is_dir():
        return removed
    owned = _owned_by_live_runs(folder)
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
            if (recorded.pid, recorded.started) in owned:
                continue  # another live run's: whatever this record says
            if _same_process(recorded):
                paused = ", was paused" if stopped(recorded.pid) else ""
                _kill(recorded)
                removed.append(f"process {recorded.name} (pid {recorded.pid}{paused})")
        removed += restore_originals(record)
        if extra_cleanup is not None:
            extra_cleanup(record)
        if not record.originals:
            path.unlink(missing_ok=True)
    return removed


def live_records(folder: Path | None = None) -> list[RunRecord]:
    """The records of live runs (this run's included), of every backend, in ``folder``
    (default: :func:`runs_dir`)."""
    folder = folder if folder is not None else runs_dir()
    live = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            record = RunRecord.load(path)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if record.owner_pid == os.getpid() or owner_alive(record):
            live.append(record)
    return live


def _owned_by_live_runs(folder: Path) -> set[tuple[int, str]]:
    """(pid, start time) of every process a live run's record lists, this run's included."""
    return {(p.pid, p.started) for r in live_records(folder) for p in r.processes if p.started}
