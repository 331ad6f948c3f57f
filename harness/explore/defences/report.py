"""The map of defences as a table for the terminal (the page and ``defences.json`` are
:mod:`.html` and :mod:`.outputs`, read from the same :class:`~.model.DefenceMap`).
"""

from __future__ import annotations

from harness.explore.defences.checks import stopped_first
from harness.explore.defences.model import DefenceMap, EdgeDefences

__all__ = ["deadline_text", "render_defences"]

_HEADERS = (
    "edge",
    "caller",
    "deadline",
    "whole wait (answer)",
    "attempts/request",
    "retrying",
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
        edge.retry_text(),
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
    lines += _declared_lines(defences)
    return "\n".join(lines)


def _declared_lines(defences: DefenceMap) -> list[str]:
    """The declarations compared: how many agree, each mismatch, what was not compared."""
    check = defences.declared
    if check is None:
        return []
    total = len(check.agree) + len(check.mismatches) + len(check.not_compared)
    lines = [
        "",
        f"declared in domino.yaml: {total} settings, {len(check.agree)} agree with what was "
        f"measured, {len(check.mismatches)} do not"
        + (f", {len(check.not_compared)} not compared" if check.not_compared else ""),
    ]
    lines += [f"  mismatch: {m.describe()}" for m in check.mismatches]
    lines += [f"  not compared: {e} {s}: {why}" for e, s, why in check.not_compared]
    return lines
