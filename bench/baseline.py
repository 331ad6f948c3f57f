"""A baseline revision of Domino in a git worktree, for benchmarks that compare side by side."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

__all__ = ["ROOT", "worktree"]

ROOT = Path(__file__).resolve().parents[1]


def worktree(rev: str) -> Path:
    """A checkout of ``rev`` beside this one (made once, then reused)."""
    tree = Path(tempfile.gettempdir()) / f"domino-baseline-{rev}"
    if not tree.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
            check=True,
            capture_output=True,
        )
    return tree
