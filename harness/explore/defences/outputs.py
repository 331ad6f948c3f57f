"""The files ``domino defences --report DIR`` writes: ``defences.json``, ``defences.html``
and ``junit.xml``, into a folder the run takes as its own (:data:`DEFENCES_REPORTS` with
:class:`~harness.report.folder.ReportFolder`: the previous run's reports removed, these
marked incomplete until written, each written whole or not at all).

``defences.json`` is one map's :meth:`~.model.DefenceMap.as_dict` with ``kind`` and
``complete``; with two profiles it holds ``compare`` (the two profiles, in order),
``maps`` (each profile's map) and ``changes`` (:meth:`~.compare.DefencesChange.as_dict`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.explore.defences.compare import DefencesChange
from harness.explore.defences.html import render_defences_html, render_defences_junit
from harness.explore.defences.model import DefenceMap
from harness.report.folder import ReportNames, write_file

__all__ = ["DEFENCES_REPORTS", "defences_data", "write_defences_reports"]

#: What ``domino defences`` writes into its report folder.
DEFENCES_REPORTS = ReportNames("defences", "defences.json", "junit.xml", "defences.html")


def defences_data(maps: Sequence[DefenceMap], change: DefencesChange | None) -> dict[str, Any]:
    """``defences.json``'s content: one map, or two profiles' maps and what changed."""
    head = {"format": 1, "kind": "domino-defences", "complete": True}
    if len(maps) == 1:
        return {**head, **maps[0].as_dict()}
    return {
        **head,
        "topology": maps[0].topology,
        "compare": [m.profile for m in maps],
        "maps": {m.profile: m.as_dict() for m in maps},
        "changes": None if change is None else change.as_dict(),
    }


def write_defences_reports(
    maps: Sequence[DefenceMap], change: DefencesChange | None, folder: Path
) -> dict[str, Path]:
    """Write the three reports into ``folder`` (made if missing); return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / DEFENCES_REPORTS.json,
        "html": folder / DEFENCES_REPORTS.html,
        "junit": folder / DEFENCES_REPORTS.junit,
    }
    write_file(paths["json"], json.dumps(defences_data(maps, change), indent=1) + "\n")
    write_file(paths["html"], render_defences_html(maps, change))
    write_file(paths["junit"], render_defences_junit(maps))
    return paths
