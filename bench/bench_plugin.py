"""The pytest plugin's fixed cost per test (reset before, leftover check after), new vs baseline.

Ten empty tests that each take ``domino_stack`` run under pytest in a fresh
process, in this checkout and in a baseline revision (a git worktree,
default: the last commit before the plugin's bookkeeping was reworked),
interleaved for ``--rounds`` rounds. pytest's own ``--durations`` give each
test's setup and teardown; the first test's setup (the stack starting) is
left out.

    .venv/bin/python bench/bench_plugin.py [--baseline REV] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from baseline import ROOT, worktree

BASELINE_REV = "c663d26"
_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(10))
def test_empty(domino_stack, n):
    assert domino_stack.entry_url
"""
_LINE = re.compile(r"^\s*([\d.]+)s (setup|teardown)\s+\S+::test_empty\[(\d+)\]")


def _measure(tree: Path, folder: Path) -> tuple[float, float]:
    from harness.toxiproxy.binary import find_toxiproxy

    env = dict(
        os.environ,
        PYTHONPATH=str(tree),
        DOMINO_HOME=str(folder / "home"),
        DOMINO_TOXIPROXY_BIN=str(find_toxiproxy()),
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--durations=0",
            "--durations-min=0",
            str(folder / "test_empty.py"),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    setups, teardowns = [], []
    for line in out.stdout.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        seconds, phase, index = float(match[1]), match[2], int(match[3])
        if phase == "setup" and index > 0:
            setups.append(seconds)
        elif phase == "teardown":
            teardowns.append(seconds)
    if not setups or not teardowns:
        raise RuntimeError(f"no durations in pytest's output:\n{out.stdout}\n{out.stderr}")
    return statistics.median(setups) * 1000, statistics.median(teardowns) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = worktree(args.baseline)
    folder = Path(tempfile.mkdtemp(prefix="domino-bench-plugin-"))
    (folder / "test_empty.py").write_text(_TESTS)
    runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "now": []}
    for _ in range(args.rounds):
        for name, tree in (("baseline", base), ("now", ROOT)):
            runs[name].append(_measure(tree, folder))
    print(f"{'per test':<12} {'baseline ' + args.baseline:>18} {'now':>10} {'ratio':>7}")
    for i, label in ((0, "setup ms"), (1, "teardown ms")):
        old = statistics.median(r[i] for r in runs["baseline"])
        new = statistics.median(r[i] for r in runs["now"])
        print(f"{label:<12} {old:>18.1f} {new:>10.1f} {new / old:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
