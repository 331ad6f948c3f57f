"""Callers' defences measured from outside: deadlines, retries and fallbacks per edge,
and the mistakes they add up to (``domino defences``).

:mod:`.model` holds the values, :mod:`.measure` measures them on a running
stack, :mod:`.checks` finds the mistakes over the map, :mod:`.report` writes
the table and ``defences.json``.
"""

from harness.explore.defences.checks import check_defences
from harness.explore.defences.measure import measure_defences
from harness.explore.defences.model import (
    CHECKS,
    Deadline,
    DeadlineProbe,
    DefenceMap,
    EdgeDefences,
    FailureProbe,
    Finding,
)
from harness.explore.defences.report import render_defences, write_defences

__all__ = [
    "CHECKS",
    "Deadline",
    "DeadlineProbe",
    "DefenceMap",
    "EdgeDefences",
    "FailureProbe",
    "Finding",
    "check_defences",
    "measure_defences",
    "render_defences",
    "write_defences",
]
