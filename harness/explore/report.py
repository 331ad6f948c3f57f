"""Matrix reports: a heatmap in the terminal and in HTML, JSON of every cell, JUnit, shard merging,
and the exit code — all read from one table, so no cell passes in one and not in another.

The heatmap has one row per journey and one column per faulted place (edge);
each mark is the worst of that place's cells for the journey:

    .  healthy        d  degraded (honest)     F  failed fast on a hard dependency (expected)
    S  failed slow on a hard dependency (a finding: --strict fails on it)
    s  failed slow on the client edge (only the user's own timeout ends that wait)
    X  cascade violation    ?  inconclusive    -  pruned (implied)   (blank) not run

Pair cells (two faults at once, :mod:`.pairs`) are a table of their own after the
heatmap, with the rule, the pairs explored of those possible, and the single cells left
inconclusive that a pair cell judged; they are test cases and count in the exit code
like any cell.

Each cell outcome is, in every output (:data:`CELL_STATES`):

    outcome       JUnit                         exit code
    contained     passed                        0
    failed-slow   failure (strict) / passed     1 (strict) / 0
    violation     failure                       1
    inconclusive  error                         3
    pruned        skipped                       0

A run exits with 1 when any cell asks for 1 (or, ``strict``, when declared and
observed dependencies differ), else 3 when any asks for 3, else 0.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree as ET

from harness.errors import UsageError
from harness.explore.matrix import (
    CELL_OUTCOMES,
    PRUNING_ASSUMPTION,
    CellOutcome,
    CellResult,
    JourneyCell,
    MatrixResult,
)

__all__ = [
    "CELL_STATES",
    "CellState",
    "cell_state",
    "exit_code",
    "load_matrix",
    "merge_matrices",
    "render_heatmap",
    "render_junit",
    "write_matrix_reports",
]

EXIT_OK, EXIT_FAILED, EXIT_UNJUDGED = 0, 1, 3

JunitStatus = Literal["passed", "failure", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class CellState:
    """What one cell outcome is in JUnit and the exit code."""

    junit: JunitStatus
    exit_code: int


_PASSED, _FAILED = CellState("passed", EXIT_OK), CellState("failure", EXIT_FAILED)
#: Each cell outcome's state (not strict, strict); every renderer and the exit code read it.
CELL_STATES: dict[CellOutcome, tuple[CellState, CellState]] = {
    "contained": (_PASSED, _PASSED),
    "failed-slow": (_PASSED, _FAILED),
    "violation": (_FAILED, _FAILED),
    "inconclusive": (CellState("error", EXIT_UNJUDGED),) * 2,
    "pruned": (CellState("skipped", EXIT_OK),) * 2,
}
assert set(CELL_STATES) == set(CELL_OUTCOMES)


def cell_state(cell: CellResult, strict: bool) -> CellState:
    """How ``cell`` shows in JUnit and what exit code it asks for."""
    return CELL_STATES[cell.outcome][strict]


def exit_code(result: MatrixResult) -> int:
    """The run's exit code: 1 a violation (or, strict, a failed-slow finding or declared !=
    observed dependencies), else 3 a cell that could not be judged, else 0."""
    codes = {cell_state(c, result.strict).exit_code for c in result.cells}
    if result.strict and not result.extra.get("observed_agrees", True):
        codes.add(EXIT_FAILED)
    for code in (EXIT_FAILED, EXIT_UNJUDGED):
        if code in codes:
            return code
    return EXIT_OK


_RANK = {"": 0, ".": 1, "-": 2, "d": 3, "F": 4, "s": 5, "S": 6, "?": 7, "X": 8}
_LEGEND = (
    ". healthy  d degraded  F failed fast on a hard dependency  "
    "S failed slow on a hard dependency (finding)  s failed slow on the client edge  "
    "X cascade violation  ? inconclusive  - pruned"
)


def _journey_mark(j: JourneyCell) -> str:
    if j.violation:
        return "X"
    if j.finding:
        return "S"
    if j.verdict == "failed":
        return "s" if j.failure == "slow" else "F"
    return {"healthy": ".", "degraded": "d"}.get(j.verdict, "?")


def _mark(cell: CellResult, journey: str) -> str:
    if cell.outcome == "pruned":
        return "-"
    if cell.outcome == "inconclusive":
        return "?"
    for j in cell.journeys:
        if j.journey == journey:
            return _journey_mark(j)
    return ""


def _slo_phrase(j: JourneyCell) -> str:
    return f"{j.describe()}: {j.reason}"


def _bounds_lines(result: MatrixResult) -> list[str]:
    """Which latencies the latency kinds added, per edge, and why (one line per reason)."""
    by_why: dict[str, list[str]] = {}
    for b in result.extra.get("latency_bounds", []):
        by_why.setdefault(f"{b['below_ms']} / {b['above_ms']} ms: {b['why']}", []).append(
            str(b["edge"])
        )
    return [f"{', '.join(edges)}: {why}" for why, edges in by_why.items()]


def _places(result: MatrixResult) -> list[str]:
    return list(dict.fromkeys(c.edge for c in result.singles))


def heatmap(result: MatrixResult) -> dict[str, dict[str, str]]:
    """Mark per journey per place (the worst of that place's single cells; pair cells are
    their own table, :func:`pairs_lines`)."""
    grid: dict[str, dict[str, str]] = {}
    singles = result.singles
    for journey in result.journeys:
        row = {}
        for place in _places(result):
            marks = [_mark(c, journey) for c in singles if c.edge == place]
            row[place] = max(marks, key=lambda m: _RANK[m], default="")
        grid[journey] = row
    return grid


def judged_fallbacks(result: MatrixResult) -> list[tuple[CellResult, CellResult]]:
    """(single, pair): a single cell left inconclusive whose fault a pair cell judged, held
    with its primary down (the single cell stays inconclusive; the pair gives the verdict)."""
    alone = {c.id: c for c in result.singles}
    found = []
    for pair in result.pairs:
        single = alone.get(f"{pair.edge}|{pair.kind}")
        if (
            single is not None
            and single.outcome == "inconclusive"
            and pair.outcome not in ("inconclusive", "pruned")
        ):
            found.append((single, pair))
    return found


def _counts_phrase(counts: Mapping[str, int]) -> str:
    return (
        f"{counts['contained']} contained, {counts['violation']} violations, "
        f"{counts['failed-slow']} failed slow, "
        f"{counts['inconclusive']} inconclusive, {counts['pruned']} pruned"
    )


def pairs_headline(result: MatrixResult) -> str:
    """``pairs explored: N of M possible: only {A, fallback-of-A}``, or why none were."""
    pairs = result.extra.get("pairs")
    if not pairs:
        return "pairs: not explored (this report has none)"
    if not pairs.get("enabled", True):
        return "pairs: not explored (--no-pairs)"
    return (
        f"pairs explored: {pairs.get('explored', 0)} of {pairs.get('possible', 0)} possible: "
        f"{pairs.get('rule', '')}" + (f" ({pairs['note']})" if pairs.get("note") else "")
    )


def pairs_lines(result: MatrixResult) -> list[str]:
    """The pairs for the terminal: the rule and counts, each pair with why, a table of the
    pair cells (journeys' marks), and the fallbacks judged only in pairs."""
    out = [pairs_headline(result)]
    pairs = result.extra.get("pairs") or {}
    out += [
        f"  {p['primary']} down + {p['fallback']}: {p['why']} ({len(p['cells'])} cells)"
        for p in pairs.get("pairs", [])
    ]
    cells = result.pairs
    if cells:
        out.append(f"{len(cells)} pair cells: {_counts_phrase(result.counts(cells))}")
        width = max(len(c.id) for c in cells)
        out.append(f"  {'':<{width}}  " + "  ".join(result.journeys))
        for cell in cells:
            marks = "  ".join(f"{_mark(cell, j) or ' ':^{len(j)}}" for j in result.journeys)
            out.append(f"  {cell.id:<{width}}  {marks}")
    judged = judged_fallbacks(result)
    if judged:
        out.append(
            "fallbacks judged in pairs (the single cell stays inconclusive, the pair cell "
            "gives the verdict):"
        )
        out += [f"  {single.id}: {pair.outcome} in {pair.id}" for single, pair in judged]
    return out


def render_heatmap(result: MatrixResult) -> str:
    """The terminal summary: counts, the heatmap, the pairs, then every violation with its
    attribution, every failed-slow finding and every inconclusive cell, and the run's exit
    code."""
    counts = result.counts(result.singles)
    out = [
        "",
        f"  domino matrix: {result.topology} [{result.profile}] on {result.backend}: "
        f"{result.outcome.upper()}" + ("  (strict)" if result.strict else ""),
        f"  {len(result.singles)} of {result.planned} cells"
        + (f" (shard {result.shard[0]}/{result.shard[1]})" if result.shard else "")
        + f": {_counts_phrase(counts)}; "
        f"{result.duration_s:.0f} s wall, floor {result.floor_s:.0f} s, {result.workers} worker(s)",
    ]
    source = result.extra.get("observed_source")
    if source:
        out.append(f"  dependencies {source.get('description', source.get('source', '?'))}")
    out.append("")
    places = _places(result)
    grid = heatmap(result)
    width = max([len(j) for j in result.journeys] + [7])
    out.append("  " + " " * width + "  " + "  ".join(f"{i + 1:>2}" for i in range(len(places))))
    for journey in result.journeys:
        marks = "  ".join(f"{grid[journey][p] or ' ':>2}" for p in places)
        out.append(f"  {journey:<{width}}  {marks}")
    out.append("")
    out += [f"  {i + 1:>2} {place}" for i, place in enumerate(places)]
    out.append(f"     {_LEGEND}")
    out += ["", *(f"  {line}" for line in pairs_lines(result))]
    violations = [(c, a) for c in result.cells for a in c.attributions]
    if violations:
        out += ["", "  cascade violations"]
        for cell, attribution in violations:
            verdict = next(j for j in cell.journeys if j.journey == attribution.journey)
            held = f" with {cell.primary} down" if cell.primary else ""
            out.append(f"    X {cell.kind} on {cell.edge}{held} broke {_slo_phrase(verdict)}")
            out.append(f"        path {' -> '.join(attribution.path)} ({attribution.basis})")
            out.append(
                f"        should have been contained by {attribution.container}: "
                f"{attribution.detail}"
            )
    slow = [
        (c, j) for c in result.cells if c.outcome != "violation" for j in c.journeys if j.finding
    ]
    if slow:
        fails = "fail the run" if result.strict else "fail the run with --strict"
        out += ["", f"  failed slow on a hard dependency (findings: they {fails})"]
        out += [f"    S {c.id}: {_slo_phrase(j)}" for c, j in slow]
    inconclusive = [c for c in result.cells if c.outcome == "inconclusive"]
    if inconclusive:
        out += ["", "  inconclusive cells (never a pass)"]
        judged = {single.id: pair for single, pair in judged_fallbacks(result)}
        out += [
            f"    ? {c.id}: {'; '.join(c.reasons)}"
            + (
                f" (judged in a pair: {judged[c.id].outcome} in {judged[c.id].id})"
                if c.id in judged
                else ""
            )
            for c in inconclusive
        ]
    bounds = _bounds_lines(result)
    if bounds:
        out += ["", "  latency kinds added (below / above)"]
        out += [f"    {line}" for line in bounds]
    if result.pruning:
        out += ["", f"  pruning assumes: {PRUNING_ASSUMPTION}"]
    out += ["", f"  overall: {result.outcome.upper()} (exit {exit_code(result)})"]
    return "\n".join(out)


def _journeys_text(cell: CellResult) -> str:
    """Every journey's verdict in ``cell``, with a failure's time: the cell's evidence."""
    return "\n".join(
        f"{j.describe()}{' on a hard dependency' if j.hard else ''}: {j.reason}"
        for j in cell.journeys
    )


def render_junit(result: MatrixResult) -> str:
    """One test case per cell, as :data:`CELL_STATES` says: a violation (and, strict, a
    failed-slow finding) fails with each journey's time, an inconclusive cell errors, a
    pruned one is skipped; every judged case carries its journeys' verdicts and times."""
    name = f"domino.matrix.{result.topology}[{result.profile}]"
    suite = ET.Element("testsuite", name=name, time=f"{result.duration_s:.3f}")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="strict", value=str(result.strict).lower())
    for line in _bounds_lines(result):
        ET.SubElement(properties, "property", name="latency_bounds", value=line)
    tally = dict.fromkeys(("failure", "error", "skipped"), 0)
    cases = 0
    for cell in result.cells:
        cases += 1
        case = ET.SubElement(
            suite, "testcase", classname=name, name=cell.id, time=f"{cell.duration_s:.3f}"
        )
        status = cell_state(cell, result.strict).junit
        if status == "failure":
            failure = ET.SubElement(case, "failure", message=_failure_message(cell))
            failure.text = "\n".join(
                [a.describe() for a in cell.attributions] + [_journeys_text(cell)]
            )
        elif status == "error":
            ET.SubElement(case, "error", message="inconclusive: " + "; ".join(cell.reasons))
        elif status == "skipped":
            ET.SubElement(case, "skipped", message="; ".join(cell.reasons))
        if status != "passed":
            tally[status] += 1
        if cell.journeys:
            out = ET.SubElement(case, "system-out")
            note = (
                "finding (fails only with --strict): "
                + ", ".join(j.describe() for j in cell.journeys if j.finding)
                + "\n"
                if status == "passed" and cell.outcome == "failed-slow"
                else ""
            )
            out.text = note + f"evidence: {cell.evidence}\n" + _journeys_text(cell)
    observed = result.extra.get("observed")
    if observed is not None:
        cases += 1
        case = ET.SubElement(
            suite, "testcase", classname=name, name="declared dependencies match observed"
        )
        agrees = bool(result.extra.get("observed_agrees", True))
        mismatches = "\n".join(str(m) for m in observed.get("mismatches", []))
        if result.strict and not agrees:
            tally["failure"] += 1
            failure = ET.SubElement(case, "failure", message="declared != observed (--strict)")
            failure.text = mismatches
        elif not agrees:
            ET.SubElement(case, "system-out").text = (
                "declared != observed (fails only with --strict):\n" + mismatches
            )
    suite.set("tests", str(cases))
    suite.set("failures", str(tally["failure"]))
    suite.set("errors", str(tally["error"]))
    suite.set("skipped", str(tally["skipped"]))
    suites = ET.Element("testsuites", name="domino-matrix")
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _failure_message(cell: CellResult) -> str:
    if cell.outcome == "violation":
        broken = [j.describe() for j in cell.journeys if j.violation]
        return "cascade violation: " + ", ".join(broken)
    slow = [j.describe() for j in cell.journeys if j.finding]
    return "failed slow on a hard dependency: " + ", ".join(slow)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table.legend td{text-align:left}table.legend td.mk{text-align:center;width:1.6em}
.ob-ok{background:#cfe8cf}.ob-undeclared{background:#d9534f;color:#fff}.ob-unused{background:#fbe7b0}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:center}
th.j{text-align:left}.m-X{background:#d9534f;color:#fff;font-weight:bold}.m-F{background:#f3c4c4}
.m-S{background:#e07b39;color:#fff;font-weight:bold}.m-s-lower{background:#f5d5bd}
.m-d{background:#fbe7b0}.m-dot{background:#cfe8cf}.m-q{background:#999;color:#fff}.m-dash{background:#eee}
code{background:#f4f4f4;padding:0 .2em}li{margin:.3em 0}
"""


#: CSS class per mark (marks "." "?" "-" are no class names; "s" and "S" differ only in case).
_MARK_CLASS = {
    "X": "X",
    "F": "F",
    "S": "S",
    "s": "s-lower",
    "d": "d",
    ".": "dot",
    "?": "q",
    "-": "dash",
}


#: Every heatmap mark and what it means, in the legend's order.
_MARK_MEANINGS = (
    (".", "healthy"),
    ("d", "degraded: an honest, fast degradation (contained)"),
    ("F", "failed fast on a hard dependency (no violation: the fault is on its path)"),
    ("S", "failed slow on a hard dependency: users waited past the SLO (a finding)"),
    ("s", "failed slow on the client edge (only the user's own timeout could end it)"),
    ("X", "cascade violation: failed because of a fault outside its hard dependencies"),
    (
        "?",
        "inconclusive: steady state not healthy, the fault met no traffic, "
        "or no call was in flight while it was held",
    ),
    ("-", "pruned: skipped, as every fault on its only parent edge was contained"),
)


def _legend_html() -> str:
    e = html.escape
    rows = "".join(
        f'<tr><td class="mk m-{_MARK_CLASS[mark]}">{e(mark)}</td><td>{e(meaning)}</td></tr>'
        for mark, meaning in _MARK_MEANINGS
    )
    head = "<thead><tr><th>mark</th><th>meaning</th></tr></thead>"
    return f"<table class=legend>{head}{rows}</table>"


def _observed_html(observed: Mapping[str, Any], source: Mapping[str, Any] | None) -> str:
    """Observed dependencies as a table: journeys by edges, each cell what was seen there."""
    e = html.escape
    edges = [str(edge) for edge in observed.get("edges", [])]
    rows = []
    for journey in observed.get("journeys", []):
        crossed = dict(journey.get("crossed", {}))
        undeclared, unused = set(journey.get("undeclared", [])), set(journey.get("unused", []))
        cells = []
        for edge in edges:
            if edge in undeclared:
                cls, text = "ob-undeclared", f"crossed, undeclared ({crossed.get(edge, 0):,} B)"
            elif edge in unused:
                cls, text = "ob-unused", "declared, not crossed"
            elif edge in crossed:
                cls, text = "ob-ok", f"crossed ({crossed[edge]:,} B)"
            else:
                cls, text = "ob-none", ""
            cells.append(f'<td class="{cls}">{e(text)}</td>')
        calls = f"{journey.get('ok_calls', 0)}/{journey.get('calls', 0)} ok"
        rows.append(
            f"<tr><th class=j>{e(str(journey.get('journey', '?')))}</th>"
            f"<td>{e(calls)}</td>{''.join(cells)}</tr>"
        )
    head = "".join(f"<th>{e(edge)}</th>" for edge in edges)
    rates = (observed.get("background") or {}).get("rate_bytes_per_s") or {}
    noisy = ", ".join(f"{k} {float(v):,.0f} B/s" for k, v in sorted(rates.items()) if v)
    mismatches = [str(m) for m in observed.get("mismatches", [])]
    said = (
        "<ul>" + "".join(f"<li>{e(m)}</li>" for m in mismatches) + "</ul>"
        if mismatches
        else "<p>Every journey crosses exactly the edges it declares.</p>"
    )
    return (
        "<h2>Observed dependencies</h2>"
        f"<p>Each journey driven alone, {e(str(observed.get('calls_per_journey', '?')))} calls; "
        "bytes each edge's proxy carried beyond its background"
        + (f" (background: {e(noisy)})" if noisy else "")
        + "."
        + (f" Dependencies {e(str(source.get('description', '')))}." if source else "")
        + "</p>"
        f"<table class=observed><thead><tr><th>journey</th><th>calls</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{said}"
    )


def _pairs_html(result: MatrixResult) -> str:
    """The pairs: the rule and counts, each pair and why, the pair cells as a table of
    journeys' marks, and the fallbacks judged only in pairs."""
    e = html.escape
    pairs = result.extra.get("pairs") or {}
    explored = "".join(
        f"<li><code>{e(p['primary'])}</code> down + <code>{e(p['fallback'])}</code>: "
        f"{e(p['why'])} ({len(p['cells'])} cells)</li>"
        for p in pairs.get("pairs", [])
    )
    cells = result.pairs
    table = ""
    if cells:
        head = "".join(f"<th>{e(j)}</th>" for j in result.journeys)
        rows = "".join(
            f"<tr><th class=j>{e(c.id)}</th><td>{e(c.outcome)}</td>"
            + "".join(
                f'<td class="m-{_MARK_CLASS.get(_mark(c, j), "none")}">{e(_mark(c, j))}</td>'
                for j in result.journeys
            )
            + "</tr>"
            for c in cells
        )
        table = (
            f"<p>{len(cells)} pair cells: {e(_counts_phrase(result.counts(cells)))}.</p>"
            f"<table class=pairs><thead><tr><th>pair cell (both faults held at once)</th>"
            f"<th>outcome</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )
    judged = "".join(
        f"<li><code>{e(single.id)}</code> alone: inconclusive ({e('; '.join(single.reasons))})"
        f"; judged <b>{e(pair.outcome)}</b> in <code>{e(pair.id)}</code></li>"
        for single, pair in judged_fallbacks(result)
    )
    return (
        "<h2>Two faults deep: pairs</h2>"
        f"<p class=pairs-rule>{e(pairs_headline(result))}</p>"
        + (f"<ul>{explored}</ul>" if explored else "")
        + table
        + (
            "<h3>Fallbacks judged in pairs</h3><p>The single cell stays inconclusive; the "
            f"pair cell gives the verdict.</p><ul>{judged}</ul>"
            if judged
            else ""
        )
    )


def render_html(result: MatrixResult) -> str:
    """A self-contained page: the heatmap, the violations with their paths, the failed-slow
    findings, every cell with each journey's verdict and time, and the latency bounds."""
    e = html.escape
    places = _places(result)
    grid = heatmap(result)
    head = "".join(f"<th>{e(p)}</th>" for p in places)
    rows = "".join(
        f"<tr><th class=j>{e(j)}</th>"
        + "".join(
            f'<td class="m-{_MARK_CLASS.get(grid[j][p], "none")}">{e(grid[j][p])}</td>'
            for p in places
        )
        + "</tr>"
        for j in result.journeys
    )
    violations = (
        "".join(
            f"<li><b>{e(a.journey)}</b> broken by <code>{e(c.kind)}</code> "
            f"on <code>{e(c.edge)}</code>"
            + (f" with <code>{e(c.primary)}</code> down" if c.primary else "")
            + ": "
            f"path <code>{e(' -> '.join(a.path))}</code> ({e(a.basis)}); first container "
            f"<b>{e(a.container)}</b> — {e(a.detail)}</li>"
            for c in result.cells
            for a in c.attributions
        )
        or "<li>none</li>"
    )
    slow = (
        "".join(
            f"<li><code>{e(c.id)}</code>: <b>{e(j.describe())}</b> — {e(j.reason)}</li>"
            for c in result.cells
            if c.outcome != "violation"
            for j in c.journeys
            if j.finding
        )
        or "<li>none</li>"
    )
    cells = "".join(
        f"<tr><td>{e(c.id)}</td><td>{e(c.outcome)}</td>"
        f"<td>{e(cell_state(c, result.strict).junit)}</td>"
        f"<td>{e(', '.join(c.violations))}</td>"
        f"<td>{'<br>'.join(e(j.describe()) for j in c.journeys)}</td>"
        f"<td>{e(c.evidence or '; '.join(c.reasons))}</td></tr>"
        for c in result.cells
    )
    extra = ""
    bounds = _bounds_lines(result)
    if bounds:
        extra += (
            "<h2>Latency kinds added (below / above)</h2><ul>"
            + "".join(f"<li>{e(line)}</li>" for line in bounds)
            + "</ul>"
        )
    observed = result.extra.get("observed")
    if observed:
        extra += _observed_html(observed, result.extra.get("observed_source"))
    cliffs = result.extra.get("cliffs")
    if cliffs:
        extra += f"<h2>Latency cliffs</h2><pre>{e(json.dumps(cliffs, indent=1))}</pre>"
    counts = result.counts(result.singles)
    strict = " (strict)" if result.strict else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>domino matrix {e(result.topology)} [{e(result.profile)}]</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Blast radius: {e(result.topology)} [{e(result.profile)}] — "
        f"{e(result.outcome)}{strict}, exit {exit_code(result)}</h1>"
        f"<p>{len(result.singles)} of {result.planned} cells: {counts['contained']} contained, "
        f"{counts['violation']} violations, {counts['failed-slow']} failed slow, "
        f"{counts['inconclusive']} inconclusive, "
        f"{counts['pruned']} pruned. Rows are journeys, columns faulted places; X marks a "
        "journey that failed because of a fault outside its hard dependencies, S one that "
        "failed slowly on a hard dependency.</p>"
        f"<table class=heatmap><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        f"{_legend_html()}{_pairs_html(result)}"
        f"<h2>Cascade violations</h2><ul>{violations}</ul>"
        f"<h2>Failed slow on a hard dependency</h2><ul>{slow}</ul>"
        f"<h2>Cells</h2><table><thead><tr><th>cell</th><th>outcome</th><th>JUnit</th>"
        f"<th>violations</th><th>journeys</th>"
        f"<th>evidence</th></tr></thead><tbody>{cells}</tbody></table>{extra}"
        f"<p><small>Pruning assumes: {e(PRUNING_ASSUMPTION)}</small></p></body></html>\n"
    )


def write_matrix_reports(result: MatrixResult, folder: Path) -> dict[str, Path]:
    """``matrix.json`` (``complete``: true), ``junit.xml`` and ``matrix.html`` in ``folder``,
    each whole or not at all (:func:`harness.report.folder.write_file`)."""
    from harness.report.folder import write_file

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "matrix.json",
        "junit": folder / "junit.xml",
        "html": folder / "matrix.html",
    }
    data = {**result.as_dict(), "complete": True}
    write_file(paths["json"], json.dumps(data, indent=1) + "\n")
    write_file(paths["junit"], render_junit(result))
    write_file(paths["html"], render_html(result))
    return paths


def load_matrix(folder: Path) -> MatrixResult:
    """A matrix report written by :func:`write_matrix_reports`; UsageError if it is not one."""
    path = folder / "matrix.json" if folder.is_dir() else folder
    from harness.report.folder import read_report

    raw = read_report(path, "domino-matrix", "matrix report")
    if raw.get("complete") is False:
        raise UsageError(f"{path}: the matrix did not finish ({raw.get('reason', 'no reason')})")
    known = {
        "kind",
        "format",
        "topology",
        "profile",
        "backend",
        "journeys",
        "outcome",
        "counts",
        "planned",
        "shard",
        "pruning",
        "pruning_assumption",
        "started_at",
        "duration_s",
        "floor_s",
        "workers",
        "strict",
        "cells",
        "complete",
    }
    return MatrixResult(
        topology=raw["topology"],
        profile=raw["profile"],
        backend=raw["backend"],
        journeys=list(raw["journeys"]),
        cells=[CellResult.from_dict(c) for c in raw["cells"]],
        planned=int(raw["planned"]),
        shard=(int(raw["shard"][0]), int(raw["shard"][1])) if raw.get("shard") else None,
        pruning=bool(raw.get("pruning")),
        started_at=str(raw.get("started_at", "")),
        duration_s=float(raw.get("duration_s", 0)),
        floor_s=float(raw.get("floor_s", 0)),
        workers=int(raw.get("workers", 1)),
        strict=bool(raw.get("strict")),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def merge_matrices(parts: Sequence[MatrixResult]) -> MatrixResult:
    """Shard reports joined into one; UsageError if they are of different runs or overlap."""
    if not parts:
        raise UsageError("give at least one matrix report folder to merge")
    first = parts[0]
    for part in parts[1:]:
        if (part.topology, part.profile, part.planned) != (
            first.topology,
            first.profile,
            first.planned,
        ):
            raise UsageError(
                f"cannot merge {part.topology} [{part.profile}] ({part.planned} cells) with "
                f"{first.topology} [{first.profile}] ({first.planned} cells): "
                "not shards of one matrix"
            )
    seen: dict[str, CellResult] = {}
    for part in parts:
        for cell in part.cells:
            if cell.id in seen:
                raise UsageError(f"cell {cell.id} is in more than one report: shards overlap")
            seen[cell.id] = cell
    order = [c.id for p in parts for c in p.cells]
    bounds: dict[str, Any] = {}
    for part in parts:
        for b in part.extra.get("latency_bounds", []):
            bounds.setdefault(str(b["edge"]), b)
    extra: dict[str, Any] = {"latency_bounds": list(bounds.values())} if bounds else {}
    pairs = _merged_pairs(parts)
    if pairs is not None:
        extra["pairs"] = pairs
    extra.update(_merged_observation(parts))
    return MatrixResult(
        topology=first.topology,
        profile=first.profile,
        backend=first.backend,
        journeys=first.journeys,
        cells=sorted(
            (seen[i] for i in order), key=lambda c: (c.primary is not None, c.edge, c.kind)
        ),
        planned=first.planned,
        shard=None,
        pruning=False,
        started_at=min(p.started_at for p in parts),
        duration_s=max(p.duration_s for p in parts),
        floor_s=sum(p.floor_s for p in parts),
        workers=sum(p.workers for p in parts),
        strict=any(p.strict for p in parts),
        extra=extra,
    )


def _merged_observation(parts: Sequence[MatrixResult]) -> dict[str, Any]:
    """The shards' observed dependencies as one report's.

    Each shard observed the whole system (or read the kept graph), so one graph
    stands for all; declared and observed dependencies agree only when they
    agreed in every shard (a strict merged report fails as the shard did), and
    the graph shown is the first that disagrees, else the first. The source
    says how many shards' graphs it was merged from and whether they differ.
    """
    observed = [p for p in parts if p.extra.get("observed") is not None]
    if not observed:
        return {}
    agrees = all(bool(p.extra.get("observed_agrees", True)) for p in observed)
    shown = next((p for p in observed if not p.extra.get("observed_agrees", True)), observed[0])
    differ = any(p.extra["observed"] != observed[0].extra["observed"] for p in observed)
    description = f"merged from {len(observed)} shard(s)' graphs" + (
        ", which differ: the one shown is the first that disagrees with the declared "
        "dependencies, else the first shard's"
        if differ
        else ", all the same"
    )
    sources = [p.extra["observed_source"] for p in observed if p.extra.get("observed_source")]
    return {
        "observed": shown.extra["observed"],
        "observed_agrees": agrees,
        "observed_source": {
            "source": "merged",
            "description": description,
            "shards": sources,
        },
    }


def _merged_pairs(parts: Sequence[MatrixResult]) -> dict[str, Any] | None:
    """The shards' pairs as one: each pair is explored in the shard of its primary's down
    cell, so the shards' pairs are disjoint and add up."""
    found = [p.extra["pairs"] for p in parts if p.extra.get("pairs")]
    if not found:
        return None
    pairs = [pair for part in found for pair in part.get("pairs", [])]
    return {
        **found[0],
        "enabled": any(part.get("enabled", True) for part in found),
        "explored": len(
            {frozenset((p["primary"], p["fallback"])) for p in pairs if p.get("cells")}
        ),
        "pairs": pairs,
    }
