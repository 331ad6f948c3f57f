"""The map of defences as outputs: a table for the terminal and ``defences.json``.

Both are read from the same :class:`~.model.DefenceMap`; JSON is made only here,
at the edge of the program (:meth:`DefenceMap.as_dict`).
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.explore.defences.checks import stopped_first
from harness.explore.defences.model import DefenceMap, EdgeDefences

__all__ = ["deadline_text", "render_defences", "write_defences"]

_HEADERS = (
    "edge",
    "caller",
    "deadline",
    "whole wait (answer)",
    "attempts/request",
    "fallbacks",
    "took",
)


def deadline_text(defences: DefenceMap, edge: EdgeDefences) -> str:
    """The caller's deadline on ``edge`` as measured, in a few words ("275-335 ms",
    ">= 397 ms (gateway stopped first)", "> 1,500 ms")."""
    found = edge.deadline
    if found is None:
        return "-"
    if found.outcome != "found":
        return (
            f"> {found.max_ms:,.0f} ms"
            if found.outcome == "waits_past_max"
            else "not judged (failing with nothing added)"
        )
    span = "-" if found.range_ms is None else "{:,.0f}-{:,.0f} ms".format(*found.range_ms)
    outer = stopped_first(defences, edge.edge)
    if outer is None or found.waited_ms is None:
        return span
    whole = f">= {found.waited_ms:,.0f} ms ({outer.caller} stopped first)"
    return f"{span} per attempt, {whole}" if found.retried_at_deadline else whole


def _row(defences: DefenceMap, edge: EdgeDefences) -> tuple[str, ...]:
    found = edge.deadline
    wait = (
        f"{found.waited_ms:,.0f} ms ({found.answer})"
        if found is not None and found.waited_ms is not None
        else "-"
    )
    tries = []
    for probe in edge.failures:
        per = probe.attempts_per_request
        if per is not None and f"{per:.1f}" not in tries:
            tries.append(f"{per:.1f}")
    return (
        edge.edge,
        edge.caller,
        deadline_text(defences, edge),
        wait,
        " / ".join(tries) or "-",
        ", ".join(edge.fallbacks) or "-",
        f"{edge.measure_s:.1f} s" if edge.measure_s else "-",
    )


def render_defences(defences: DefenceMap) -> str:
    """The map as a table (one row per edge), its notes, then the findings."""
    rows = [_HEADERS, *(_row(defences, e) for e in defences.edges)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    lines = [
        f"defences of {defences.topology} ({defences.profile}): {len(defences.edges)} edges "
        f"measured in {defences.search_s:.1f} s",
        "",
    ]
    lines += [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    notes = [f"  {e.edge}: {e.note}" for e in defences.edges if e.note]
    notes += [f"  {n}" for n in defences.notes]
    if notes:
        lines += ["", *notes]
    lines.append("")
    if defences.findings:
        lines.append(f"findings ({len(defences.findings)}):")
        lines += [f"  {f.describe()}" for f in defences.findings]
    else:
        lines.append("findings: none")
    return "\n".join(lines)


def write_defences(defences: DefenceMap, folder: Path) -> Path:
    """Write ``defences.json`` into ``folder`` (made if missing); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "defences.json"
    path.write_text(json.dumps(defences.as_dict(), indent=1) + "\n", encoding="utf-8")
    return path
