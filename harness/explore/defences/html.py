"""The map of defences as a self-contained HTML page (``defences.html``) and as JUnit
(``junit.xml``, one case per edge, failing with its findings and mismatches).

The page holds, per profile measured: a graph of the system (an inline SVG:
services by their distance from the client, each edge labelled with its
caller's deadline and attempts, red where a finding is, dashed where the edge
is crossed only as a fallback), the table of edges (deadline, whole wait and
answer, attempts per request, backoff and Retry-After, fallbacks), the findings with their
numbers and the declarations compared; with two profiles, what changed.
Nothing is loaded from elsewhere (no script, no style sheet, no font).
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.explore.defences.checks import stopped_first
from harness.explore.defences.compare import DefencesChange
from harness.explore.defences.model import DefenceMap, EdgeDefences, Finding, Mismatch
from harness.explore.defences.report import deadline_text

__all__ = ["render_defences_html", "render_defences_junit"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f4f4f4;text-align:left}tr.bad td{background:#fbe0e0}
code{background:#f4f4f4;padding:0 .2em;white-space:nowrap}li{margin:.3em 0}
.gone{color:#2a7a2a}.new{color:#b52a2a}
"""
_NODE_W, _NODE_H, _COL_W, _ROW_H = 110, 34, 300, 70


def _attempts(edge: EdgeDefences) -> str:
    per = edge.attempts_per_request
    return "-" if per is None else f"{per:.1f}"


def _label(defences: DefenceMap, edge: EdgeDefences) -> str:
    """An edge's deadline and attempts in a few characters ("275-335 ms x1.0")."""
    found = edge.deadline
    if found is None:
        fallback = any(edge.edge in other.fallbacks for other in defences.edges)
        return "fallback" if fallback and not edge.journeys else ""
    if found.outcome == "waits_past_max":
        wait = f"> {found.max_ms:,.0f} ms"
    elif stopped_first(defences, edge.edge) is not None and found.waited_ms is not None:
        wait = f">= {found.waited_ms:,.0f} ms"
    elif found.range_ms is not None:
        wait = "{:,.0f}-{:,.0f} ms".format(*found.range_ms)
    else:
        wait = "?"
    return f"{wait} x{_attempts(edge)}"


def _svg(defences: DefenceMap) -> str:
    """The system as boxes and arrows, services placed by their distance from the client."""
    e = html.escape
    depth: dict[str, int] = {}
    for name, path in defences.paths.items():
        for hop in path:
            source, _, target = hop.partition("->")
            depth.setdefault(source, 0)
            depth[target] = min(depth.get(target, 99), depth[source] + 1)
        source, _, target = name.partition("->")
        depth.setdefault(source, 0)
        depth.setdefault(target, depth[source] + 1)
    columns: dict[int, list[str]] = {}
    for node, d in sorted(depth.items(), key=lambda item: (item[1], item[0])):
        columns.setdefault(d, []).append(node)
    where: dict[str, tuple[int, int]] = {}
    for d, nodes in columns.items():
        for row, node in enumerate(nodes):
            where[node] = (20 + d * _COL_W, 20 + row * _ROW_H)
    width = 40 + max(x for x, _ in where.values()) + _NODE_W
    height = 40 + max(y for _, y in where.values()) + _NODE_H
    bad = {f.edge for f in defences.findings} | {m.edge for m in defences.mismatches}
    parts = []
    for edge in defences.edges:
        (x1, y1), (x2, y2) = where[edge.caller], where[edge.target]
        ax, ay = x1 + _NODE_W, y1 + _NODE_H // 2
        bx, by = x2, y2 + _NODE_H // 2
        if x2 <= x1:  # same column or back: from the box's bottom
            ax, ay, bx, by = x1 + _NODE_W // 2, y1 + _NODE_H, x2 + _NODE_W // 2, y2
        colour = "#c33" if edge.edge in bad else "#555"
        dash = ' stroke-dasharray="6 4"' if not edge.journeys and edge.deadline is None else ""
        parts.append(
            f'<line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}" stroke="{colour}" '
            f'stroke-width="2" marker-end="url(#arrow)"{dash}><title>{e(edge.edge)}</title></line>'
            # Beside the arrow's head: the targets are in rows, so the labels never meet.
            f'<text x="{bx - 8}" y="{by - 8}" font-size="11" text-anchor="end" '
            f'fill="{colour}" stroke="#fff" stroke-width="3" paint-order="stroke">'
            f"{e(_label(defences, edge))}</text>"
        )
    for node, (x, y) in where.items():
        parts.append(
            f'<rect x="{x}" y="{y}" width="{_NODE_W}" height="{_NODE_H}" rx="6" fill="#eef3fb" '
            f'stroke="#557"/><text x="{x + _NODE_W // 2}" y="{y + 22}" text-anchor="middle">'
            f"{e(node)}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{e(defences.topology)} defences">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>'
        + "".join(parts)
        + "</svg>"
    )


def _map_section(defences: DefenceMap) -> str:
    e = html.escape
    bad = {f.edge for f in defences.findings}
    rows = "".join(
        f"<tr{' class=bad' if edge.edge in bad else ''}><td><code>{e(edge.edge)}</code></td>"
        f"<td>{e(edge.caller)}</td><td>{e(deadline_text(defences, edge))}</td>"
        "<td>"
        + (
            e(f"{edge.deadline.waited_ms:,.0f} ms ({edge.deadline.answer})")
            if edge.deadline is not None and edge.deadline.waited_ms is not None
            else "-"
        )
        + f"</td><td>{e(_attempts(edge))}</td><td>{e(edge.retry_text())}</td>"
        f"<td>{e(', '.join(edge.fallbacks) or '-')}</td><td>{e(edge.note)}</td></tr>"
        for edge in defences.edges
    )
    findings = (
        "".join(
            f"<li><b>{e(f.check)}</b>: <b>{e(f.caller)}</b> ({e(f.setting)}): {e(f.message)}"
            + (
                " <small>["
                + e(", ".join(f"{k} {v:,.1f}" for k, v in f.numbers.items()))
                + "]</small>"
                if f.numbers
                else ""
            )
            + "</li>"
            for f in defences.findings
        )
        or "<li>none</li>"
    )
    declared = ""
    check = defences.declared
    if check is not None:
        items = [
            f"<li class=new>mismatch: <code>{e(m.edge)}</code> {e(m.setting)}: declared "
            f"{e(m.declared)}, measured {e(m.measured)}: {e(m.message)}</li>"
            for m in check.mismatches
        ]
        items += [
            f"<li>agrees: <code>{e(edge)}</code> {e(setting)}</li>" for edge, setting in check.agree
        ]
        items += [
            f"<li>not compared: <code>{e(edge)}</code> {e(setting)}: {e(why)}</li>"
            for edge, setting, why in check.not_compared
        ]
        declared = f"<h3>Declared in domino.yaml</h3><ul>{''.join(items)}</ul>"
    notes = "".join(f"<li>{e(n)}</li>" for n in defences.notes)
    return (
        f"<h2>{e(defences.topology)} [{e(defences.profile)}]: {len(defences.edges)} edges, "
        f"{len(defences.findings)} findings, {len(defences.mismatches)} mismatches, measured "
        f"in {defences.search_s:.1f} s</h2>"
        f"{_svg(defences)}"
        "<table><thead><tr><th>edge</th><th>caller</th><th>deadline</th>"
        "<th>whole wait (answer)</th><th>attempts/request</th><th>backoff, Retry-After</th>"
        "<th>fallbacks</th><th>note</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<h3>Findings</h3><ul>{findings}</ul>{declared}" + (f"<ul>{notes}</ul>" if notes else "")
    )


def _change_section(change: DefencesChange) -> str:
    e = html.escape
    a, b = change.before.profile, change.after.profile
    changes = (
        "".join(
            f"<tr><td><code>{e(c.edge)}</code></td><td>{e(c.what)}</td><td>{e(c.before)}</td>"
            f"<td>{e(c.after)}</td></tr>"
            for c in change.changes
        )
        or "<tr><td colspan=4>no change past the tolerances</td></tr>"
    )

    def listed(css: str, found: Sequence[Finding | Mismatch]) -> str:
        items = "".join(f"<li class={css}>{e(f.describe())}</li>" for f in found)
        return items or "<li>none</li>"

    return (
        f"<h2>From {e(a)} to {e(b)}</h2>"
        f"<table><thead><tr><th>edge</th><th>what</th><th>{e(a)}</th><th>{e(b)}</th></tr>"
        f"</thead><tbody>{changes}</tbody></table>"
        f"<h3>Findings gone in {e(b)}</h3><ul>{listed('gone', change.gone)}</ul>"
        f"<h3>Findings new in {e(b)}</h3><ul>{listed('new', change.new)}</ul>"
        f"<h3>Findings in both</h3><ul>{listed('', change.kept)}</ul>"
        f"<h3>Mismatches with domino.yaml gone in {e(b)}</h3>"
        f"<ul>{listed('gone', change.mismatches_gone)}</ul>"
        f"<h3>Mismatches with domino.yaml new in {e(b)}</h3>"
        f"<ul>{listed('new', change.mismatches_new)}</ul>"
    )


def render_defences_html(maps: Sequence[DefenceMap], change: DefencesChange | None) -> str:
    """The page: what changed (with two profiles), then each profile's map."""
    e = html.escape
    first = maps[0]
    profiles = " vs ".join(m.profile for m in maps)
    findings = sum(len(m.findings) for m in maps)
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>domino defences {e(first.topology)} [{e(profiles)}]</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Callers' defences: {e(first.topology)} [{e(profiles)}] — {findings} findings</h1>"
        "<p>Per edge, measured from outside through Domino's proxies: the caller's deadline "
        "(the latency at which it stops waiting), its whole wait and answer with the most "
        "latency added, its attempts per request while the edge fails, and the edges newly "
        "crossed meanwhile (its fallbacks). Red: a finding or a mismatch on the edge; "
        "dashed: an edge crossed only as a fallback.</p>"
        + (_change_section(change) if change is not None else "")
        + "".join(_map_section(m) for m in maps)
        + "</body></html>\n"
    )


def render_defences_junit(maps: Sequence[DefenceMap]) -> str:
    """One suite per profile, one case per edge: failing with the findings attributed to
    it and the declarations it contradicts."""
    suites = ET.Element("testsuites", name="domino-defences")
    for defences in maps:
        name = f"domino.defences.{defences.topology}[{defences.profile}]"
        suite = ET.SubElement(suites, "testsuite", name=name, time=f"{defences.search_s:.3f}")
        failures = 0
        for edge in defences.edges:
            case = ET.SubElement(
                suite, "testcase", classname=name, name=edge.edge, time=f"{edge.measure_s:.3f}"
            )
            found = [f.describe() for f in defences.findings if f.edge == edge.edge]
            found += [
                f"declared != measured: {m.describe()}"
                for m in defences.mismatches
                if m.edge == edge.edge
            ]
            if found:
                failures += 1
                failure = ET.SubElement(case, "failure", message=found[0])
                failure.text = "\n".join(found)
            elif edge.deadline is None and not edge.failures:
                ET.SubElement(case, "skipped", message=edge.note or "not measured")
        suite.set("tests", str(len(defences.edges)))
        suite.set("failures", str(failures))
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
