"""The event loop a load worker runs on: uvloop's where it is installed, else asyncio's own.

uvloop (PyPI ``uvloop``, the optional ``fast`` extra) runs the engine's
per-request work (tasks, futures, socket reads and writes) in C; nothing
else changes. Its clock counts in whole milliseconds, so the engine reads
``time.monotonic()`` itself for the schedule, lag and latency
(:mod:`harness.loadgen.engine`).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_name", "run_on_fast_loop"]

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
