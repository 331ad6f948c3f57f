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
what the run itself made; it is all handed back at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
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


@contextlib.contextmanager
def old_objects_frozen() -> Iterator[None]:
    """Keep every object that exists now out of the collector's walks until the end
    (garbage among them included: it is collected as usual afterwards)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
