"""The HTML report rendered from the sample report data, and from edge cases of it.

The sample holds two real runs of the KB Pay 2023 incident: ``fragile``
(login and card-tab fail slowly, no error code) and ``hardened`` (card-tab
degrades honestly with CD001). Variants change one thing each: failed calls,
a second faulted place, no observations, hostile text, an inconclusive run.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.report.blast import blast_radius_from_run
from harness.report.html import render_html
from tests.report.markup import Node, parse
from tests.report.samples import with_second_fault_and_failures

HOSTILE = "<script>alert(1)</script>"
#: Breaks out of a double-quoted attribute if it is not escaped.
HOSTILE_ATTR = '" onmouseover="alert(2)" x="'


def _page(data: dict[str, Any]) -> Node:
    return parse(render_html(data))


def _runs(root: Node) -> list[Node]:
    return root.find_all("section", "run")


def _plots(section: Node) -> dict[str, Node]:
    return {svg.attrs["data-journey"]: svg for svg in section.find_all("svg", "plot")}


def _marks(plot: Node) -> list[Node]:
    """One mark per call: circles for answers, paths for degraded answers and failures."""
    circles = [n for n in plot.find_all("circle") if n.classes & {"pt-ok", "pt-slow"}]
    paths = [n for n in plot.find_all("path") if n.classes & {"pt-deg", "pt-fail"}]
    return circles + paths


def _table_rows(table: Node) -> list[list[str]]:
    body = table.find("tbody")
    return [[cell.text for cell in tr.children] for tr in body.find_all("tr")]


def _phase_lines(plot: Node) -> dict[float, float]:
    """Phase boundary time (s) -> x position, read from each line's tooltip."""
    lines = {}
    for line in plot.find_all("line", "phase"):
        seconds = re.search(r"at ([\d.]+) s", line.text)
        assert seconds, line.text
        lines[float(seconds.group(1))] = float(line.attrs["x1"])
    return lines


# --- the page as a whole --------------------------------------------------------------------


def test_page_is_one_self_contained_document(sample: dict[str, Any]) -> None:
    page = render_html(sample)
    root = parse(page)
    assert page.startswith("<!doctype html>")
    assert root.find("title").text == "Domino report: FAIL"
    csp = root.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp
    # Nothing to fetch and nothing to run: no scripts, stylesheets, images or frames.
    for tag in ("script", "link", "img", "iframe", "object", "embed"):
        assert root.find_all(tag) == [], tag
    assert not any("src" in n.attrs for n in root.walk())
    assert "@import" not in page
    assert "url(http" not in page


def test_summary_lists_every_run_with_a_link_to_its_section(sample: dict[str, Any]) -> None:
    root = _page(sample)
    sections = _runs(root)
    assert len(sections) == len(sample["runs"]) == 2
    summary = root.find("table", "summary")
    links = [a.attrs["href"] for a in summary.find_all("a")]
    assert links == [f"#{s.attrs['id']}" for s in sections]
    rows = _table_rows(summary)
    assert [r[2] for r in rows] == ["fragile", "hardened"]
    assert [r[4] for r in rows] == ["FAIL", "FAIL"]
    assert rows[0][5] == "6/8"
    assert rows[1][5] == "6/7"
    overall = root.find("header").find("span", "badge")
    assert overall.text == "FAIL"
    assert "o-fail" in overall.classes


def test_header_shows_incident_profile_and_environment(sample: dict[str, Any]) -> None:
    for section, run in zip(_runs(_page(sample)), sample["runs"], strict=True):
        text = section.text
        incident = run["incident"]
        for value in (
            incident["id"],
            incident["title"],
            incident["date"],
            *incident["sources"],
            incident["summary"],
            run["profile"],
            run["backend"],
            run["toxiproxy_version"],
        ):
            assert value in text, value
        badge = section.find("div", "run-head").find("span", "badge")
        assert badge.text == "FAIL"
        assert "o-fail" in badge.classes


def test_a_failed_run_says_why(sample: dict[str, Any]) -> None:
    for section, run in zip(_runs(_page(sample)), sample["runs"], strict=True):
        box = section.find("div", "reasons")
        assert "Why it failed" in box.text
        assert [li.text for li in box.find_all("li")] == run["verdict"]["reasons"]


def test_inconclusive_run_is_shown_as_such_with_its_reasons(sample: dict[str, Any]) -> None:
    reason = "fault never touched traffic: timeout(edge='card->pay'): 0 bytes through the proxy"
    sample["outcome"] = "inconclusive"
    sample["runs"][0]["verdict"]["outcome"] = "inconclusive"
    sample["runs"][0]["verdict"]["reasons"] = [reason]
    root = _page(sample)
    section = _runs(root)[0]
    badge = section.find("div", "run-head").find("span", "badge")
    assert badge.text == "INCONCLUSIVE"
    assert "o-inconclusive" in badge.classes
    box = section.find("div", "reasons")
    assert "o-inconclusive" in box.classes
    assert "Why it is inconclusive" in box.text
    assert [li.text for li in box.find_all("li")] == [reason]
    assert root.find("title").text == "Domino report: INCONCLUSIVE"
    assert _table_rows(root.find("table", "summary"))[0][4] == "INCONCLUSIVE"


def test_a_passing_run_has_no_reasons_box(sample: dict[str, Any]) -> None:
    sample["runs"][0]["verdict"]["outcome"] = "pass"
    sample["runs"][0]["verdict"]["reasons"] = []
    section = _runs(_page(sample))[0]
    assert section.find_all("div", "reasons") == []
    assert "o-pass" in section.find("div", "run-head").find("span", "badge").classes


# --- verdict, statistics, codes, invariants -------------------------------------------------


def test_verdict_table_has_every_check_expected_against_measured(sample: dict[str, Any]) -> None:
    for section, run in zip(_runs(_page(sample)), sample["runs"], strict=True):
        table = section.find("table", "verdict")
        rows = _table_rows(table)
        checks = run["verdict"]["checks"]
        assert len(rows) == len(checks)
        for row, check in zip(rows, checks, strict=True):
            assert row[:3] == [check["name"], check["expected"], check["measured"]]
            assert row[3] == ("✓ pass" if check["passed"] else "✗ fail")
        failing = table.find_all("tr", "check-fail")
        assert len(failing) == sum(1 for c in checks if not c["passed"])


def test_journey_statistics_per_phase(sample: dict[str, Any]) -> None:
    for section, run in zip(_runs(_page(sample)), sample["runs"], strict=True):
        table = section.find("table", "stats")
        rows = table.find("tbody").find_all("tr")
        journeys = run["verdict"]["journeys"]
        assert len(rows) == sum(len(journeys[p]) for p in ("steady", "during", "recovery"))
        badges = [tr.find("span", "badge").text for tr in rows]
        by_journey = {
            name: [
                j["verdict"]
                for phase in ("steady", "during", "recovery")
                for j in journeys[phase]
                if j["journey"] == name
            ]
            for name in ("login", "balance", "card-tab")
        }
        assert badges == [v for verdicts in by_journey.values() for v in verdicts]
    fragile = _runs(_page(sample))[0].find("table", "stats").text
    assert "7,836 ms" in fragile  # login's p95 during the fault
    assert "slow" in fragile


def test_error_codes_with_where_they_started(sample: dict[str, Any]) -> None:
    fragile, hardened = _runs(_page(sample))
    assert fragile.find_all("table", "codes") == []
    assert "No error code was seen" in fragile.text
    rows = _table_rows(hardened.find("table", "codes"))
    assert len(rows) == 1
    code, journey, origin, count, meaning = rows[0]
    assert (code, journey, origin, count) == ("CD001", "card-tab", "none given", "119")
    assert meaning.startswith("Card service unavailable")


def test_unknown_error_code_is_listed_without_a_meaning(sample: dict[str, Any]) -> None:
    sample["runs"][0]["codes"] = [
        {"code": "ZZ999", "journey": "login", "origin": "card->pay (timeout)", "count": 3}
    ]
    rows = _table_rows(_runs(_page(sample))[0].find("table", "codes"))
    assert rows == [
        ["ZZ999", "login", "card->pay (timeout)", "3", "not in the system's error-code table"]
    ]


def test_invariants_with_details(sample: dict[str, Any]) -> None:
    for section, run in zip(_runs(_page(sample)), sample["runs"], strict=True):
        rows = _table_rows(section.find("table", "invariants"))
        expected = [
            [i["name"], "holds" if i["holds"] else "broken", i["detail"]]
            for i in run["verdict"]["invariants"]
        ]
        assert rows == expected
    hardened = _runs(_page(sample))[1]
    assert "CD001 from card-tab blames nothing (x116)" in hardened.find("table", "invariants").text
    assert "Service self-checks" in hardened.text


# --- the blast-radius matrix ----------------------------------------------------------------


def _matrix(section: Node) -> tuple[list[str], dict[str, list[str]]]:
    """Column headers (faulted places) and, per journey, the verdict class of each cell."""
    table = section.find("table", "blast")
    heads = [th.text.split(" ")[0] for th in table.find("thead").find_all("th")[1:]]
    cells = {}
    for tr in table.find("tbody").find_all("tr"):
        name = tr.find("th").text
        cells[name] = [
            next(c for c in td.classes if c.startswith("v-"))[2:] for td in tr.find_all("td")
        ]
    return heads, cells


def test_blast_radius_one_faulted_place_shows_each_journeys_fault_verdict(
    sample: dict[str, Any],
) -> None:
    fragile, hardened = _runs(_page(sample))
    heads, cells = _matrix(fragile)
    assert heads == ["card->pay"]
    assert cells == {"login": ["failed"], "balance": ["healthy"], "card-tab": ["failed"]}
    heads, cells = _matrix(hardened)
    assert heads == ["card->pay"]
    assert cells == {"login": ["healthy"], "balance": ["healthy"], "card-tab": ["degraded"]}


def test_blast_radius_shows_exactly_the_cells_of_the_data(sample: dict[str, Any]) -> None:
    run = with_second_fault_and_failures(sample)["runs"][1]
    run["blast_radius"] = blast_radius_from_run(run).as_dict()
    blast = run["blast_radius"]
    section = _runs(_page(sample))[1]
    heads, _ = _matrix(section)
    assert heads == [p["target"] for p in blast["places"]] == ["card->pay", "bank->card"]
    rows = section.find("table", "blast").find("tbody").find_all("tr")
    assert [tr.find("th").text for tr in rows] == blast["journeys"]
    for index, tr in enumerate(rows):
        for td, place in zip(tr.find_all("td"), blast["places"], strict=True):
            cell = place["cells"][index]
            assert cell["journey"] == blast["journeys"][index]
            assert f"v-{cell['verdict']}" in td.classes
            assert td.attrs["title"] == cell["detail"]
            assert td.find("small").text == cell["detail"].split(";")[0]
    assert "each cell judges the calls that started while that place was faulted" in section.text


def test_blast_radius_is_read_from_the_data_never_judged_again(sample: dict[str, Any]) -> None:
    # A second fault and failures, but the data's blast radius left as it was: the page
    # must show that, not judge the new fault's window itself.
    run = with_second_fault_and_failures(sample)["runs"][1]
    run["blast_radius"]["places"][0]["cells"][1] = {
        "journey": "balance",
        "verdict": "failed",
        "detail": "as the data says; and why",
    }
    section = _runs(_page(sample))[1]
    heads, cells = _matrix(section)
    assert heads == ["card->pay"]
    assert cells == {"login": ["healthy"], "balance": ["failed"], "card-tab": ["degraded"]}
    assert "as the data says" in section.find("table", "blast").text
    assert "Each cell is the journey's verdict for the fault phase." in section.text


def test_blast_radius_marks_a_place_that_never_touched_traffic(sample: dict[str, Any]) -> None:
    assert "never touched" not in _runs(_page(sample))[0].find("table", "blast").text
    sample["runs"][0]["blast_radius"]["places"][0]["touched"] = False
    table = _runs(_page(sample))[0].find("table", "blast")
    assert "never touched traffic" in table.find("thead").text


def test_report_data_without_a_blast_radius_says_so(sample: dict[str, Any]) -> None:
    del sample["runs"][0]["blast_radius"]
    section = _runs(_page(sample))[0]
    assert section.find_all("table", "blast") == []
    assert "holds no blast radius" in section.text


# --- the plots ------------------------------------------------------------------------------


def test_one_plot_per_journey_with_a_mark_per_call(sample: dict[str, Any]) -> None:
    for section, run in zip(_runs(_page(sample)), sample["runs"], strict=True):
        plots = _plots(section)
        assert set(plots) == set(run["timeseries"]) == {"login", "balance", "card-tab"}
        for journey, points in run["timeseries"].items():
            assert len(_marks(plots[journey])) == len(points), journey


def test_calls_slower_than_the_slo_stand_out(sample: dict[str, Any]) -> None:
    login = _plots(_runs(_page(sample))[0])["login"]
    slow = login.find_all("circle", "pt-slow")
    assert len(slow) == 2  # the two logins that hung for 7.8 s behind the card->pay timeout
    assert all("ok but slow" in c.text for c in slow)
    assert "SLO p95 800 ms" in login.find("text", "slo-label").text


def test_degraded_answers_are_marked_with_their_code(sample: dict[str, Any]) -> None:
    run = sample["runs"][1]
    card_tab = _plots(_runs(_page(sample))[1])["card-tab"]
    degraded = card_tab.find_all("path", "pt-deg")
    assert len(degraded) == sum(1 for p in run["timeseries"]["card-tab"] if p[2] and p[3])
    assert all("code CD001" in d.text for d in degraded)


def test_failed_calls_are_red_crosses(sample: dict[str, Any]) -> None:
    login = _plots(_runs(_page(with_second_fault_and_failures(sample)))[1])["login"]
    crosses = login.find_all("path", "pt-fail")
    assert len(crosses) == 10
    assert all("failed" in c.text and "code NT004" in c.text for c in crosses)
    # Two strokes each: an x, not a dot.
    assert all(c.attrs["d"].count("M") == 2 for c in crosses)


def test_fault_windows_are_shaded_where_the_fault_was_held(sample: dict[str, Any]) -> None:
    for section, run in zip(_runs(_page(sample)), sample["runs"], strict=True):
        fault = run["faults"][0]
        for plot in _plots(section).values():
            shaded = plot.find_all("rect", "fault")
            assert len(shaded) == 2  # the latency panel and the success panel
            # Place the fault against the phase boundaries drawn on the same axis.
            lines = _phase_lines(plot)
            px_per_s = (lines[11.0] - lines[3.0]) / 8.0
            for rect in shaded:
                x0 = float(rect.attrs["x"])
                x1 = x0 + float(rect.attrs["width"])
                assert x0 == pytest.approx(
                    lines[3.0] + (fault["applied_s"] - 3) * px_per_s, abs=0.2
                )
                assert x1 == pytest.approx(
                    lines[3.0] + (fault["removed_s"] - 3) * px_per_s, abs=0.3
                )
            label = plot.find("text", "fault-label")
            assert label.text == f"F1: {fault['description']}"


def test_phase_boundaries_are_marked_and_named(sample: dict[str, Any]) -> None:
    for plot in _plots(_runs(_page(sample))[0]).values():
        assert sorted(_phase_lines(plot)) == [3.0, 11.0, 15.0]
        names = [t.text for t in plot.find_all("text", "phase-name")]
        assert names == ["steady", "fault", "recovery"]


def test_success_rate_per_one_second_bucket(sample: dict[str, Any]) -> None:
    login = _plots(_runs(_page(sample))[0])["login"]
    tips = [g.text for g in login.walk() if g.tag in {"g", "rect"} and "calls started" in g.text]
    tips = [t for t in tips if re.match(r"^\d", t)]
    buckets = sorted({t.split(":")[0] for t in tips}, key=lambda s: float(s.split("-")[0]))
    assert buckets[:3] == ["0-1 s", "1-2 s", "2-3 s"]
    assert len(buckets) == 15
    # Each login hung for 7.8 s: no login even started between 4 s and 11 s.
    empty = login.find_all("rect", "b-none")
    assert len(empty) == 7
    assert all("0 calls started" in r.text for r in empty)


def test_long_runs_get_wider_buckets(sample: dict[str, Any]) -> None:
    run = sample["runs"][0]
    run["timeseries"]["balance"].append([599.5, 3.0, True, None])
    plot = _plots(_runs(_page(sample))[0])["balance"]
    bars = [r for r in plot.find_all("rect") if r.classes & {"b-ok", "b-none"}]
    assert len(bars) <= 120
    assert "5 s bucket" in plot.text


def test_background_load_gets_its_own_plots(sample: dict[str, Any]) -> None:
    sample["runs"][0]["background"] = {
        "surge": [[4.0, 12.0, True, None], [5.0, 30.0, False, "OV001"]]
    }
    section = _runs(_page(sample))[0]
    plot = _plots(section)["surge"]
    assert len(_marks(plot)) == 2
    assert any("(background load)" in f.text for f in section.find_all("figcaption"))


# --- robustness -----------------------------------------------------------------------------


def test_run_without_observations_or_codes(sample: dict[str, Any]) -> None:
    run = sample["runs"][1]
    run["timeseries"] = {}
    run["background"] = {}
    run["codes"] = []
    section = _runs(_page(sample))[1]
    plots = _plots(section)
    assert set(plots) == {"login", "balance", "card-tab"}  # the journeys the verdict judged
    for plot in plots.values():
        assert _marks(plot) == []
        assert "no calls recorded" in plot.find("text", "empty").text
        assert len(plot.find_all("rect", "fault")) == 2
    assert "No error code was seen" in section.text


def test_run_without_faults_journeys_or_checks(sample: dict[str, Any]) -> None:
    run = sample["runs"][0]
    run["faults"] = []
    run["timeseries"] = {}
    run["codes"] = []
    run["verdict"]["checks"] = []
    run["verdict"]["invariants"] = []
    run["verdict"]["journeys"] = {"steady": [], "during": [], "recovery": []}
    run["service_invariants"] = {}
    section = _runs(_page(sample))[0]
    assert section.find_all("svg", "plot") == []
    assert "No fault was injected" in section.text
    assert "No journey was judged" in section.text
    assert "no checks" in section.text


def test_report_without_runs() -> None:
    root = _page({"format": 1, "generated_at": "now", "outcome": "pass", "runs": []})
    assert _runs(root) == []
    assert "holds no run" in root.text


def test_hostile_text_is_escaped_everywhere(sample: dict[str, Any]) -> None:
    run = sample["runs"][1]
    incident = run["incident"]
    incident["title"] = HOSTILE
    incident["summary"] = HOSTILE
    incident["sources"] = [HOSTILE, "https://example.invalid/" + HOSTILE_ATTR]
    run["profile"] = HOSTILE_ATTR
    run["faults"][0]["description"] = HOSTILE
    run["faults"][0]["target"] = HOSTILE_ATTR
    run["verdict"]["checks"][0]["measured"] = HOSTILE
    run["verdict"]["reasons"] = [HOSTILE]
    run["codes"][0]["code"] = HOSTILE
    # A journey name lands in attributes (data-journey, aria-label) as well as text.
    for phase in run["verdict"]["journeys"].values():
        for j in phase:
            if j["journey"] == "login":
                j["journey"] = HOSTILE_ATTR
    run["timeseries"][HOSTILE_ATTR] = run["timeseries"].pop("login")
    # The blast radius carries the place and journey names too.
    run["blast_radius"] = blast_radius_from_run(run).as_dict()

    page = render_html(sample)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    root = parse(page)
    assert root.find_all("script") == []
    assert not any(k.startswith("on") for n in root.walk() for k in n.attrs)
    section = _runs(root)[1]
    assert section.find("p", "incident-title").text == HOSTILE
    assert HOSTILE_ATTR in _plots(section)  # the attribute value survived intact
    blast = section.find("table", "blast")
    assert HOSTILE_ATTR in blast.find("thead").text
    assert HOSTILE_ATTR in [th.text for th in blast.find("tbody").find_all("th")]
    assert section.find("text", "fault-label").text == f"F1: {HOSTILE}"
    links = [a.attrs["href"] for a in section.find_all("a")]
    assert links == ["https://example.invalid/" + HOSTILE_ATTR]
    # The section's id is built from the profile: it must stay a plain token.
    assert re.fullmatch(r"run-2-[a-z0-9-]+", section.attrs["id"])


def test_unknown_verdict_and_outcome_values_do_not_shape_the_markup(
    sample: dict[str, Any],
) -> None:
    run = sample["runs"][0]
    run["verdict"]["outcome"] = 'x" onclick="alert(3)'
    run["verdict"]["journeys"]["during"][0]["verdict"] = "<b>odd</b>"
    run["blast_radius"]["places"][0]["cells"][0]["verdict"] = "<b>odd</b>"
    root = _page(sample)
    assert not any(k.startswith("on") for n in root.walk() for k in n.attrs)
    assert root.find_all("b") == []
    section = _runs(root)[0]
    assert "o-border-unknown" in section.classes
    assert _matrix(section)[1]["login"] == ["unknown"]
