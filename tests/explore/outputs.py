"""The four outputs of a matrix, each read back on its own into one word per cell.

``passed``, ``failed``, ``inconclusive`` or ``skipped``: what CI would conclude
from that output alone. A test then checks that JUnit, the JSON, the heatmap
(terminal and HTML) and the exit code conclude the same for every cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

from harness.explore.matrix import MatrixResult
from harness.explore.report import exit_code, render_heatmap, write_matrix_reports

__all__ = ["from_exit_code", "from_heatmap", "from_html", "from_json", "from_junit", "read_all"]


def from_json(path: Path) -> dict[str, str]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    slow = "failed" if raw["strict"] else "passed"
    words = {
        "contained": "passed",
        "violation": "failed",
        "failed-slow": slow,
        "inconclusive": "inconclusive",
        "pruned": "skipped",
    }
    return {c["id"]: words[c["outcome"]] for c in raw["cells"]}


def from_junit(path: Path) -> dict[str, str]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    words = {}
    for case in suite.iter("testcase"):
        if "|" not in case.get("name", ""):
            continue  # not a cell (declared vs observed dependencies)
        kinds = {child.tag for child in case}
        word = "passed"
        for tag, meaning in (
            ("failure", "failed"),
            ("error", "inconclusive"),
            ("skipped", "skipped"),
        ):
            if tag in kinds:
                word = meaning
        words[case.get("name", "")] = word
    counted = {w: sum(1 for v in words.values() if v == w) for w in ("failed", "inconclusive")}
    assert int(suite.get("failures", "-1")) >= counted["failed"]
    assert int(suite.get("errors", "-1")) == counted["inconclusive"]
    return words


def _column_word(marks: set[str], strict: bool) -> str:
    if marks == {"?"}:
        return "inconclusive"
    if marks == {"-"}:
        return "skipped"
    assert not marks & {"?", "-", ""}, marks
    if "X" in marks or ("S" in marks and strict):
        return "failed"
    return "passed"


def from_heatmap(text: str, result: MatrixResult) -> dict[str, str]:
    """Per place (one cell each), the word the terminal heatmap's column says."""
    places = dict(re.findall(r"^\s+(\d+) (\S+->\S+)$", text, flags=re.MULTILINE))
    order = [places[str(i + 1)] for i in range(len(places))]
    columns: dict[str, set[str]] = {p: set() for p in order}
    for journey in result.journeys:
        (line,) = [ln for ln in text.splitlines() if ln.startswith(f"  {journey} ")]
        marks = line[len(journey) + 2 :].split()
        assert len(marks) == len(order), line
        for place, mark in zip(order, marks, strict=True):
            columns[place].add(mark)
    return {_cell_of(result, p): _column_word(m, result.strict) for p, m in columns.items()}


def from_html(page: str, result: MatrixResult) -> dict[str, str]:
    """Per place, the word the HTML heatmap's column says."""
    table = page.split("<table class=heatmap>", 1)[1].split("</table>", 1)[0]
    order = re.findall(r"<th>([^<]+)</th>", table.split("</thead>", 1)[0])
    columns: dict[str, set[str]] = {p.replace("&gt;", ">"): set() for p in order}
    for row in re.findall(r"<tr><th class=j>[^<]+</th>(.*?)</tr>", table):
        marks = re.findall(r'<td class="m-[^"]+">([^<]*)</td>', row)
        for place, mark in zip(columns, marks, strict=True):
            columns[place].add(mark)
    return {_cell_of(result, p): _column_word(m, result.strict) for p, m in columns.items()}


def _cell_of(result: MatrixResult, place: str) -> str:
    (cell,) = [c.id for c in result.cells if c.edge == place]
    return cell


def from_exit_code(result: MatrixResult) -> dict[str, str]:
    """Per cell, the exit code a matrix of that cell alone ends with, as a word."""
    words = {}
    for cell in result.cells:
        alone = MatrixResult(
            result.topology,
            result.profile,
            result.backend,
            result.journeys,
            [cell],
            1,
            strict=result.strict,
        )
        code = exit_code(alone)
        words[cell.id] = {0: "passed", 1: "failed", 3: "inconclusive"}[code]
        if cell.outcome == "pruned":
            assert code == 0
            words[cell.id] = "skipped"
    return words


def read_all(result: MatrixResult, folder: Path) -> dict[str, dict[str, str]]:
    """Every output's word per cell, by output name."""
    paths = write_matrix_reports(result, folder)
    return {
        "json": from_json(paths["json"]),
        "junit": from_junit(paths["junit"]),
        "heatmap": from_heatmap(render_heatmap(result), result),
        "html": from_html(paths["html"].read_text(encoding="utf-8"), result),
        "exit code": from_exit_code(result),
    }
