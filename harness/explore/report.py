"""Matrix reports: a heatmap in the terminal and in HTML, JSON of every cell, JUnit, shard merging.

The heatmap has one row per journey and one column per faulted place (edge);
each mark is the worst of that place's cells for the journey:

    .  healthy        d  degraded (honest)     F  failed on a hard dependency (expected)
    X  cascade violation    ?  inconclusive    -  pruned (implied)   (blank) not run
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from harness.errors import UsageError
from harness.explore.matrix import PRUNING_ASSUMPTION, CellResult, MatrixResult

__all__ = ["load_matrix", "merge_matrices", "render_heatmap", "write_matrix_reports"]

_RANK = {"": 0, ".": 1, "-": 2, "d": 3, "F": 4, "?": 5, "X": 6}


def _mark(cell: CellResult, journey: str) -> str:
    if cell.outcome == "pruned":
        return "-"
    if cell.outcome == "inconclusive":
        return "?"
    for j in cell.journeys:
        if j.journey == journey:
            if j.violation:
                return "X"
            return {"healthy": ".", "degraded": "d", "failed": "F"}.get(j.verdict, "?")
    return ""


def _places(result: MatrixResult) -> list[str]:
    return list(dict.fromkeys(c.edge for c in result.cells))


def heatmap(result: MatrixResult) -> dict[str, dict[str, str]]:
    """Mark per journey per place (the worst of that place's cells)."""
    grid: dict[str, dict[str, str]] = {}
    for journey in result.journeys:
        row = {}
        for place in _places(result):
            marks = [_mark(c, journey) for c in result.cells if c.edge == place]
            row[place] = max(marks, key=lambda m: _RANK[m], default="")
        grid[journey] = row
    return grid


def render_heatmap(result: MatrixResult) -> str:
    """The terminal summary: counts, the heatmap, then every violation with its attribution."""
    counts = result.counts()
    out = [
        "",
        f"  domino matrix: {result.topology} [{result.profile}] on {result.backend}: "
        f"{result.outcome.upper()}",
        f"  {len(result.cells)} of {result.planned} cells"
        + (f" (shard {result.shard[0]}/{result.shard[1]})" if result.shard else "")
        + f": {counts['contained']} contained, {counts['violation']} violations, "
        f"{counts['inconclusive']} inconclusive, {counts['pruned']} pruned; "
        f"{result.duration_s:.0f} s wall, floor {result.floor_s:.0f} s, {result.workers} worker(s)",
        "",
    ]
    places = _places(result)
    grid = heatmap(result)
    width = max([len(j) for j in result.journeys] + [7])
    out.append("  " + " " * width + "  " + "  ".join(f"{i + 1:>2}" for i in range(len(places))))
    for journey in result.journeys:
        marks = "  ".join(f"{grid[journey][p] or ' ':>2}" for p in places)
        out.append(f"  {journey:<{width}}  {marks}")
    out.append("")
    out += [f"  {i + 1:>2} {place}" for i, place in enumerate(places)]
    out.append(
        "     . healthy  d degraded  F failed on a hard dependency  X cascade violation  "
        "? inconclusive  - pruned"
    )
    violations = [(c, a) for c in result.cells for a in c.attributions]
    if violations:
        out += ["", "  cascade violations"]
        for cell, attribution in violations:
            verdict = next(j for j in cell.journeys if j.journey == attribution.journey)
            out.append(
                f"    X {cell.kind} on {cell.edge} broke {attribution.journey}: {verdict.reason}"
            )
            out.append(f"        path {' -> '.join(attribution.path)} ({attribution.basis})")
            out.append(
                f"        should have been contained by {attribution.container}: "
                f"{attribution.detail}"
            )
    inconclusive = [c for c in result.cells if c.outcome == "inconclusive"]
    if inconclusive:
        out += ["", "  inconclusive cells (never a pass)"]
        out += [f"    ? {c.id}: {'; '.join(c.reasons)}" for c in inconclusive]
    if result.pruning:
        out += ["", f"  pruning assumes: {PRUNING_ASSUMPTION}"]
    out += ["", f"  overall: {result.outcome.upper()}"]
    return "\n".join(out)


def render_junit(result: MatrixResult) -> str:
    """One test case per cell: a violation fails, an inconclusive cell errors, pruned skips."""
    name = f"domino.matrix.{result.topology}[{result.profile}]"
    suite = ET.Element("testsuite", name=name, time=f"{result.duration_s:.3f}")
    failures = errors = skipped = 0
    for cell in result.cells:
        case = ET.SubElement(
            suite, "testcase", classname=name, name=cell.id, time=f"{cell.duration_s:.3f}"
        )
        if cell.outcome == "violation":
            failures += 1
            failure = ET.SubElement(
                case, "failure", message="cascade violation: " + ", ".join(cell.violations)
            )
            failure.text = "\n".join(a.describe() for a in cell.attributions)
        elif cell.outcome == "inconclusive":
            errors += 1
            ET.SubElement(case, "error", message="inconclusive: " + "; ".join(cell.reasons))
        elif cell.outcome == "pruned":
            skipped += 1
            ET.SubElement(case, "skipped", message="; ".join(cell.reasons))
    suite.set("tests", str(len(result.cells)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suites = ET.Element("testsuites", name="domino-matrix")
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:center}
th.j{text-align:left}.m-X{background:#d9534f;color:#fff;font-weight:bold}.m-F{background:#f3c4c4}
.m-d{background:#fbe7b0}.m-\\.{background:#cfe8cf}.m-\\?{background:#999;color:#fff}.m--{background:#eee}
code{background:#f4f4f4;padding:0 .2em}li{margin:.3em 0}
"""


def render_html(result: MatrixResult) -> str:
    """A self-contained page: the heatmap, the violations with their paths, every cell."""
    e = html.escape
    places = _places(result)
    grid = heatmap(result)
    head = "".join(f"<th>{e(p)}</th>" for p in places)
    rows = "".join(
        f"<tr><th class=j>{e(j)}</th>"
        + "".join(f'<td class="m-{e(grid[j][p] or "none")}">{e(grid[j][p])}</td>' for p in places)
        + "</tr>"
        for j in result.journeys
    )
    violations = (
        "".join(
            f"<li><b>{e(a.journey)}</b> broken by <code>{e(c.kind)}</code> "
            f"on <code>{e(c.edge)}</code>: "
            f"path <code>{e(' -> '.join(a.path))}</code> ({e(a.basis)}); first container "
            f"<b>{e(a.container)}</b> — {e(a.detail)}</li>"
            for c in result.cells
            for a in c.attributions
        )
        or "<li>none</li>"
    )
    cells = "".join(
        f"<tr><td>{e(c.id)}</td><td>{e(c.outcome)}</td><td>{e(', '.join(c.violations))}</td>"
        f"<td>{e(c.evidence or '; '.join(c.reasons))}</td></tr>"
        for c in result.cells
    )
    extra = ""
    observed = result.extra.get("observed")
    if observed:
        extra += f"<h2>Observed dependencies</h2><pre>{e(json.dumps(observed, indent=1))}</pre>"
    cliffs = result.extra.get("cliffs")
    if cliffs:
        extra += f"<h2>Latency cliffs</h2><pre>{e(json.dumps(cliffs, indent=1))}</pre>"
    counts = result.counts()
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>domino matrix {e(result.topology)} [{e(result.profile)}]</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Blast radius: {e(result.topology)} [{e(result.profile)}] — {e(result.outcome)}</h1>"
        f"<p>{len(result.cells)} of {result.planned} cells: {counts['contained']} contained, "
        f"{counts['violation']} violations, {counts['inconclusive']} inconclusive, "
        f"{counts['pruned']} pruned. Rows are journeys, columns faulted places; X marks a "
        "journey that failed because of a fault outside its hard dependencies.</p>"
        f"<table class=heatmap><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        f"<h2>Cascade violations</h2><ul>{violations}</ul>"
        f"<h2>Cells</h2><table><thead><tr><th>cell</th><th>outcome</th><th>violations</th>"
        f"<th>evidence</th></tr></thead><tbody>{cells}</tbody></table>{extra}"
        f"<p><small>Pruning assumes: {e(PRUNING_ASSUMPTION)}</small></p></body></html>\n"
    )


def write_matrix_reports(result: MatrixResult, folder: Path) -> dict[str, Path]:
    """``matrix.json``, ``junit.xml`` and ``matrix.html`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "matrix.json",
        "junit": folder / "junit.xml",
        "html": folder / "matrix.html",
    }
    paths["json"].write_text(json.dumps(result.as_dict(), indent=1) + "\n", encoding="utf-8")
    paths["junit"].write_text(render_junit(result), encoding="utf-8")
    paths["html"].write_text(render_html(result), encoding="utf-8")
    return paths


def load_matrix(folder: Path) -> MatrixResult:
    """A matrix report written by :func:`write_matrix_reports`; UsageError if it is not one."""
    path = folder / "matrix.json" if folder.is_dir() else folder
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a matrix report ({exc})") from None
    if not isinstance(raw, dict) or raw.get("kind") != "domino-matrix":
        raise UsageError(f"{path}: not a matrix report (no kind: domino-matrix)")
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
        "cells",
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
    return MatrixResult(
        topology=first.topology,
        profile=first.profile,
        backend=first.backend,
        journeys=first.journeys,
        cells=sorted((seen[i] for i in order), key=lambda c: (c.edge, c.kind)),
        planned=first.planned,
        shard=None,
        pruning=False,
        started_at=min(p.started_at for p in parts),
        duration_s=max(p.duration_s for p in parts),
        floor_s=sum(p.floor_s for p in parts),
        workers=sum(p.workers for p in parts),
    )
