"""Floods in the HTML report: what was offered, what was admitted, refused and lost, per second.

One inline SVG per flood (drawn here, like the journey timelines): bars per
second stacked by outcome (ok, told to wait, failed), with the offered
arrivals and the attempts sent (retries included) as lines over them, so
retry amplification shows as the gap between the two lines; below, the
per-second p99 latency and the engine's own lag (log scale) against the SLO.
The trigger's end is marked. A table gives the totals, attempts per action,
the time to recover and the time to drain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.html.text import esc, fmt_ms

__all__ = ["flood_section"]

_W, _ML, _MR, _MT = 960, 64, 150, 14
_H_RATE, _GAP, _H_LAT, _MB = 170, 18, 90, 34
_PW = _W - _ML - _MR


def _f(value: float) -> str:
    return f"{value:.1f}"


def _svg(flood: Mapping[str, Any]) -> str:
    result = flood["result"]
    series: Sequence[Mapping[str, Any]] = result["series"]
    if not series:
        return '<p class="note">The engine reported no second.</p>'
    seconds = int(max(s["t_s"] for s in series)) + 1
    peak: int = max(
        max(s["intended"], s["sent"] + s["retries_sent"], s["completed"], 1) for s in series
    )
    step = float(_PW) / seconds
    rate_bottom = _MT + _H_RATE
    lat_top = rate_bottom + _GAP
    lat_bottom = lat_top + _H_LAT
    height = lat_bottom + _MB

    def x(t: float) -> float:
        return _ML + t * step

    def y_rate(n: float) -> float:
        return rate_bottom - _H_RATE * n / peak

    slo = float(flood.get("slo_p95_ms") or 0) or None
    lat_max = max([1.0, *(s["latency_p99_ms"] for s in series), *(s["lag_p99_ms"] for s in series)])
    lat_max = max(lat_max, slo or 1.0)
    top_log = math.log10(lat_max * 1.5)

    def y_lat(ms: float) -> float:
        value = math.log10(max(ms, 1.0))
        return lat_bottom - _H_LAT * min(1.0, value / top_log)

    out = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_f(height)}" '
        f'width="{_W}" height="{_f(height)}" role="img" '
        'aria-label="flood: offered, admitted, told to wait and failed per second">',
        "<title>flood: outcomes per second, offered and attempted load, latency and lag</title>",
        f'<rect class="frame" x="{_ML}" y="{_MT}" width="{_PW}" height="{_H_RATE}"/>',
        f'<rect class="frame" x="{_ML}" y="{_f(lat_top)}" width="{_PW}" height="{_H_LAT}"/>',
        '<g class="axis">',
        f'<text x="{_ML - 6}" y="{_f(_MT + 4)}" dy="4" text-anchor="end">{peak}/s</text>',
        f'<text x="{_ML - 6}" y="{_f(rate_bottom)}" text-anchor="end">0</text>',
        f'<text x="{_ML - 6}" y="{_f(lat_top + 8)}" text-anchor="end">'
        f"{fmt_ms(lat_max * 1.5)}</text>",
        f'<text x="{_ML - 6}" y="{_f(lat_bottom)}" text-anchor="end">1 ms</text>',
    ]
    for t in range(0, seconds + 1, max(1, seconds // 12)):
        out.append(
            f'<text x="{_f(x(t))}" y="{_f(lat_bottom + 16)}" text-anchor="middle">{t}</text>'
        )
    out.append(
        f'<text x="{_ML + _PW / 2}" y="{_f(lat_bottom + 30)}" text-anchor="middle">'
        "seconds since the flood started</text></g>"
    )
    for s in series:
        x0, width = x(s["t_s"]) + 0.5, max(step - 1, 0.5)
        tip = (
            f"<title>second {s['t_s']}: offered {s['intended']}, sent {s['sent']} + "
            f"{s['retries_sent']} retries; ok {s['ok']}, told to wait {s['rejected']}, "
            f"failed {s['errors']}; in flight {s['in_flight']}; p99 "
            f"{fmt_ms(s['latency_p99_ms'])}, engine lag p99 {fmt_ms(s['lag_p99_ms'])}</title>"
        )
        out.append(f"<g>{tip}")
        bottom = rate_bottom
        for cls, n in (("b-ok", s["ok"]), ("b-deg", s["rejected"]), ("b-fail", s["errors"])):
            if n:
                h = _H_RATE * n / peak
                bottom -= h
                out.append(
                    f'<rect class="{cls}" x="{_f(x0)}" y="{_f(bottom)}" '
                    f'width="{_f(width)}" height="{_f(h)}"/>'
                )
        out.append("</g>")

    def line(values: Sequence[float], y: Any, colour: str, dash: str = "") -> str:
        points = " ".join(
            f"{_f(x(s['t_s'] + 0.5))},{_f(y(v))}" for s, v in zip(series, values, strict=True)
        )
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return (
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{extra}/>'
        )

    out.append(line([s["intended"] for s in series], y_rate, "#1f4e79"))
    out.append(line([s["sent"] + s["retries_sent"] for s in series], y_rate, "#b03a2e", "6 3"))
    out.append(line([s["latency_p99_ms"] or 1 for s in series], y_lat, "#6c3483"))
    out.append(line([s["lag_p99_ms"] or 1 for s in series], y_lat, "#7f8c8d", "3 3"))
    if slo:
        y = _f(y_lat(slo))
        out.append(
            f'<line x1="{_ML}" x2="{_ML + _PW}" y1="{y}" y2="{y}" stroke="#c0392b" '
            f'stroke-dasharray="2 4"/><text x="{_ML + _PW + 6}" y="{y}" dy="4">SLO '
            f"{fmt_ms(slo)}</text>"
        )
    trigger = float(flood.get("hold_s") or 0)
    xt = _f(x(trigger))
    out.append(
        f'<line x1="{xt}" x2="{xt}" y1="{_MT}" y2="{_f(lat_bottom)}" stroke="#333" '
        f'stroke-dasharray="4 2"/><text x="{xt}" y="{_MT - 3}" text-anchor="middle">'
        "trigger ends</text>"
    )
    legend = [
        ("#1f4e79", "offered"),
        ("#b03a2e", "attempts sent"),
        ("#6c3483", "p99 latency"),
        ("#7f8c8d", "engine lag p99"),
    ]
    for i, (colour, label) in enumerate(legend):
        ly = _MT + 14 + 16 * i
        out.append(
            f'<line x1="{_ML + _PW + 6}" x2="{_ML + _PW + 22}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"/><text x="{_ML + _PW + 26}" y="{ly}" dy="4">'
            f"{label}</text>"
        )
    for i, (cls, label) in enumerate(
        (("b-ok", "ok"), ("b-deg", "told to wait"), ("b-fail", "failed"))
    ):
        ly = _MT + 86 + 16 * i
        out.append(
            f'<rect class="{cls}" x="{_ML + _PW + 6}" y="{ly - 5}" width="16" height="10"/>'
            f'<text x="{_ML + _PW + 26}" y="{ly}" dy="4">{label}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _table(flood: Mapping[str, Any]) -> str:
    r = flood["result"]
    recovery = flood.get("recovery_s")
    drained = flood.get("drained_s")
    rows = [
        ("schedule", f"{flood['hold_s']:g} s trigger, then {flood['tail_s']:g} s at the base rate"),
        (
            "offered / achieved",
            f"{r['offered_rate_per_s']:.1f}/s / {r['achieved_rate_per_s']:.1f}/s",
        ),
        ("actions", f"{r['actions']} of {r['intended']} intended (dropped {r['dropped']})"),
        ("attempts per action", f"{r['attempts_per_action']:.2f} ({r['attempts']} attempts)"),
        (
            "ok / told to wait / failed",
            f"{r['ok']} / {r['rejected']} / {r['errors']} (timeouts {r['timeouts']})",
        ),
        (
            "ok latency p50 / p99",
            f"{fmt_ms(r['ok_latency']['p50_ms'])} / {fmt_ms(r['ok_latency']['p99_ms'])}",
        ),
        (
            "engine lag p99 (bound)",
            f"{fmt_ms(r['lag']['p99_ms'])} ({fmt_ms(r['lag_bound_p99_ms'])})",
        ),
        (
            "time to recover after the trigger",
            "never, within the tail" if recovery is None else f"{recovery:g} s",
        ),
        (
            "every journey within its SLO again",
            "not within 120 s" if drained is None else f"{drained:g} s after the run",
        ),
        (
            "calls per edge per flood attempt",
            ", ".join(f"{e} {n:g}" for e, n in (flood.get("calls_per_ingress") or {}).items())
            or "no edge calls counted (none crossed, or the system does not count them)",
        ),
        ("engine run", "valid" if r["valid"] else f"INVALID: {r['invalid_reason']}"),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def flood_section(run: Mapping[str, Any]) -> str:
    """The run's floods (empty when it had none)."""
    floods = list(run.get("floods") or ())
    if not floods:
        return ""
    parts = ["<h3>Load</h3>"]
    for flood in floods:
        parts.append(f'<p class="note">{esc(flood["fault"])}</p>')
        if not flood.get("result"):
            parts.append(f"<p>The flood did not run: {esc(flood.get('error') or 'no result')}</p>")
            continue
        parts.append(_svg(flood))
        parts.append(_table(flood))
    return "".join(parts)
