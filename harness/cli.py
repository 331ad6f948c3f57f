"""The ``domino`` command: its entry point.

Exit codes (:mod:`harness.exit_codes`): 0 success; 1 an expectation failed;
2 bad usage or input (nothing started); 3 the stack could not start, or a
run was inconclusive; 130 interrupted. Errors print as one line, never as a
traceback.

This module imports little on purpose: before the commands
(:mod:`harness.commands`) and the rest of Domino are imported, a command
that will start a local stack of Domino's own services starts their service
host (:mod:`harness.infra.early_host`), so that its imports and the
runner's run at once.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from harness.errors import DominoError, StackError, ToxiproxyError, UsageError
from harness.exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_STACK, EXIT_USAGE
from harness.infra.early_host import early_service_host
from harness.infra.home import DEFAULT_HOME, HOME_ENV
from harness.infra.signals import forget_handled_interrupts, graceful_termination

__all__ = ["early_host_folder", "main"]

#: The commands that start a stack, on the local backend unless ``--backend`` says otherwise.
_STACK_COMMANDS = frozenset({"run", "up", "demo", "matrix", "cliff", "defences"})
#: Options whose value decides whether the stack is local and Domino's own.
_DECIDING = ("--backend", "--topology", "--state-dir")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (default: the program's arguments) and give its exit code.

    Called without ``argv`` (as the program: ``domino``, ``python -m harness.cli``)
    it ends the process itself once the command is done (:func:`_end_program`).
    """
    code = _run(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        _end_program(code)
    return code


def _run(arguments: list[str]) -> int:
    try:
        with graceful_termination(), early_service_host(early_host_folder(arguments)):
            with _lean_imports():  # Domino's, while an early service host makes its own
                from harness.commands import run_command

            return run_command(arguments)
    except UsageError as exc:
        print(f"domino: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (StackError, ToxiproxyError) as exc:
        print(f"domino: error: {exc}", file=sys.stderr)
        return EXIT_STACK
    except DominoError as exc:
        print(f"domino: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:
        reason = str(exc) or "interrupted"
        print(f"domino: stopped ({reason}); everything it started is stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        # An interrupt caught above is handled: it must not end `python -m harness.cli` by
        # SIGINT once the program has exited with its code (harness.infra.signals).
        forget_handled_interrupts()


@contextlib.contextmanager
def _lean_imports() -> Iterator[None]:
    """Import the commands without two wastes (as a service's start does,
    ``services.kit.startup``): the cyclic collector running over and over on
    objects the imports make and never free, and httpx's command-line tool
    (``httpx._main``: rich, click and pygments, where installed), which
    ``import httpx`` loads only to offer ``httpx.main``. About 0.04 s."""
    # A None entry makes httpx's ``from ._main import main`` fail, and httpx then
    # offers a stub that says its command line is not installed.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _end_program(code: int) -> None:
    """End the program now, with ``code``, once its output is flushed.

    Python's own finalization (every module and object torn down one by one)
    took 0.08 s of every command, and nothing of Domino's needs it: Domino
    registers no exit handler, and everything it started is stopped before
    its command returns. A thread of its own still running (none should be)
    makes the program end the usual way, waiting for it.
    """
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return  # a profiler, coverage or a debugger writes what it found at the exit
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with that descriptor closed
            continue
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: `domino list | head`
            stream.flush()
    os._exit(code)


def early_host_folder(argv: Sequence[str]) -> Path | None:
    """The state folder, when ``argv`` will start a local stack of Domino's own services.

    A guess from the command line alone, before anything is parsed: a stack
    command (run, up, demo, matrix, cliff, defences) on the local backend,
    with no ``--topology`` but the bank, no ``./domino.yaml`` to default to,
    and for ``run`` an incident id or ``--all`` rather than a spec file (a
    spec may name any topology). Anything it cannot read for sure (help, an
    abbreviated option, an option before the command) answers None: the
    host is then started with the stack, as without this guess. A wrong
    guess costs one host's imports, closed unused.
    """
    try:
        return _guess(argv)
    except (OSError, RuntimeError, ValueError):  # a word too long for a path, ~nosuchuser
        return None  # the command's own reading says what is wrong with it


def _guess(argv: Sequence[str]) -> Path | None:
    read = _read_words(argv)
    if read is None:
        return None
    command, values, positional = read
    if command not in _STACK_COMMANDS:
        return None
    if values.get("--backend", "local") != "local" or values.get("--topology", "bank") != "bank":
        return None
    if "--topology" not in values and Path("domino.yaml").exists():
        return None
    if command == "run" and any(_looks_like_a_file(word) for word in positional):
        return None
    folder = values.get("--state-dir") or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(folder).expanduser().absolute()


def _read_words(argv: Sequence[str]) -> tuple[str | None, dict[str, str], list[str]] | None:
    """The command, the deciding options' values and the other words; None when unsure."""
    command = None
    values: dict[str, str] = {}
    positional: list[str] = []
    words = iter(argv)
    for word in words:
        name, equals, value = word.partition("=")
        if name in _DECIDING:
            value = value if equals else next(words, "")
            if not value:
                return None
            values[name] = value
        elif word in ("-h", "--help") or _abbreviates(name) or (word[:1] == "-" and not command):
            return None
        elif word[:1] == "-":
            continue
        elif command is None:
            command = word
        else:
            positional.append(word)
    return command, values, positional


def _abbreviates(name: str) -> bool:
    """``--back`` for ``--backend``: argparse takes a prefix of an option."""
    return len(name) > 2 and any(option.startswith(name) and option != name for option in _DECIDING)


def _looks_like_a_file(word: str) -> bool:
    """A spec file, not an incident id (a report folder, say, is neither)."""
    return word.endswith((".yaml", ".yml")) or Path(word).is_file()


if __name__ == "__main__":
    sys.exit(main())
