"""A service host started before the runner's own imports, for the first local stack to take.

A ``domino run`` spends about 0.3 s importing Domino before it starts
anything, and the service host (:mod:`harness.infra.service_host`) then
about 0.45 s importing FastAPI, pydantic and uvicorn before it can fork the
first service. :func:`early_service_host`, entered by :func:`harness.cli.main`
before those imports when the command line says a local stack of Domino's
own services will start, launches the host first, so that both import at
once; the local backend takes it (:func:`take_early_host`) instead of
launching its own. A host no stack took is closed when the block ends.

Until it is taken the host is in no run record, and nothing of it can be
left behind: its process dies with the runner (the parent-death signal every
spawned child has), and it has forked no service yet. Its log is an unnamed
file (``O_TMPFILE``) in the state folder's ``local`` folder, or the nearest
folder above it that exists (nothing is made before the command is read), given
its name in the run's folder
when a stack takes the host, and gone with the runner otherwise.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.infra.service_host import ServiceHost, host_wanted
from harness.infra.signals import interrupts_deferred

__all__ = ["close_early_host", "early_service_host", "take_early_host"]

#: Where the host's unnamed log is made: the folder the local backend's run folders are in.
_LOG_FOLDER = "local"


@dataclass
class _Early:
    host: ServiceHost
    #: The unnamed log file, open until the host is taken or closed.
    log_fd: int


class _Slot:
    """Where the early host waits to be taken: one per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._early: _Early | None = None

    def swap(self, early: _Early | None) -> _Early | None:
        """Put ``early`` in; what was there before."""
        with self._lock:
            before, self._early = self._early, early
        return before


_SLOT = _Slot()


@contextlib.contextmanager
def early_service_host(state_folder: Path | None) -> Iterator[None]:
    """Launch the service host now (``state_folder``: where its unnamed log is made; None:
    launch nothing), for a stack started within the block to take; close it at the end
    if none did."""
    with interrupts_deferred():  # launched and in the slot, or neither
        stale = _SLOT.swap(_launch(state_folder) if state_folder is not None else None)
        if stale is not None:  # a block entered within another: the inner one's host is used
            _close(stale)
    try:
        yield
    finally:
        close_early_host()


def take_early_host(log_path: Path) -> ServiceHost | None:
    """The host launched early, if one is waiting, its log now named ``log_path``.

    The caller owns it from here (records it, closes it). None when there is
    none (already taken, or none launched), or when its log could not be
    named (it is closed then, and the caller launches its own).
    """
    early = _SLOT.swap(None)
    if early is None:
        return None
    try:
        _name_file(early.log_fd, log_path)
    except OSError:
        _close(early)
        return None
    os.close(early.log_fd)
    early.host.process.log_path = log_path
    return early.host


def close_early_host() -> None:
    """Stop the host launched early, if one is waiting (a stack with no use for it, or
    the command's end): its log, never named, goes with it."""
    early = _SLOT.swap(None)
    if early is not None:
        _close(early)


def _launch(state_folder: Path) -> _Early | None:
    """The host, logging to an unnamed file; None when the host is off or the file
    cannot be made here (the stack then launches the host itself)."""
    try:
        if not host_wanted():
            return None
        folder = _nearest_folder(state_folder / _LOG_FOLDER)
        log_fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o644)
    except (OSError, UsageError, AttributeError):  # AttributeError: no O_TMPFILE here
        return None
    try:
        host = ServiceHost.launch(Path(f"/proc/self/fd/{log_fd}"))
    except BaseException:
        os.close(log_fd)
        raise
    return _Early(host, log_fd)


def _nearest_folder(path: Path) -> Path:
    """``path``, or the nearest folder above it that exists: where the run's folder will be
    made, so on its file system, and nothing is made before the command line is read
    (a command refused for bad input leaves no state folder behind)."""
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def _name_file(fd: int, path: Path) -> None:
    """Give the unnamed file ``fd`` the name ``path`` (same file system): ``linkat`` with
    AT_SYMLINK_FOLLOW on its ``/proc`` link, which ``os.link`` asks for only when given
    a folder's descriptor (else it calls ``link``, which would link ``/proc``'s symlink)."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(f"/proc/self/fd/{fd}", path.name, dst_dir_fd=folder, follow_symlinks=True)
    finally:
        os.close(folder)


def _close(early: _Early) -> None:
    """Stop a host no stack took, at once: it has forked nothing, and one still importing
    would otherwise read its end of the socket only once it has imported (about 0.45 s
    more for a command refused for bad input). A second interrupt waits until it is done."""
    with interrupts_deferred():
        try:
            early.host.process.stop()
            early.host.close()
        finally:
            os.close(early.log_fd)
