"""A run's report folder: the run's own while it lasts, cleared of the last run's reports at
its start, and marked incomplete until this run's reports are all written.

An interrupted run used to leave the previous run's ``junit.xml`` (``failures="0"``) in
place, unmarked, and two runs into one folder overwrote each other's reports. Now a run
writing to ``--report DIR``:

- takes the folder (an advisory lock on ``DIR/.domino-report.lock``, released by the
  kernel whatever ends the run, SIGKILL included); a second run into the same folder
  meanwhile is refused in one line (:class:`ReportFolderBusyError`, exit 2) before it
  starts anything;
- removes the reports a run writes there (only those files, by name: anything else in
  the folder is left alone) and writes in their place reports that say the run has not
  finished: JSON with ``"complete": false``, JUnit with one erring case, a short HTML
  page. A run killed with SIGKILL leaves exactly those;
- when it ends without its reports written (interrupted, or ended by an error), writes
  them again saying why;
- writes every report whole or not at all (a temporary file renamed over the old one).

Writing the reports themselves stays with each format's writer (:func:`write_file` is
how they write); where a folder can be written at all is checked before anything starts
by :mod:`harness.infra.outputs`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import html
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import UsageError
from harness.infra.outputs import check_report_folder
from harness.infra.signals import interrupts_deferred
from harness.report.junit import render_incomplete_junit

__all__ = [
    "MATRIX_REPORTS",
    "RUN_REPORTS",
    "ReportFolder",
    "ReportFolderBusyError",
    "ReportNames",
    "read_report",
    "write_file",
]

#: The folder's lock file, held by the run writing there.
LOCK_NAME = ".domino-report.lock"


class ReportFolderBusyError(UsageError):
    """Another live run is writing its reports into the folder."""


@dataclass(frozen=True, slots=True)
class ReportNames:
    """The files one kind of run writes into its report folder.

    ``kind`` names the run in the incomplete reports ("run", "matrix"); ``extra``
    are files it writes only sometimes (``stability.json``), cleared all the same.
    """

    kind: str
    json: str
    junit: str
    html: str
    extra: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return (self.json, self.junit, self.html, *self.extra)


#: What ``domino run`` writes.
RUN_REPORTS = ReportNames("run", "report.json", "junit.xml", "report.html", ("stability.json",))
#: What ``domino matrix`` writes.
MATRIX_REPORTS = ReportNames("matrix", "matrix.json", "junit.xml", "matrix.html")


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a reader (or a run killed meanwhile)
    sees the old file or the new one, never half of one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class ReportFolder:
    """``path`` as one run's report folder for the length of the block.

    Entering takes the folder (:class:`ReportFolderBusyError` when another live run
    has it), clears the previous reports and marks the folder's reports incomplete;
    call :meth:`complete` once the run's reports are written. Leaving without it
    writes incomplete reports saying why (interrupted, or the error that ended the
    run), then releases the folder.
    """

    def __init__(self, path: Path, names: ReportNames, *, option: str = "--report") -> None:
        self.path = path
        self.names = names
        self._option = option
        self._lock: int | None = None
        self._complete = False
        self._started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def __enter__(self) -> ReportFolder:
        check_report_folder(self.path, option=self._option)  # one line if it cannot be written
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = self._take()
        try:
            for name in self.names.all:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / name).unlink()
            self._mark_incomplete(
                f"the {self.names.kind} is still going (pid {os.getpid()}, started "
                f"{self._started_at}); if no such run is alive, it did not finish"
            )
        except BaseException:
            self._release()
            raise
        return self

    def complete(self) -> None:
        """The run's reports are written: leaving the block leaves them as they are."""
        self._complete = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._complete:
                with interrupts_deferred():  # a second Ctrl-C must not cut the marking short
                    self._mark_incomplete(_why(exc))
        finally:
            self._release()

    def _take(self) -> int:
        """The folder's lock, held; ReportFolderBusyError when a live run holds it.

        The lock file is removed when the run ends; a run that opened it just before is
        told by its inode that it locked a file no longer there, and takes a new one.
        """
        lock_path = self.path / LOCK_NAME
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                os.close(fd)
                raise ReportFolderBusyError(
                    f"{self._option} {self.path}: another domino {self.names.kind} "
                    f"({holder or 'a live process'}) is writing its reports there; "
                    "wait for it to end or give another folder"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()}, started {self._started_at}".encode(), 0)
                return fd
            os.close(fd)

    def _release(self) -> None:
        if self._lock is None:
            return
        with contextlib.suppress(OSError):
            (self.path / LOCK_NAME).unlink()  # while held: the next run makes its own
        os.close(self._lock)
        self._lock = None

    def _mark_incomplete(self, reason: str) -> None:
        """Every report of the folder says the run did not finish, and why."""
        names = self.names
        data = {
            "format": 1,
            "kind": f"domino-{names.kind}",
            "complete": False,
            "outcome": "incomplete",
            "reason": reason,
            "started_at": self._started_at,
            "runs": [],
        }
        write_file(self.path / names.json, json.dumps(data, indent=1) + "\n")
        write_file(self.path / names.junit, render_incomplete_junit(names.kind, reason))
        write_file(self.path / names.html, _incomplete_html(names.kind, reason))


def _why(exc: BaseException | None) -> str:
    """Why a run ended before its reports were written, in one line."""
    if exc is None:
        return "the run ended before its reports were written"
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted ({exc})" if str(exc) else "interrupted"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"ended by an error: {first}"


def _incomplete_html(kind: str, reason: str) -> str:
    text = html.escape(f"This {kind} did not finish: {reason}.")
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        "<title>Domino report: INCOMPLETE</title></head><body>"
        f"<h1>Domino report: incomplete</h1><p>{text}</p>"
        "<p>Nothing in this folder is a result: run it again.</p></body></html>\n"
    )


def read_report(file: Path, kind: str, what: str) -> dict[str, Any]:
    """The JSON of a report Domino wrote, whose ``kind`` field is ``kind``; UsageError
    (one line: the file, and that it is not ``what``) for anything else."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{file}: not a {what} ({exc})") from None
    if not isinstance(raw, dict) or raw.get("kind") != kind:
        raise UsageError(f"{file}: not a {what} (no kind: {kind})")
    return raw
