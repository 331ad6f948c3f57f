"""Callers' defences measured from outside: deadlines, retries and fallbacks per edge,
and the mistakes they add up to (``domino defences``).

:mod:`.model` holds the values, :mod:`.measure` measures them on a running
stack, :mod:`.checks` finds the mistakes over the map, :mod:`.report` writes
the table; :mod:`.declared` compares domino.yaml's declarations with the
measurement, :mod:`.compare` two profiles' maps; :mod:`.html` and
:mod:`.outputs` write the report folder (``defences.json``, ``defences.html``,
``junit.xml``).
"""

from harness.explore.defences.checks import check_defences
from harness.explore.defences.compare import (
    DefencesChange,
    EdgeChange,
    compare_maps,
    render_comparison,
)
from harness.explore.defences.declared import compare_declared
from harness.explore.defences.html import render_defences_html, render_defences_junit
from harness.explore.defences.measure import measure_defences
from harness.explore.defences.model import (
    CHECKS,
    Deadline,
    DeadlineProbe,
    DeclaredCheck,
    DefenceMap,
    EdgeDefences,
    FailureProbe,
    Finding,
    Mismatch,
)
from harness.explore.defences.outputs import (
    DEFENCES_REPORTS,
    defences_data,
    write_defences_reports,
)
from harness.explore.defences.report import render_defences

__all__ = [
    "CHECKS",
    "DEFENCES_REPORTS",
    "Deadline",
    "DeadlineProbe",
    "DeclaredCheck",
    "DefenceMap",
    "DefencesChange",
    "EdgeChange",
    "EdgeDefences",
    "FailureProbe",
    "Finding",
    "Mismatch",
    "check_defences",
    "compare_declared",
    "compare_maps",
    "defences_data",
    "measure_defences",
    "render_comparison",
    "render_defences",
    "render_defences_html",
    "render_defences_junit",
    "write_defences_reports",
]
