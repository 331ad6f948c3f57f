"""Corpora of broken files: each opens with ``# expect: TEXT``, text its one-line error holds."""

from __future__ import annotations

from pathlib import Path

__all__ = ["expected_error"]


def expected_error(path: Path) -> str:
    """The text the error for ``path`` must contain, from its first line."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: ...'"
    return first.removeprefix("# expect: ")
