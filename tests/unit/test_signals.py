"""Interrupts are never lost: one Python swallowed is raised again, deferred ones are raised once.

The red team's SIGTERM landed inside ``logging``'s after-fork hook while a
child was forked from the main thread; Python prints "Exception ignored" for
an exception raised there (or in ``__del__``, a weakref callback) and goes
on, and the run exited 0 much later. Within ``graceful_termination`` such an
interrupt is delivered to the main thread again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from harness.infra.signals import Interrupted, graceful_termination, interrupts_deferred


def _wait() -> None:
    """Ordinary code after the swallowed interrupt, waiting (as a run waits for a child to
    start): the interrupt must land in here, long before the wait ends."""
    threading.Event().wait(timeout=30)


def test_an_interrupt_raised_inside_a_finalizer_is_raised_again_in_ordinary_code() -> None:
    class RaisesWhileCollected:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGTERM)  # its handler raises here, inside __del__

    went_on = False
    with pytest.raises(Interrupted, match="received SIGTERM"), graceful_termination():
        RaisesWhileCollected()  # collected at once
        started = time.monotonic()
        _wait()
        went_on = True
    assert time.monotonic() - started < 10
    assert not went_on


def test_an_interrupt_raised_inside_an_at_fork_hook_ends_the_program() -> None:
    # At-fork hooks cannot be removed: in a process of its own.
    script = textwrap.dedent(
        """
        import os, signal, subprocess, sys, threading
        from harness.infra.signals import graceful_termination

        try:
            with graceful_termination():
                # As logging's own hook did when the SIGTERM landed there.
                os.register_at_fork(after_in_parent=lambda: signal.raise_signal(signal.SIGTERM))
                # A preexec_fn makes Python fork here, in the main thread, running the hooks.
                subprocess.Popen(["true"], preexec_fn=lambda: None).wait()
                threading.Event().wait(timeout=30)
                print("went on")
        except KeyboardInterrupt as exc:
            print(f"stopped: {exc}")
            sys.exit(130)
        """
    )
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    took_s = time.monotonic() - began
    assert result.stdout.strip() == "stopped: received SIGTERM", result.stdout + result.stderr
    assert result.returncode == 130
    assert took_s < 10


def test_signals_in_a_deferred_block_are_raised_once_when_it_ends() -> None:
    after = []
    with pytest.raises(Interrupted, match="received SIGTERM"), graceful_termination():
        with interrupts_deferred() as received:
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGINT)
            after.append(list(received))
        after.append("not reached")
    assert after == [[signal.SIGTERM, signal.SIGINT]]


def test_a_nested_deferred_block_hands_its_signal_to_the_outer_one() -> None:
    steps = []
    with pytest.raises(Interrupted, match="received SIGINT"), interrupts_deferred() as outer:
        with interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
        steps.append("outer block goes on")  # e.g. the rest of a teardown
        assert outer == [signal.SIGINT]
    assert steps == ["outer block goes on"]


def test_a_signal_held_while_the_block_fails_is_raised_with_the_failure_as_its_cause() -> None:
    with pytest.raises(Interrupted) as info, interrupts_deferred():
        signal.raise_signal(signal.SIGTERM)
        raise OSError("the spawn failed")
    assert isinstance(info.value.__cause__, OSError)


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with graceful_termination(), interrupts_deferred():
            signal.raise_signal(signal.SIGHUP)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_swallowed_sigint_is_raised_once_and_not_sent_again_after_it_is_handled() -> None:
    # The soak's SIGINT while a run wrote its reports: swallowed in a finalizer, sent
    # again, raised by Python's own SIGINT handler (not Domino's) and handled; the
    # sender went on sending, and one landed as the program exited: it died of SIGINT
    # (-2) after saying it had stopped.
    script = textwrap.dedent(
        """
        import signal, sys, threading
        from harness.infra.signals import graceful_termination

        class RaisesWhileCollected:
            def __del__(self):
                signal.raise_signal(signal.SIGINT)  # KeyboardInterrupt here is swallowed

        try:
            with graceful_termination():
                RaisesWhileCollected()
                threading.Event().wait(timeout=30)
                print("went on")
        except KeyboardInterrupt as exc:
            print(f"stopped: {type(exc).__name__}")
            threading.Event().wait(timeout=0.5)  # exiting takes a while: no SIGINT lands
            sys.exit(130)
        """
    )
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "stopped: KeyboardInterrupt", result.stdout + result.stderr
    assert result.returncode == 130, result.stderr
    assert time.monotonic() - began < 10


def test_an_interrupt_caught_after_it_left_an_exec_ends_domino_with_130_not_by_sigint(
    tmp_path: Path,
) -> None:
    # The soak's lost SIGINT: it landed while one of the reports' modules was imported,
    # inside the exec() with which dataclasses defines a class's methods. `domino run`
    # caught it, said it had stopped and returned 130; then CPython itself, exiting
    # `python -m harness.cli`, killed the process with SIGINT (-2): the exec had marked the
    # interrupt unhandled. Here the command is interrupted inside an exec() the same way.
    (tmp_path / "interrupted_domino.py").write_text(
        textwrap.dedent(
            """
            import sys
            from harness import cli, commands

            def interrupted_inside_an_exec(_args):
                exec("import signal\\nsignal.raise_signal(signal.SIGINT)")
                return 0

            commands.cmd_list = interrupted_inside_an_exec
            sys.exit(cli.main(["list"]))
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "interrupted_domino"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "domino: stopped (interrupted); everything it started is stopped" in result.stderr
    assert result.returncode == 130, f"exit {result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
