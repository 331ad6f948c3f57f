"""Turning SIGTERM and SIGHUP into KeyboardInterrupt, so cleanup code always runs, and
never losing one.

A CI runner stops a job with SIGTERM; Python's default is to die on the
spot, skipping every ``finally``. Inside :func:`graceful_termination` those
signals unwind the stack like Ctrl-C does, and every context manager that
started something gets to stop it.

An interrupt is raised wherever the main thread happens to be, and Python
swallows an exception raised inside a finalizer (``__del__``), a weakref
callback or an at-fork hook (printing "Exception ignored in ..."): a SIGTERM
that landed in ``logging``'s after-fork hook while a child was started was
lost, and the run went on to exit 0. Inside :func:`graceful_termination` an
interrupt Python swallowed is delivered to the main thread again
(:func:`_redeliver_swallowed`), so it is raised in ordinary code, once: SIGINT
too goes through a handler of Domino's (raising a plain KeyboardInterrupt, as
Python's does), which marks the redelivery received, and none is sent after
the block. Before, a redelivered SIGINT raised by Python's own handler was
sent on every 50 ms, and one could land as the program exited: it said it had
stopped, then died of SIGINT (exit -2, not 130).

:func:`interrupts_deferred` holds interrupts for a block that must not be
cut short (a teardown, starting a child and recording it) and raises one
when the block ends; blocks nest, the outermost one raises.

:func:`forget_handled_interrupts` keeps an interrupt that was handled from
ending the program by SIGINT after all. Run as ``python -m``, CPython kills
itself with SIGINT once it has finished (exit -2: the Unix way of saying a
program was interrupted and did not handle it) when a process-wide mark says
a KeyboardInterrupt went unhandled. Every ``exec()`` or ``eval()`` of a
string sets that mark when a KeyboardInterrupt leaves it, whoever catches it
afterwards; ``dataclasses`` defines each class's methods so. A SIGINT that
landed while a module with dataclasses was being imported (the reports'
modules are imported as they are written) was caught, the run said it had
stopped, then died of SIGINT with no traceback, a few times in a hundred.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = [
    "Interrupted",
    "forget_handled_interrupts",
    "graceful_termination",
    "interrupts_deferred",
]

_DEFERRED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """KeyboardInterrupt raised for a signal; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    if _received(frame) is not None:
        raise Interrupted(signum)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT as Python's own handler raises it, but seen as received (a redelivery ends)."""
    if _received(frame) is not None:
        raise KeyboardInterrupt


# Redeliveries still being sent: each ends when one of Domino's handlers receives it.
_pending_redeliveries: list[threading.Event] = []
# Held by a sender while it checks and sends, and by a handler while it marks a
# redelivery received: no send follows the mark.
_redelivery_lock = threading.RLock()  # a handler can run inside a handler
_REDELIVERY_PERIOD_S = 0.05
_REDELIVERY_GIVE_UP_S = 30.0


def _received(frame: FrameType | None) -> bool | None:
    """Called first by each of Domino's handlers. None: the signal landed in the
    redelivery hook, where it must not be raised (it would be swallowed for good)
    and is left to its sender, which sends it again. Otherwise whether it
    completed a redelivery."""
    with _redelivery_lock:
        if _inside_redelivery_hook(frame):
            return None
        completed = bool(_pending_redeliveries)
        while _pending_redeliveries:
            _pending_redeliveries.pop().set()
        return completed


def _inside_redelivery_hook(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code is _HOOK_CODE:
            return True
        frame = frame.f_back
    return False


def _redeliver_swallowed(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """An ``sys.unraisablehook`` that delivers a swallowed interrupt to the main thread again.

    The signal is sent again to the main thread, from a new thread, until one of
    Domino's handlers has received it: sent once, it can land in the instant
    between the main thread letting go of the interpreter and starting to wait
    on a lock, and that wait would not be woken. Should the main thread still
    be in a finalizer when it lands, that one is swallowed too and sent again;
    should it land in this hook, it is not raised there.
    """

    def hook(unraisable: Any) -> object:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            signum = getattr(unraisable.exc_value, "signum", signal.SIGINT)
            received = threading.Event()
            _pending_redeliveries.append(received)
            # A bare thread: threading.Thread.start() would wait for it here, in the hook.
            _thread.start_new_thread(
                _send_until_received, (signum, threading.main_thread().ident, received)
            )
            return None
        return previous(unraisable)

    return hook


_HOOK_CODE = _redeliver_swallowed(print).__code__


def _send_until_received(signum: int, main_thread: int | None, received: threading.Event) -> None:
    """A real signal, not ``_thread.interrupt_main``: it also wakes a main thread that waits
    on a lock or a sleep. Only to a Python handler: never the default action (death)."""
    deadline = time.monotonic() + _REDELIVERY_GIVE_UP_S
    while main_thread is not None and time.monotonic() < deadline:
        with _redelivery_lock:
            if received.is_set() or not callable(signal.getsignal(signum)):
                return
            signal.pthread_kill(main_thread, signum)
        if received.wait(_REDELIVERY_PERIOD_S):
            return


@contextmanager
def graceful_termination() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt, and an interrupt
    Python would swallow is raised again (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        sig: signal.signal(sig, _raise_interrupt)
        for sig in (signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(sig) is not signal.SIG_IGN  # nohup's SIGHUP stays ignored
    }
    # SIGINT keeps Python's behaviour (a plain KeyboardInterrupt) through a handler of
    # Domino's, so that a redelivered SIGINT, once received, is not sent again.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    previous_hook = sys.unraisablehook
    hook = _redeliver_swallowed(previous_hook)
    sys.unraisablehook = hook
    try:
        yield
    finally:
        if sys.unraisablehook is hook:  # a test runner may have put its own in meanwhile
            sys.unraisablehook = previous_hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_redeliveries()


def _stop_redeliveries() -> None:
    """No redelivery outlives the block: it was raised in it, or the block is over anyway
    (sent later it would land in whatever runs next, e.g. the program's exit)."""
    with _redelivery_lock:
        while _pending_redeliveries:
            _pending_redeliveries.pop().set()


class _Hold:
    """The handler of an :func:`interrupts_deferred` block: remembers each signal."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        completed_redelivery = _received(frame)
        if completed_redelivery is None:
            return
        if completed_redelivery and signum in self.received:
            return  # the same signal, sent again
        self.received.append(signum)


@contextmanager
def interrupts_deferred() -> Iterator[list[int]]:
    """Within the block, SIGINT, SIGTERM and SIGHUP wait until it ends (main thread only).

    For teardown: a second Ctrl-C or a SIGTERM arriving while a stack is
    being stopped would otherwise leave the rest of its cleanup undone (the
    run record, the run folder, the Docker network). For starting a child: a
    child started but not yet recorded as the run's would be left running.

    Yields the signals received so far (a list that grows). A signal received
    inside is raised as KeyboardInterrupt when the block ends, also when the
    block ends with another error (that error becomes its cause); inside an
    outer deferred block it is handed to that block instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    hold = _Hold()
    previous = {
        sig: signal.signal(sig, hold)
        for sig in _DEFERRED
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield hold.received
    except BaseException as exc:
        _restore(previous)
        if hold.received and not isinstance(exc, KeyboardInterrupt):
            _pass_on(hold.received, previous, cause=exc)
        raise
    _restore(previous)
    _pass_on(hold.received, previous, cause=None)


def _restore(previous: dict[signal.Signals, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _pass_on(
    received: list[int], previous: dict[signal.Signals, Any], *, cause: BaseException | None
) -> None:
    """Hand held signals to an enclosing deferred block, or raise the first one."""
    if not received:
        return
    outer = previous[signal.Signals(received[0])]
    if isinstance(outer, _Hold):
        outer.received.extend(received)
        return
    raise Interrupted(received[0]) from cause


def forget_handled_interrupts() -> None:
    """Clear the interpreter's mark of an unhandled KeyboardInterrupt (see the module docstring).

    For a program's entry point, once every interrupt it caught was handled:
    a KeyboardInterrupt that leaves the entry point afterwards still sets the
    mark, and the program still ends by SIGINT, as it should. CPython (3.11 to
    3.13 at least) clears the mark at the start of each ``exec()`` of a string;
    there is no other way to clear it. ``tests/unit/test_signals.py`` checks
    that this still works on the interpreter Domino runs on.
    """
    exec("pass")  # noqa: S102 - a constant string: this call is what clears the mark
