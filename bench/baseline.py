"""A baseline revision of Domino in a folder of its own, to compare against side by side."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["ROOT", "compile_tree", "measure_in", "worktree"]

ROOT = Path(__file__).resolve().parents[1]


def worktree(rev: str) -> Path:
    """A copy of ``rev``'s files beside this checkout (made once, then reused).

    Exported with ``git archive``: nothing is added to the repository (no git worktree).
    """
    tree = Path(tempfile.gettempdir()) / f"domino-baseline-{rev}"
    if not tree.exists():
        partial = tree.with_name(tree.name + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(partial)], input=archive, check=True)
        partial.rename(tree)
    compile_tree(tree)
    return tree


def compile_tree(tree: Path) -> None:
    """Compile ``tree``'s modules, as ``make setup`` does: where ``PYTHONDONTWRITEBYTECODE``
    is set, no run writes them, and every run would compile them from source again."""
    folders = [name for name in ("harness", "services") if (tree / name).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], cwd=tree, check=True)


def tree_env(tree: Path, home: Path) -> dict[str, str]:
    """The environment a child runs ``tree``'s Domino in, with its own ``DOMINO_HOME``
    and this checkout's Toxiproxy."""
    from harness.toxiproxy.binary import find_toxiproxy

    return dict(
        os.environ,
        PYTHONPATH=str(tree),
        DOMINO_HOME=str(home),
        DOMINO_TOXIPROXY_BIN=str(find_toxiproxy()),
    )


def measure_in(tree: Path, code: str, home: Path) -> dict[str, float]:
    """Run ``code`` (Python printing a JSON object last) with ``tree``'s Domino first on the
    path, in its own ``DOMINO_HOME``, and return that object."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env=tree_env(tree, home),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
