"""The page's tables: checks, blast radius, faults, statistics, codes and invariants.

Each shows what the run's data says and nothing it does not: the blast radius,
for one, is read from ``run["blast_radius"]``, judged when the data was built
(:mod:`harness.report.blast`), never here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.report.html.text import OUTCOMES, VERDICTS, css_token, esc, fmt_ms, fmt_pct
from harness.report.html.view import PHASES, FaultBand

__all__ = [
    "blast_radius_table",
    "checks_table",
    "codes_table",
    "deaths_table",
    "faults_table",
    "html_table",
    "invariants_table",
    "outcome_badge",
    "stats_table",
    "verdict_badge",
]


def verdict_badge(verdict: object, label: object = None, took_ms: object = None) -> str:
    """A journey verdict as a coloured badge; ``label`` (failed-fast, failed-slow) and
    ``took_ms`` (how long a failure took) say how a failure failed."""
    token = css_token(verdict, VERDICTS)
    text = str(label or verdict).replace("_", " ")
    if isinstance(took_ms, int | float):
        text += f" ({fmt_ms(float(took_ms))})"
    return f'<span class="badge v-{token}">{esc(text)}</span>'


def outcome_badge(outcome: object, big: bool = False) -> str:
    """A run's outcome (pass, fail, inconclusive) as a coloured badge."""
    token = css_token(outcome, OUTCOMES)
    size = " big" if big else ""
    return f'<span class="badge{size} o-{token}">{esc(str(outcome).upper())}</span>'


def html_table(head: Sequence[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    """A table; ``head`` holds (label, numeric) pairs, rows are ready ``<tr>`` markup."""
    ths = "".join(f"<th{' class=num' if num else ''}>{esc(label)}</th>" for label, num in head)
    class_attr = f' class="{cls}"' if cls else ""
    return f"<table{class_attr}><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def deaths_table(run: Mapping[str, Any]) -> str:
    """Services that died with no fault of the run to explain them: when, how, their logs.

    Empty when none did (the section is shown only for a run that has one).
    """
    deaths = run.get("service_deaths") or []
    if not deaths:
        return ""
    rows = [
        f"<tr><td class=place>{esc(d['service'])}</td><td class=num>{float(d['at_s']):.1f} s"
        f"{'' if d.get('exited_known') else ' (found dead)'}</td><td>{esc(d['exit_status'])}</td>"
        f'<td><pre class="mono">{esc(chr(10).join(d["log_tail"]))}</pre></td></tr>'
        for d in deaths
    ]
    return (
        "<h3>Services that died</h3>"
        '<p class="note">No fault of the run explains these deaths, so the run is '
        "inconclusive; Domino started each service again once the faults were removed.</p>"
        + html_table(
            (("service", False), ("when", True), ("exit status", False), ("last log lines", False)),
            rows,
        )
    )


def checks_table(verdict: Mapping[str, Any]) -> str:
    """Every check of the verdict: expected against measured, and whether it passed."""
    if not verdict["checks"]:
        return '<p class="note">This run has no checks.</p>'
    rows = []
    for check in verdict["checks"]:
        passed = bool(check["passed"])
        mark = (
            '<span class="badge c-pass">✓ pass</span>'
            if passed
            else ('<span class="badge c-fail">✗ fail</span>')
        )
        rows.append(
            f'<tr class="check-{"pass" if passed else "fail"}"><td>{esc(check["name"])}</td>'
            f"<td>{esc(check['expected'])}</td><td>{esc(check['measured'])}</td><td>{mark}</td></tr>"
        )
    return html_table(
        (("check", False), ("expected", False), ("measured", False), ("result", False)),
        rows,
        "verdict",
    )


def blast_radius_table(blast: Mapping[str, Any] | None) -> str:
    """The journey x faulted-place matrix, exactly as the run's ``blast_radius`` data has it."""
    if blast is None:
        # Report data written before the blast radius was part of it; judging it here
        # instead would make the page say something report.json does not.
        return '<p class="note">This report\'s data holds no blast radius.</p>'
    places = blast["places"]
    if not places:
        return '<p class="note">No fault was injected in this run.</p>'
    head = "".join(
        f"<th>{esc(place['target'])}<br><small class=muted>"
        f"{esc(', '.join(str(k) for k in place['kinds']))}"
        f"{'' if place['touched'] else ' · never touched traffic'}</small></th>"
        for place in places
    )
    by_place = [{c["journey"]: c for c in place["cells"]} for place in places]
    rows = []
    for journey in blast["journeys"]:
        cells = []
        for by_journey in by_place:
            cell = by_journey.get(journey, {"verdict": "no_data", "detail": "not in the data"})
            verdict, detail = str(cell["verdict"]), str(cell["detail"])
            token = css_token(verdict, VERDICTS)
            how = cell.get("failure")
            label = f"failed-{how}" if verdict == "failed" and how else verdict
            took = cell.get("failure_ms")
            if isinstance(took, int | float):
                label += f" ({fmt_ms(float(took))})"
            # The cell shows the measured numbers; the why after them is in the tooltip.
            summary = detail.split(";", maxsplit=1)[0]
            cells.append(
                f'<td class="cell v-{token}" title="{esc(detail)}">'
                f"{esc(label.replace('_', ' '))}<small>{esc(summary)}</small></td>"
            )
        rows.append(f"<tr><th>{esc(journey)}</th>{''.join(cells)}</tr>")
    note = (
        "With several faulted places, each cell judges the calls that started while that place "
        "was faulted, by the same rules as the verdict; faults that overlap in time share calls."
        if blast["basis"] == "place_windows"
        else "Each cell is the journey's verdict for the fault phase."
    )
    return (
        f'<table class="blast"><thead><tr><th>journey \\ faulted place</th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table><p class="note">{esc(note)}</p>'
    )


def faults_table(bands: Sequence[FaultBand], run: Mapping[str, Any]) -> str:
    """The faults as held: where, from when to when, and whether traffic met them."""
    if not bands:
        return '<p class="note">No fault was injected in this run.</p>'
    rows = []
    for band, fault in zip(bands, run["faults"], strict=True):
        touched = (
            "yes"
            if band.touched
            else '<strong style="color:var(--bad)">never touched traffic</strong>'
        )
        rows.append(
            f'<tr><td>F{band.number}</td><td class="mono">{esc(band.description)}</td>'
            f"<td class=place>{esc(band.target)}</td><td class=num>{band.start_s:.2f} s</td>"
            f"<td class=num>{band.end_s:.2f} s</td><td>{touched}</td>"
            f"<td>{esc(fault.get('evidence', ''))}</td></tr>"
        )
    return html_table(
        (
            ("", False),
            ("fault", False),
            ("place", False),
            ("applied", True),
            ("removed", True),
            ("touched traffic", False),
            ("evidence", False),
        ),
        rows,
    )


def _why(judged: Mapping[str, Any]) -> str:
    """The part of a journey's reason that the numbers beside it do not already say."""
    reason = str(judged["reason"])
    if "; " in reason:
        return reason.split("; ", 1)[1]
    return "meets its SLO" if judged["verdict"] == "healthy" else reason


def stats_table(verdict: Mapping[str, Any], journeys: Sequence[str]) -> str:
    """Each journey's statistics and verdict per phase, against its SLO."""
    by_journey: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for phase, label in PHASES:
        for j in verdict["journeys"].get(phase, []):
            by_journey.setdefault(j["journey"], []).append((label, j))
    rows = []
    for journey in journeys:
        entries = by_journey.get(journey, [])
        for index, (label, j) in enumerate(entries):
            name = f'<th rowspan="{len(entries)}">{esc(journey)}</th>' if index == 0 else ""
            slo = j.get("slo", {})
            start, end = j.get("window_s", ["?", "?"])
            rows.append(
                f"<tr>{name}<td class=phase>{esc(label)} "
                f"<small class=muted>{esc(start)}-{esc(end)} s</small></td>"
                f"<td class=num>{int(j['calls'])}</td>"
                f"<td class=num>{fmt_pct(float(j['success_rate'])) if j['calls'] else '-'}</td>"
                f"<td class=num>{int(j.get('degraded', 0))}</td>"
                + "".join(
                    f"<td class=num>{fmt_ms(float(j[k])) if j['calls'] else '-'}</td>"
                    for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")
                )
                + f"<td class=num>{esc(fmt_ms(float(slo.get('p95_ms', 0))))} / "
                f"{esc(fmt_pct(float(slo.get('success_rate', 0))))}</td>"
                f"<td>{verdict_badge(j['verdict'], j.get('label'), j.get('failure_ms'))}</td>"
                f'<td title="{esc(j["reason"])}">{esc(_why(j))}</td></tr>'
            )
    if not rows:
        return '<p class="note">No journey was judged in this run.</p>'
    return html_table(
        (
            ("journey", False),
            ("phase", False),
            ("calls", True),
            ("success", True),
            ("degraded", True),
            ("p50", True),
            ("p95", True),
            ("p99", True),
            ("max", True),
            ("SLO p95 / success", True),
            ("verdict", False),
            ("why", False),
        ),
        rows,
        "stats",
    )


def codes_table(run: Mapping[str, Any]) -> str:
    """The error codes seen: per journey, where each started, how often, what it means."""
    if not run["codes"]:
        return '<p class="note">No error code was seen: every answer was a plain success.</p>'
    rows = []
    for c in run["codes"]:
        meaning = c.get("meaning") or "not in the system's error-code table"
        rows.append(
            f"<tr><td class=mono>{esc(c['code'])}</td><td>{esc(c['journey'])}</td>"
            f"<td>{esc(c['origin'])}</td><td class=num>{int(c['count'])}</td>"
            f"<td>{esc(meaning)}</td></tr>"
        )
    return html_table(
        (
            ("code", False),
            ("journey", False),
            ("where it started (cause)", False),
            ("count", True),
            ("what the code means", False),
        ),
        rows,
        "codes",
    ) + (
        '<p class="note">"none given" means the answer carried no cause chain, so nothing '
        "names the place that failed.</p>"
    )


def invariants_table(run: Mapping[str, Any]) -> str:
    """The run's invariants, then the services' own self-checks after the run."""
    rows = []
    for inv in run["verdict"]["invariants"]:
        holds = bool(inv["holds"])
        badge = (
            '<span class="badge c-pass">holds</span>'
            if holds
            else '<span class="badge c-fail">broken</span>'
        )
        rows.append(
            f"<tr><td>{esc(inv['name'])}</td><td>{badge}</td><td>{esc(inv['detail'])}</td></tr>"
        )
    out = (
        html_table((("invariant", False), ("state", False), ("detail", False)), rows, "invariants")
        if rows
        else '<p class="note">No invariant was measured.</p>'
    )
    services = run.get("service_invariants") or {}
    if services:
        srows = []
        for name, report in services.items():
            if not isinstance(report, Mapping):
                continue
            if "error" in report and "ok" not in report:
                state, detail = "unknown", f"self-check unreadable: {report['error']}"
            else:
                state = "ok" if report.get("ok") else "violated"
                detail = "; ".join(str(v) for v in report.get("violations", [])) or "none"
            badge_cls = {"ok": "c-pass", "violated": "c-fail"}.get(state, "v-unknown")
            srows.append(
                f"<tr><td>{esc(name)}</td><td><span class='badge {badge_cls}'>{esc(state)}</span>"
                f"</td><td>{esc(detail)}</td></tr>"
            )
        out += "<h4>Service self-checks after the run</h4>" + html_table(
            (("service", False), ("state", False), ("violations", False)), srows
        )
    return out
