"""The lifecycle every backend shares, written once: record, bring up, assemble, hand over,
tear down.

A backend is a :class:`BackendRun`: it brings its parts up (Toxiproxy, the
services, one proxy per edge) and tears down what it started. Everything
else is here: the run record saved before anything starts (so the next run
reconciles what a killed one left), the :class:`~harness.stack.Stack`
assembled over what was brought up, its endpoints written to the record (so
another process can attach: ``domino fault``), and, on every path, the
system's control closed, the backend torn down and the record discarded
under deferred interrupts (a second Ctrl-C cannot cut the teardown short).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.backends.assembly import RunPlan, assemble_stack
from harness.backends.attached import describe_for_record
from harness.contracts import ServiceControl
from harness.infra.home import domino_home, make_state_folder
from harness.infra.runstate import RunRecord, live_records, process_cmdline
from harness.infra.signals import interrupts_deferred
from harness.stack import EdgeEndpoint, Stack
from harness.toxiproxy.client import ToxiproxyClient

__all__ = ["BackendRun", "Brought", "new_run_dir", "remove_stale_run_dir", "stack_lifecycle"]


@dataclass
class Brought:
    """What a backend brought up: Toxiproxy, each service's direct URL, each edge's proxy.

    ``allowed_hosts`` are the backend's own hosts traffic may go to besides
    loopback; ``services_control`` is its control of the services (None:
    process faults are not possible there); ``dependency_settings`` what the
    services must be set to by someone else (:attr:`Stack.dependency_settings`);
    ``extra`` is backend detail for ``Stack.extra``.
    """

    toxiproxy: ToxiproxyClient
    services: dict[str, str]
    edges: dict[str, EdgeEndpoint]
    allowed_hosts: tuple[str, ...] = ()
    services_control: ServiceControl | None = None
    dependency_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class BackendRun(Protocol):
    """One backend's part of one run."""

    #: The backend's name (``local``, ``docker``, ``external``, ...).
    name: str

    def bring_up(self, plan: RunPlan, record: RunRecord, say: Callable[[str], None]) -> Brought:
        """Start what the run needs; record every process or resource in ``record``."""
        ...

    def release(self, stack: Stack) -> None:
        """Leave the system as the run must leave it, before teardown (e.g. no faults)."""
        ...

    def tear_down(self) -> None:
        """Stop and remove what :meth:`bring_up` started, even if it stopped half-way."""
        ...


def new_run_dir(backend: str) -> Path:
    """A fresh folder for one run's logs and data: ``$DOMINO_HOME/BACKEND/run-PID-MS``."""
    run_dir = domino_home() / backend / f"run-{os.getpid()}-{int(time.time() * 1000)}"
    return make_state_folder(run_dir)


def remove_stale_run_dir(record: RunRecord) -> None:
    """Reconcile's cleanup of a stale record's run folder: only a folder provably its own.

    A record names its folder by path, and a record can be wrong (written by
    hand, or by an older Domino) or name a folder another run uses. The
    folder is removed only when it is where and as :func:`new_run_dir` made
    it for the record's owner (``$DOMINO_HOME/BACKEND/run-OWNERPID-MS``, not a
    link), no live run's record names it, and none of the record's processes
    still runs (reconcile stopped those it could prove were the record's;
    one it left alone may be using the folder). Otherwise it is left alone.
    """
    run_dir = record.extra.get("run_dir")
    if not run_dir or record.extra.get("keep_data"):
        return
    folder = Path(run_dir)
    home = domino_home() / record.backend
    if (
        folder.is_symlink()
        or not re.fullmatch(rf"run-{record.owner_pid}-\d+", folder.name)
        or folder.parent.resolve() != home.resolve()
    ):
        return
    if any(live.extra.get("run_dir") == run_dir for live in live_records()):
        return
    if any(process_cmdline(p.pid) == p.cmdline for p in record.processes):
        return
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def stack_lifecycle(
    backend: BackendRun, plan: RunPlan, record: RunRecord, say: Callable[[str], None]
) -> Iterator[Stack]:
    """Bring ``plan`` up with ``backend``; everything is torn down when the block ends."""
    stack: Stack | None = None
    try:
        record.save()
        brought = backend.bring_up(plan, record, say)
        stack = assemble_stack(
            plan,
            backend=backend.name,
            toxiproxy=brought.toxiproxy,
            services=brought.services,
            edges=brought.edges,
            allowed_hosts=brought.allowed_hosts,
            dependency_settings=brought.dependency_settings,
            extra=brought.extra,
            services_control=brought.services_control,
        )
        record.extra["stack"] = describe_for_record(stack)
        record.save()
        yield stack
    finally:
        with interrupts_deferred():
            try:
                if stack is not None:
                    try:
                        backend.release(stack)
                    finally:
                        stack.injector.control.close()
            finally:
                try:
                    backend.tear_down()
                finally:
                    record.discard()
