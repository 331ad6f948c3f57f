"""Systems that ship with Domino, each a folder with its ``domino.yaml``.

A shipped system is described by the same kind of topology file a user
writes; its adapter, incidents and anything else it needs live in its own
folder. Only a system's own folder may import that system's code.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SYSTEMS_DIR", "shipped_systems"]

SYSTEMS_DIR = Path(__file__).parent


def shipped_systems() -> dict[str, Path]:
    """Each shipped system's name and its topology file."""
    return {path.parent.name: path for path in sorted(SYSTEMS_DIR.glob("*/domino.yaml"))}
