"""The event loop a load worker runs on: uvloop's where it is installed, else asyncio's own;
and the garbage collector kept from pausing it.

uvloop (PyPI ``uvloop``, the optional ``fast`` extra) runs the engine's
per-request work (tasks, futures, socket reads and writes) in C; nothing
else changes. Its clock counts in whole milliseconds, so the engine reads
``time.monotonic()`` itself for the schedule, lag and latency
(:mod:`harness.loadgen.engine`).

Python's collector, when it looks at its oldest generation, walks every object
the process holds: with Domino imported that took 12-50 ms on the benchmark
machine, a pause that every arrival due meanwhile waits out (lag p99 of 90 ms
at 10,000/s). :func:`old_objects_frozen` moves what exists before a run out of
the collector's sight for the run (``gc.freeze``), so a collection walks only
what the run itself made; it is all handed back at the end. The freeze is the
process's, so runs that overlap (threads, a library user's own runs) share one:
the first to start freezes, the last to end thaws, and what was frozen before
the first (by someone else, e.g. a service's startup) stays frozen.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["loop_name", "old_objects_frozen", "run_on_fast_loop"]

T = TypeVar("T")


def _factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        uvloop = importlib.import_module("uvloop")  # optional: only where installed
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop :func:`run_on_fast_loop` runs on here."""
    return "asyncio" if _factory() is asyncio.new_event_loop else "uvloop"


def run_on_fast_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop's loop where it is installed."""
    with asyncio.Runner(loop_factory=_factory()) as runner:
        return runner.run(main)


class _Freeze:
    """The process's freeze as the runs share it: how many are inside, and whether the
    last out thaws (not when someone else had frozen before the first came in)."""

    lock = threading.Lock()
    depth = 0
    thaw_at_end = False


@contextlib.contextmanager
def old_objects_frozen() -> Iterator[None]:
    """Keep every object that exists at the outermost entry out of the collector's walks
    until the last overlapping use ends (garbage among them included: it is collected as
    usual afterwards); a freeze made before that entry by someone else is left in place."""
    with _Freeze.lock:
        if _Freeze.depth == 0:
            _Freeze.thaw_at_end = gc.get_freeze_count() == 0
            gc.freeze()
        _Freeze.depth += 1
    try:
        yield
    finally:
        with _Freeze.lock:
            _Freeze.depth -= 1
            if _Freeze.depth == 0 and _Freeze.thaw_at_end:
                gc.unfreeze()
