"""The matrix's HTML page: a legend for every mark, observed dependencies as a table.

Read back as markup, and opened in a real headless Chromium (its DOM after
parsing, as a browser builds it).
"""

from __future__ import annotations

from pathlib import Path

from harness.explore.matrix import MatrixResult
from harness.explore.observed import Background, ObservedGraph, ObservedJourney
from harness.explore.report import heatmap, render_html
from tests.explore.test_matrix_outputs import JOURNEYS, _every_state
from tests.report.markup import Node, parse
from tests.report.test_html_chromium import run_chromium

EDGES = ("client->bank", "bank->card", "card->pay")


def _observed() -> ObservedGraph:
    def journey(name: str, declared: tuple[str, ...], crossed: dict[str, int]) -> ObservedJourney:
        return ObservedJourney(
            journey=name,
            calls=5,
            ok_calls=5,
            window_s=1.0,
            declared=declared,
            crossed=tuple(crossed),
            undeclared=tuple(e for e in crossed if e not in declared),
            unused=tuple(e for e in declared if e not in crossed),
            bytes_by_edge=crossed,
            allowance_bytes={},
        )

    return ObservedGraph(
        topology="bank",
        profile="hardened",
        calls_per_journey=5,
        edges=EDGES,
        background=Background(1.0, {"bank->card": 12.0}, {}),
        journeys=(
            journey("login", ("client->bank",), {"client->bank": 900, "bank->card": 1_400}),
            journey("card-tab", ("client->bank", "bank->card", "card->pay"), {"client->bank": 800}),
        ),
    )


def _page() -> str:
    result = MatrixResult("bank", "hardened", "local", JOURNEYS, _every_state(), 7)
    result.extra["observed"] = _observed().as_dict()
    return render_html(result)


def _legend(dom: Node) -> dict[str, str]:
    rows = dom.find("table", "legend").find_all("tr")[1:]
    return {row.find_all("td")[0].text: row.find_all("td")[1].text for row in rows}


def _observed_cells(dom: Node) -> dict[tuple[str, str], tuple[str, str]]:
    table = dom.find("table", "observed")
    heads = [th.text for th in table.find_all("thead")[0].find_all("th")][2:]
    cells = {}
    for row in table.find_all("tbody")[0].find_all("tr"):
        journey = row.find_all("th")[0].text
        for edge, td in zip(heads, row.find_all("td")[1:], strict=True):
            cells[journey, edge] = (" ".join(sorted(td.classes)), td.text)
    return cells


def _check(dom: Node) -> None:
    legend = _legend(dom)
    result = MatrixResult("bank", "hardened", "local", JOURNEYS, _every_state(), 7)
    shown = {mark for row in heatmap(result).values() for mark in row.values()}
    assert shown == {".", "d", "F", "S", "s", "X", "?", "-"}  # every mark there is
    assert set(legend) == shown
    assert legend["X"].startswith("cascade violation")
    assert legend["S"].startswith("failed slow on a hard dependency")
    assert not dom.find_all("pre")  # no raw JSON dump

    cells = _observed_cells(dom)
    assert cells["login", "client->bank"] == ("ob-ok", "crossed (900 B)")
    assert cells["login", "bank->card"] == ("ob-undeclared", "crossed, undeclared (1,400 B)")
    assert cells["login", "card->pay"] == ("ob-none", "")
    assert cells["card-tab", "bank->card"] == ("ob-unused", "declared, not crossed")
    text = dom.text
    assert "login: crosses bank->card (1400 bytes) but does not declare it" in text
    assert "(background: bank->card 12 B/s)" in text


def test_the_matrix_page_explains_every_mark_and_tabulates_observed_dependencies() -> None:
    _check(parse(_page()))


def test_chromium_builds_the_legend_and_the_observed_table(chromium: Path, tmp_path: Path) -> None:
    page = tmp_path / "matrix.html"
    page.write_text(_page(), encoding="utf-8")
    dom = run_chromium(chromium, ["--dump-dom", page.as_uri()], tmp_path / "profile")
    _check(parse(dom))
