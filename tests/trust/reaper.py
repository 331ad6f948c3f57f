"""Run a command as a child subreaper: report every descendant that outlived it.

``python -m tests.trust.reaper REPORT -- ARGV...`` starts ARGV, writes its pid
to ``REPORT.pid``, waits for it, then reaps every process it left behind and
writes ``REPORT`` (JSON: ``exit_code``; ``orphans``, each a pid with its
exit status; ``lived_on``: those still running 10 s after it ended, then
killed here), and exits with ARGV's code (128+N for a signal N).

Linux hands an orphan to its nearest subreaper ancestor (prctl
PR_SET_CHILD_SUBREAPER). A child Domino stopped itself was reaped by Domino
and never reaches this process; one it left running (even if the kernel's
parent-death signal killed it as Domino exited) does. So ``orphans == []``
proves that Domino stopped every child it started before it exited, not the
safety net.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36
#: How long an orphan may take to end (the parent-death signal acts at once).
_ORPHANS_DIE_S = 10.0


def _children() -> list[int]:
    """This process's live children, from /proc."""
    mine = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[1] == mine and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _status(raw: int) -> str:
    if os.WIFSIGNALED(raw):
        return f"killed by signal {os.WTERMSIG(raw)}"
    return f"exit {os.WEXITSTATUS(raw)}"


def main(argv: list[str]) -> int:
    report, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit("usage: python -m tests.trust.reaper REPORT -- ARGV...")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # not ignored in ARGV, whatever the caller did
    child = subprocess.Popen(command, start_new_session=True)  # a test's Ctrl-C stays out
    Path(f"{report}.pid").write_text(str(child.pid))
    code = child.wait()
    orphans: list[dict[str, object]] = []
    lived_on: list[int] = []
    deadline = time.monotonic() + _ORPHANS_DIE_S
    while True:
        try:
            pid, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break  # no child left
        if pid:
            orphans.append({"pid": pid, "status": _status(raw)})
        elif time.monotonic() > deadline and not lived_on:  # it would live on: end it
            lived_on = _children()
            for left in lived_on:
                os.kill(left, signal.SIGKILL)
        else:
            time.sleep(0.01)
    result = {"exit_code": code, "orphans": orphans, "lived_on": lived_on}
    Path(report).write_text(json.dumps(result))
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
