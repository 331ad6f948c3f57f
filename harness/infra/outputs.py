"""Where a command writes, checked before anything starts; standard output that fails, said once.

A ``--report`` folder that cannot be written (a file where the folder should
be, a read-only place) was found only after the run, when the reports were
written: a traceback, and the run's reports lost. :func:`check_report_folder`
tries it first, leaving nothing behind, and refuses it in one line.

Standard output can be closed (``>&-``), a pipe whose reader is gone
(``| head``), or a full disk. :class:`OutputGuard` refuses a closed one up
front, and turns a write that fails later into one line on stderr at the end
(exit 2, or the command's own failing code), instead of a traceback that
also cut the command short (a run's summary is printed before its reports
are written). Help (``--help``) printed into a pipe whose reader is gone
ends quietly (:func:`flush_stdout_quietly`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from harness.errors import UsageError

__all__ = ["DEFAULT_REPORTS", "OutputGuard", "check_report_folder", "flush_stdout_quietly"]

#: Where commands with ``--report`` write when it is not given (their folder inside it).
DEFAULT_REPORTS = Path("reports")


def check_report_folder(folder: Path, *, option: str = "--report") -> None:
    """Raise a one-line UsageError unless ``folder`` is, or can be made, a folder Domino can
    write files in. Folders it makes to find out are removed again."""
    made: list[Path] = []
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        made.append(probe)
        probe = probe.parent
    if os.path.lexists(probe) and not probe.is_dir():
        what = "a file" if probe.is_file() else _kind(probe)
        where = "it" if probe == folder else str(probe)
        raise UsageError(
            f"{option} {folder}: {where} is {what}, not a folder; give a folder for the reports"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".domino-write-check-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(
            f"{option} {folder}: cannot write there ({reason}); give a folder you can write to"
        ) from None
    finally:
        for path in made:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break


def _kind(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError:
        return "a broken link"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a folder"


def _to_devnull(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null (so flushing it again cannot fail)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def flush_stdout_quietly() -> None:
    """Flush stdout after argparse printed help; a reader that is gone is not an error.

    ``domino --help | head -1``: the help waits in stdout's buffer, the reader
    has gone by the time Python flushes it at exit, and the failed flush
    printed "Exception ignored ... BrokenPipeError" (exit 120). Flushed here,
    a failure points stdout at /dev/null and is not reported.
    """
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _to_devnull(sys.stdout)


class _GuardedStdout:
    """``sys.stdout`` that remembers its first failed write instead of raising it.

    After a failure, fd 1 is pointed at /dev/null: Python flushes stdout once
    more as it exits, and that flush failing printed "Exception ignored".
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.error: OSError | None = None

    def write(self, text: str) -> int:
        if self.error is None:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._broke(exc)
        return len(text)

    def flush(self) -> None:
        if self.error is None:
            try:
                self._stream.flush()
            except OSError as exc:
                self._broke(exc)

    def _broke(self, exc: OSError) -> None:
        self.error = exc
        _to_devnull(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class OutputGuard:
    """Around a command: check where it writes first, and report a failed stdout once at the end.

    ``args`` are the command's parsed arguments: a ``report`` attribute (the
    ``--report`` option; None: the default folder under ``reports/``) is
    checked with :func:`check_report_folder`. Entering raises UsageError for
    a closed stdout or a bad report folder, before the command starts.
    """

    def __init__(self, args: Any = None) -> None:
        self._args = args
        self._guarded: _GuardedStdout | None = None
        self._original: TextIO | None = None

    def __enter__(self) -> OutputGuard:
        if sys.stdout is None or not _open(1):
            raise UsageError(
                "standard output is closed: there is nowhere to print the results "
                "(send it to a file or to /dev/null instead)"
            )
        if self._args is not None and hasattr(self._args, "report"):
            given = self._args.report
            check_report_folder(Path(given) if given else DEFAULT_REPORTS)
        self._original = sys.stdout
        self._guarded = _GuardedStdout(sys.stdout)
        sys.stdout = self._guarded
        return self

    def exit_code(self, code: int) -> int:
        """``code``, unless stdout failed: then one line on stderr, and 2 if ``code`` was 0."""
        assert self._guarded is not None
        self._guarded.flush()
        error = self._guarded.error
        if error is None:
            return code
        reason = error.strerror or str(error)
        print(f"domino: error: cannot write to standard output ({reason})", file=sys.stderr)
        return code or 2

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._guarded is not None:
            self._guarded.flush()
            sys.stdout = self._original


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
