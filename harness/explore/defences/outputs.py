"""The files ``domino defences --report DIR`` writes: ``defences.json``, ``defences.html``
and ``junit.xml``, into a folder the run takes as its own (:data:`DEFENCES_REPORTS` with
:class:`~harness.report.folder.ReportFolder`: the previous run's reports removed, these
marked incomplete until written, each written whole or not at all).

``defences.json`` is one map's :meth:`~.model.DefenceMap.as_dict` with ``kind`` and
``complete``; with two profiles it holds ``compare`` (the two profiles, in order),
``maps`` (each profile's map) and ``changes`` (:meth:`~.compare.DefencesChange.as_dict`).
Each edge says ``stopped_first``: the edge whose caller stopped waiting before this
edge's did (its deadline then is not this caller's own), or null.

:func:`load_measured_deadlines` reads the deadlines back for ``domino cliff``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.explore.cliff import MeasuredDeadline
from harness.explore.defences.checks import stopped_first
from harness.explore.defences.compare import DefencesChange
from harness.explore.defences.html import render_defences_html, render_defences_junit
from harness.explore.defences.model import DefenceMap
from harness.report.folder import ReportNames, read_report, write_file

__all__ = [
    "DEFENCES_REPORTS",
    "defences_data",
    "load_measured_deadlines",
    "write_defences_reports",
]

#: What ``domino defences`` writes into its report folder.
DEFENCES_REPORTS = ReportNames("defences", "defences.json", "junit.xml", "defences.html")


def defences_data(maps: Sequence[DefenceMap], change: DefencesChange | None) -> dict[str, Any]:
    """``defences.json``'s content: one map, or two profiles' maps and what changed."""
    head = {"format": 1, "kind": "domino-defences", "complete": True}
    if len(maps) == 1:
        return {**head, **_map_data(maps[0])}
    return {
        **head,
        "topology": maps[0].topology,
        "compare": [m.profile for m in maps],
        "maps": {m.profile: _map_data(m) for m in maps},
        "changes": None if change is None else change.as_dict(),
    }


def _map_data(defences: DefenceMap) -> dict[str, Any]:
    data = defences.as_dict()
    for edge in data["edges"]:
        first = stopped_first(defences, str(edge["edge"]))
        edge["stopped_first"] = None if first is None else first.edge
    return data


def load_measured_deadlines(path: Path, topology: str, profile: str) -> dict[str, MeasuredDeadline]:
    """Per edge, its caller's deadline as a ``defences.json`` (or the folder holding it)
    measured it on ``topology`` under ``profile``: the edges whose deadline was found and
    is the caller's own (no caller further out stopped first). UsageError (one line) when
    it is not a defences report, or of another topology, or has no map of ``profile``."""
    file = path / DEFENCES_REPORTS.json if path.is_dir() else path
    raw = read_report(file, "domino-defences", "defences report")
    if raw.get("complete") is False:
        raise UsageError(f"{file}: the defences run did not finish")
    if raw.get("topology") != topology:
        raise UsageError(f"{file}: measured {raw.get('topology')!r}, not {topology!r}")
    maps = raw.get("maps") or {raw.get("profile"): raw}
    if profile not in maps:
        raise UsageError(
            f"{file}: measured profile(s) {', '.join(map(str, maps))}, not {profile!r}: "
            f"run domino defences --profile {profile}"
        )
    found = {}
    for edge in maps[profile].get("edges", []):
        deadline = edge.get("deadline") or {}
        span = deadline.get("range_ms")
        if deadline.get("outcome") != "found" or not span or edge.get("stopped_first"):
            continue
        waited = deadline.get("waited_ms")
        found[str(edge["edge"])] = MeasuredDeadline(
            edge=str(edge["edge"]),
            caller=str(edge["caller"]),
            low_ms=float(span[0]),
            high_ms=float(span[1]),
            waited_ms=None if waited is None else float(waited),
            source=str(file),
        )
    return found


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
