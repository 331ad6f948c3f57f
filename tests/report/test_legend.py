"""Every mark the run report's plots draw has an entry in the page's legend."""

from __future__ import annotations

from harness.report.html import render_html
from tests.report.markup import parse
from tests.report.samples import load_sample

#: What every plot has that is not data: its frame and grid lines.
STRUCTURE = {"frame", "grid"}


def test_every_mark_drawn_in_the_plots_is_explained_by_the_legend() -> None:
    dom = parse(render_html(load_sample()))
    drawn: set[str] = set()
    for svg in dom.find_all("svg", "plot"):
        for node in svg.walk():
            if node.tag in ("circle", "path", "rect", "line", "polygon", "polyline"):
                drawn |= node.classes
    explained: set[str] = set()
    for entry in dom.find("div", "legend").find_all("span"):
        assert entry.text, entry.attrs  # an entry says what it means
        explained |= set(entry.attrs["data-marks"].split())
    assert drawn - STRUCTURE, "the sample draws no marks: the test would prove nothing"
    assert drawn - STRUCTURE <= explained, sorted(drawn - STRUCTURE - explained)
    # The success bars, the mark the legend lacked, are explained in all three colours.
    assert {"b-ok", "b-deg", "b-fail"} <= explained
