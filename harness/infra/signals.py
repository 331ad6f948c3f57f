"""Turning SIGTERM and SIGHUP into KeyboardInterrupt, so cleanup code always runs.

A CI runner stops a job with SIGTERM; Python's default is to die on the
spot, skipping every ``finally``. Inside :func:`graceful_termination` those
signals unwind the stack like Ctrl-C does, and every context manager that
started something gets to stop it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["graceful_termination", "interrupts_deferred"]


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


@contextmanager
def graceful_termination() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP wait until it ends (main thread only).

    For teardown: a second Ctrl-C or a SIGTERM arriving while a stack is
    being stopped would otherwise leave the rest of its cleanup undone (the
    run record, the run folder, the Docker network). A signal received inside
    is raised as KeyboardInterrupt when the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {
        sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt(f"received {signal.Signals(received[0]).name}")
