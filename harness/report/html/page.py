"""The page: the document, its header and summary of runs, and one section per run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.report.html.load import flood_section
from harness.report.html.plots import journey_plots
from harness.report.html.style import CSS
from harness.report.html.tables import (
    blast_radius_table,
    checks_table,
    codes_table,
    deaths_table,
    faults_table,
    html_table,
    invariants_table,
    outcome_badge,
    stats_table,
)
from harness.report.html.text import OUTCOMES, css_token, esc, fmt_s
from harness.report.html.view import fault_bands, journey_names

__all__ = ["render_html"]


def _anchor(index: int, run: Mapping[str, Any]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{run['incident']['id']}-{run['profile']}".lower())
    return f"run-{index}-{slug.strip('-')}"


def _source(source: object) -> str:
    text = str(source)
    if re.match(r"https?://", text):
        return f'<a href="{esc(text)}" rel="noreferrer">{esc(text)}</a>'
    return esc(text)


def _run_header(run: Mapping[str, Any], index: int) -> str:
    incident = run["incident"]
    verdict = run["verdict"]
    outcome = verdict["outcome"]
    sources = incident.get("sources") or []
    meta = [
        ("incident", f"<code>{esc(incident['id'])}</code>"),
        ("date", esc(incident.get("date") or "unknown")),
        ("sources", "; ".join(_source(s) for s in sources) or "none given"),
        ("profile", f"<strong>{esc(run['profile'])}</strong>"),
        ("backend", esc(run["backend"])),
        ("Toxiproxy", esc(run["toxiproxy_version"])),
        ("started", esc(run.get("started_at", ""))),
        (
            "duration",
            f"{fmt_s(float(run['duration_s']))} (floor {fmt_s(float(run['floor_s']))}, "
            f"overhead {fmt_s(float(run['overhead_s']))})",
        ),
    ]
    if incident.get("path"):
        meta.append(("incident file", f"<code>{esc(incident['path'])}</code>"))
    reasons = ""
    if outcome != "pass":
        token = css_token(outcome, OUTCOMES)
        items = (
            "".join(f"<li>{esc(r)}</li>" for r in verdict["reasons"]) or "<li>no reason given</li>"
        )
        why = "Why it is inconclusive" if outcome == "inconclusive" else "Why it failed"
        reasons = f'<div class="reasons o-{token}"><strong>{why}</strong><ul>{items}</ul></div>'
    return (
        f'<div class="run-head"><h2>{index}. {esc(incident["id"])} · {esc(run["profile"])}</h2>'
        f"{outcome_badge(outcome, big=True)}</div>"
        f'<p class="incident-title">{esc(incident["title"])}</p>'
        '<dl class="meta">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in meta)
        + "</dl>"
        + (
            f'<p class="summary-text">{esc(incident["summary"])}</p>'
            if incident.get("summary")
            else ""
        )
        + reasons
    )


def _run_section(run: Mapping[str, Any], index: int) -> str:
    anchor = _anchor(index, run)
    bands = fault_bands(run)
    journeys = journey_names(run)
    outcome = css_token(run["verdict"]["outcome"], OUTCOMES)
    return (
        f'<section class="run o-border-{outcome}" id="{esc(anchor)}">'
        + _run_header(run, index)
        + "<h3>Verdict</h3>"
        + checks_table(run["verdict"])
        + deaths_table(run)
        + "<h3>Blast radius</h3>"
        + '<p class="note">How far the failure spread: each journey\'s verdict while each '
        "place was faulted.</p>"
        + blast_radius_table(run.get("blast_radius"))
        + "<h3>Faults</h3>"
        + faults_table(bands, run)
        + "<h3>Journeys over time</h3>"
        + journey_plots(run, journeys, bands, anchor)
        + flood_section(run)
        + "<h3>Journey statistics per phase</h3>"
        + stats_table(run["verdict"], journeys)
        + "<h3>Error codes seen</h3>"
        + codes_table(run)
        + "<h3>Invariants</h3>"
        + invariants_table(run)
        + "</section>"
    )


def _summary(data: Mapping[str, Any]) -> str:
    rows = []
    for index, run in enumerate(data["runs"], start=1):
        verdict = run["verdict"]
        checks = verdict["checks"]
        passed = sum(1 for c in checks if c["passed"])
        first_reason = verdict["reasons"][0] if verdict["reasons"] else ""
        more = len(verdict["reasons"]) - 1
        reason = esc(first_reason) + (
            f" <span class=muted>(+{more} more)</span>" if more > 0 else ""
        )
        rows.append(
            f'<tr><td><a href="#{esc(_anchor(index, run))}">{index}. '
            f"{esc(run['incident']['id'])}</a></td><td>{esc(run['incident']['title'])}</td>"
            f"<td>{esc(run['profile'])}</td><td>{esc(run['backend'])}</td>"
            f"<td>{outcome_badge(verdict['outcome'])}</td>"
            f"<td class=num>{passed}/{len(checks)}</td><td>{reason}</td></tr>"
        )
    if not rows:
        return '<p class="note">This report holds no run.</p>'
    return html_table(
        (
            ("run", False),
            ("incident", False),
            ("profile", False),
            ("backend", False),
            ("outcome", False),
            ("checks passed", True),
            ("why", False),
        ),
        rows,
        "summary",
    )


def render_html(data: dict[str, Any]) -> str:
    """Render the report data as one self-contained HTML page.

    ``data`` is what :func:`harness.report.data.report_data` returns. The page
    loads nothing from anywhere (inline CSS, inline SVG, no script), so it can
    be opened offline from a CI artifact or printed.
    """
    overall = data.get("outcome", "inconclusive")
    runs = data.get("runs", [])
    body = "".join(_run_section(run, i) for i, run in enumerate(runs, start=1))
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing may be fetched or run: the page is self-contained by construction, and
        # should escaping ever miss, injected markup still cannot load or execute anything.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>Domino report: {esc(str(overall).upper())}</title>"
        f"<style>{CSS}</style></head><body>"
        '<header><h1>Domino report</h1><p class="muted">'
        f"Overall {outcome_badge(overall, big=True)} &nbsp; {len(runs)} run(s), generated "
        f"{esc(data.get('generated_at', 'at an unknown time'))}, report format "
        f"{esc(data.get('format', '?'))}</p></header>"
        '<section id="summary"><h3>Runs</h3>'
        + _summary(data)
        + "</section>"
        + body
        + "<footer>Generated by Domino. Self-contained: this page loads nothing from the "
        "network.</footer></body></html>\n"
    )
