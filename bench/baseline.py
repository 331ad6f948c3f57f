"""A baseline revision of Domino in a folder of its own, to compare against side by side."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

__all__ = ["ROOT", "worktree"]

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
    return tree
