"""How many cases each property test of Domino's readers draws.

CI runs a bounded sample: the count written at each test. A long fuzz run
multiplies every count by ``DOMINO_FUZZ_SCALE`` (``bench/soak_fuzz.py`` runs
all of them that way and docs/reliability.md has its figures).
"""

from __future__ import annotations

import os

__all__ = ["SCALE", "examples"]


def _scale() -> float:
    raw = os.environ.get("DOMINO_FUZZ_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"DOMINO_FUZZ_SCALE={raw!r}: give a positive number, e.g. 10")
    return value


SCALE = _scale()


def examples(count: int) -> int:
    """``count`` cases in CI, ``count`` x ``DOMINO_FUZZ_SCALE`` in a long run."""
    return max(1, round(count * SCALE))
