"""The journey timelines: one inline SVG per journey, drawn here in Python.

Each plot shares one time axis across two panels: the latency of every call
(log scale, with the SLO line) and the share of answers per time bucket that
were ok, degraded or failed. Fault windows are shaded and labelled in both,
phase boundaries are marked, and every mark has a tooltip.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.report.html.text import esc, fmt_ms
from harness.report.html.view import PHASES, FaultBand

__all__ = ["journey_plots"]

CallKind = Literal["ok", "degraded", "failed"]

# Plot geometry in SVG user units; the SVG scales to the page width.
_W = 960
_ML, _MR = 64, 130  # the right margin holds the SLO label and the bucket legend
_MT = 22  # strip above the plot for the phase names
_H_LAT = 170  # the latency data area, below the fault labels
_GAP = 16
_H_RATE = 64
_MB = 34
_PW = _W - _ML - _MR
#: Upper bound on success-rate bars per plot; longer runs get wider buckets.
_MAX_BUCKETS = 120


@dataclass(frozen=True, slots=True)
class _Call:
    """One point of a journey's time series: ``[at_s, latency_ms, ok, code]``."""

    at_s: float
    latency_ms: float
    ok: bool
    code: str | None

    @property
    def kind(self) -> CallKind:
        # The series carries no "degraded" flag; a success that carries a code is the
        # service's notice of a degraded answer (e.g. CD001), which is what the flag means.
        if not self.ok:
            return "failed"
        return "degraded" if self.code else "ok"


def _calls(points: Iterable[Sequence[Any]]) -> list[_Call]:
    return [
        _Call(float(p[0]), float(p[1]), bool(p[2]), str(p[3]) if p[3] else None) for p in points
    ]


def _x_max(run: Mapping[str, Any], bands: Sequence[FaultBand]) -> float:
    ends = [float(run["windows"][w][1]) for w in ("steady", "fault", "recovery")]
    ends += [b.end_s for b in bands]
    for series in (*run["timeseries"].values(), *run.get("background", {}).values()):
        ends += [float(p[0]) for p in series]
    return float(max(1, math.ceil(max(ends, default=1.0))))


def _nice_step(span: float, target_ticks: int = 10) -> float:
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


# --- the time-series plot -------------------------------------------------------------------

_LINE_H = 13  # height of one fault-label line
_CHAR_W = 6.6  # generous average width of a bold 11px character, to wrap before clipping
_MAX_LABEL_LINES = 3  # per fault
_MAX_STRIP_LINES = 6  # per plot; more overlapping faults spill into the data area


@dataclass(frozen=True, slots=True)
class _Label:
    """A fault's label: its wrapped lines and the first strip line it sits on."""

    band: FaultBand
    lines: tuple[str, ...]
    row: int


def _wrap(text: str, max_chars: int, max_lines: int) -> tuple[str, ...]:
    """Wrap at spaces (fault descriptions break after their commas); ellipsis if cut.

    A word wider than the band (an edge name in a narrow band) is split, not clipped.
    """
    lines = textwrap.wrap(
        text,
        width=max(max_chars, 2),
        break_long_words=True,
        break_on_hyphens=False,
        max_lines=max_lines,
        placeholder="…",
    )
    return tuple(lines) or ("",)


@dataclass(frozen=True, slots=True)
class _Axes:
    """The shared time axis, the latency scale and the vertical layout of one plot.

    From the top: phase names, the fault labels' strip, the latency data area
    (the strip and the data area form the latency panel, shaded for faults),
    a gap, the success-rate panel, the time axis.
    """

    x_max_s: float
    lat_lo_ms: float
    lat_hi_ms: float
    strip_lines: int

    @property
    def lat_top(self) -> float:
        return float(_MT)

    @property
    def lat_data_top(self) -> float:
        # Fault labels get their own strip so they never cover the slowest calls,
        # which sit at the very top of the scale and are the point of the plot.
        return _MT + (self.strip_lines * _LINE_H + 6 if self.strip_lines else 4)

    @property
    def lat_bottom(self) -> float:
        return self.lat_data_top + _H_LAT

    @property
    def rate_top(self) -> float:
        return self.lat_bottom + _GAP

    @property
    def rate_bottom(self) -> float:
        return self.rate_top + _H_RATE

    @property
    def height(self) -> float:
        return self.rate_bottom + _MB

    def x(self, t_s: float) -> float:
        t = min(max(t_s, 0.0), self.x_max_s)
        return _ML + t / self.x_max_s * _PW

    def y_lat(self, ms: float) -> float:
        # Log scale, clamped: a 2 ms call and an 8 s hang must both stay readable.
        v = min(max(ms, self.lat_lo_ms), self.lat_hi_ms)
        lo, hi = math.log10(self.lat_lo_ms), math.log10(self.lat_hi_ms)
        return self.lat_bottom - (math.log10(v) - lo) / (hi - lo) * _H_LAT


def _latency_label(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:g} ms"


def _labels(bands: Sequence[FaultBand], x_max_s: float) -> list[_Label]:
    """Wrap each fault's description to its band; stack the labels of faults that overlap."""
    scale = _PW / x_max_s
    placed: list[_Label] = []
    for band in bands:
        width_px = max(band.end_s - band.start_s, 0.0) * scale - 8
        lines = _wrap(
            f"F{band.number}: {band.description}",
            max(int(width_px / _CHAR_W), 4),
            _MAX_LABEL_LINES,
        )
        row = max(
            (
                p.row + len(p.lines)
                for p in placed
                if p.band.start_s < band.end_s and band.start_s < p.band.end_s
            ),
            default=0,
        )
        placed.append(_Label(band, lines, row))
    return placed


def _axes(
    x_max_s: float, calls: Sequence[_Call], slo_ms: float | None, labels: Sequence[_Label]
) -> _Axes:
    values = [c.latency_ms for c in calls] + ([slo_ms] if slo_ms else [])
    smallest = min(values, default=1.0)
    largest = max(values, default=100.0)
    lo = 0.1 if smallest < 1 else 1.0
    hi = 10 ** math.ceil(math.log10(max(largest, 10 * lo, 10.0)))
    strip = min(max((lb.row + len(lb.lines) for lb in labels), default=0), _MAX_STRIP_LINES)
    return _Axes(x_max_s, lo, float(hi), strip)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _phase_marks(run: Mapping[str, Any], ax: _Axes) -> list[str]:
    out = []
    boundaries: set[float] = set()
    for _, window in PHASES:
        start, end = (float(v) for v in run["windows"][window])
        boundaries.update((start, end))
        if end > start:
            out.append(
                f'<text class="phase-name" x="{_f((ax.x(start) + ax.x(end)) / 2)}" y="14">'
                f"{esc(window)}</text>"
            )
    for t in sorted(boundaries):
        if 0 < t <= ax.x_max_s:
            x = _f(ax.x(t))
            out.append(
                f'<line class="phase" x1="{x}" x2="{x}" y1="{_MT - 4}" y2="{_f(ax.rate_bottom)}">'
                f"<title>phase boundary at {t:g} s</title></line>"
            )
    return out


def _fault_shading(labels: Sequence[_Label], ax: _Axes, clip_prefix: str) -> list[str]:
    out = []
    panels = (
        (ax.lat_top, ax.lat_bottom - ax.lat_top),
        (ax.rate_top, float(_H_RATE)),
    )
    for label in labels:
        band = label.band
        x0, x1 = ax.x(band.start_s), ax.x(band.end_s)
        width = max(x1 - x0, 1.0)
        title = (
            f"<title>F{band.number}: {esc(band.description)}, held {band.start_s:.2f} s to "
            f"{band.end_s:.2f} s</title>"
        )
        for top, height in panels:
            out.append(
                f'<rect class="fault" data-fault="{band.number}" x="{_f(x0)}" y="{_f(top)}" '
                f'width="{_f(width)}" height="{_f(height)}">{title}</rect>'
            )
        # Wrapped to fit, and clipped to the band in case the font runs wider than
        # estimated; the full description is also in the tooltip and the faults table.
        clip_id = f"{clip_prefix}-f{band.number}"
        spans = "".join(
            f'<tspan x="{_f(x0 + 4)}" y="{_f(ax.lat_top + _LINE_H * (label.row + i + 1) - 1)}">'
            f"{esc(line)}</tspan>"
            for i, line in enumerate(label.lines)
        )
        out.append(
            f'<clipPath id="{esc(clip_id)}"><rect x="{_f(x0)}" y="{_f(ax.lat_top)}" '
            f'width="{_f(width)}" height="{_f(ax.lat_bottom - ax.lat_top)}"/></clipPath>'
            f'<text class="fault-label" clip-path="url(#{esc(clip_id)})">{spans}</text>'
        )
    return out


def _latency_panel(calls: Sequence[_Call], ax: _Axes, slo_ms: float | None) -> list[str]:
    out = [
        f'<rect class="frame" x="{_ML}" y="{_f(ax.lat_top)}" width="{_PW}" '
        f'height="{_f(ax.lat_bottom - ax.lat_top)}"/>'
    ]
    decade = ax.lat_lo_ms
    out.append('<g class="axis">')
    while decade <= ax.lat_hi_ms * 1.0001:
        y = _f(ax.y_lat(decade))
        out.append(
            f'<line class="grid" x1="{_ML}" x2="{_ML + _PW}" y1="{y}" y2="{y}"/>'
            f'<text x="{_ML - 6}" y="{y}" dy="4" text-anchor="end">{_latency_label(decade)}</text>'
        )
        decade *= 10
    middle = _f((ax.lat_data_top + ax.lat_bottom) / 2)
    out.append(
        f'<text x="14" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle})">latency (log)</text></g>'
    )
    if slo_ms:
        y = _f(ax.y_lat(slo_ms))
        out.append(
            f'<line class="slo" x1="{_ML}" x2="{_ML + _PW}" y1="{y}" y2="{y}"/>'
            f'<text class="slo-label" x="{_ML + _PW + 6}" y="{y}" dy="4">'
            f"SLO p95 {esc(_latency_label(slo_ms))}</text>"
        )
    if not calls:
        out.append(
            f'<text class="empty" x="{_ML + _PW / 2}" y="{middle}">'
            "no calls recorded for this journey</text>"
        )
    # Failures are drawn last so no cloud of healthy points can hide them.
    order: dict[CallKind, int] = {"ok": 0, "degraded": 1, "failed": 2}
    for call in sorted(calls, key=lambda c: order[c.kind]):
        px, py = ax.x(call.at_s), ax.y_lat(call.latency_ms)
        if call.kind == "ok" and slo_ms and call.latency_ms > slo_ms:
            # A success slower than the SLO is how the cascade looks when nothing errors:
            # users just wait. A handful of such calls must not vanish among hundreds.
            out.append(
                f'<circle class="pt-slow" cx="{_f(px)}" cy="{_f(py)}" r="3.6">'
                f"<title>{call.at_s:.2f} s: ok but slow, {fmt_ms(call.latency_ms)}</title></circle>"
            )
            continue
        if call.kind == "ok":
            out.append(f'<circle class="pt-ok" cx="{_f(px)}" cy="{_f(py)}" r="2.3"/>')
            continue
        tip = (
            f"<title>{call.at_s:.2f} s: {esc(call.kind)}, {fmt_ms(call.latency_ms)}"
            f"{', code ' + esc(call.code) if call.code else ''}</title>"
        )
        if call.kind == "degraded":
            out.append(
                f'<path class="pt-deg" d="M{_f(px)} {_f(py - 4)}l4 4l-4 4l-4 -4z">{tip}</path>'
            )
        else:
            out.append(
                f'<path class="pt-fail" d="M{_f(px - 4)} {_f(py - 4)}l8 8M{_f(px - 4)} {_f(py + 4)}'
                f'l8 -8">{tip}</path>'
            )
    return out


@dataclass(frozen=True, slots=True)
class _Bucket:
    start_s: float
    ok: int
    degraded: int
    failed: int

    @property
    def calls(self) -> int:
        return self.ok + self.degraded + self.failed


def _buckets(calls: Sequence[_Call], x_max_s: float) -> tuple[float, list[_Bucket]]:
    """Calls grouped by the second (or wider bucket) in which they started."""
    size = float(max(1, math.ceil(x_max_s / _MAX_BUCKETS)))
    count = max(1, math.ceil(x_max_s / size))
    tallies = [[0, 0, 0] for _ in range(count)]
    slot = {"ok": 0, "degraded": 1, "failed": 2}
    for call in calls:
        index = min(max(int(call.at_s // size), 0), count - 1)
        tallies[index][slot[call.kind]] += 1
    return size, [_Bucket(i * size, *t) for i, t in enumerate(tallies)]


def _rate_panel(calls: Sequence[_Call], ax: _Axes) -> list[str]:
    top = ax.rate_top
    bottom_edge = ax.rate_bottom
    out = [f'<rect class="frame" x="{_ML}" y="{_f(top)}" width="{_PW}" height="{_H_RATE}"/>']
    out.append('<g class="axis">')
    for share in (0.0, 0.5, 1.0):
        y = _f(top + _H_RATE * (1 - share))
        out.append(
            f'<line class="grid" x1="{_ML}" x2="{_ML + _PW}" y1="{y}" y2="{y}"/>'
            f'<text x="{_ML - 6}" y="{y}" dy="4" text-anchor="end">{share:.0%}</text>'
        )
    size, buckets = _buckets(calls, ax.x_max_s)
    middle = _f(top + _H_RATE / 2)
    out.append(
        f'<text x="14" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle})">success</text>'
        f'<text x="{_ML + _PW + 6}" y="{_f(top + 12)}">answers per</text>'
        f'<text x="{_ML + _PW + 6}" y="{_f(top + 26)}">{size:g} s bucket</text></g>'
    )
    for bucket in buckets:
        x0 = ax.x(bucket.start_s) + 0.5
        width = max(ax.x(bucket.start_s + size) - ax.x(bucket.start_s) - 1, 0.5)
        tip = (
            f"<title>{bucket.start_s:g}-{bucket.start_s + size:g} s: {bucket.calls} calls "
            f"started, {bucket.ok} ok, {bucket.degraded} degraded, {bucket.failed} failed</title>"
        )
        if bucket.calls == 0:
            # A second in which no call even started is news (every user was stuck waiting),
            # so it gets a grey bar instead of silently looking like a gap in the data.
            out.append(
                f'<rect class="b-none" x="{_f(x0)}" y="{_f(top)}" '
                f'width="{_f(width)}" height="{_H_RATE}">{tip}</rect>'
            )
            continue
        out.append(f"<g>{tip}")
        bottom = bottom_edge
        for cls, n in (("b-ok", bucket.ok), ("b-deg", bucket.degraded), ("b-fail", bucket.failed)):
            if n == 0:
                continue
            height = _H_RATE * n / bucket.calls
            bottom -= height
            out.append(
                f'<rect class="{cls}" x="{_f(x0)}" y="{_f(bottom)}" '
                f'width="{_f(width)}" height="{_f(height)}"/>'
            )
        out.append("</g>")
    return out


def _time_axis(ax: _Axes) -> list[str]:
    bottom = ax.rate_bottom
    step = _nice_step(ax.x_max_s)
    out = ['<g class="axis">']
    t = 0.0
    while t <= ax.x_max_s + 1e-9:
        x = _f(ax.x(t))
        out.append(
            f'<line class="grid" x1="{x}" x2="{x}" y1="{_f(bottom)}" y2="{_f(bottom + 4)}"/>'
            f'<text x="{x}" y="{_f(bottom + 16)}" text-anchor="middle">{t:g}</text>'
        )
        t += step
    out.append(
        f'<text x="{_ML + _PW / 2}" y="{_f(bottom + 30)}" text-anchor="middle">'
        "seconds since the run started (each call at its start time)</text></g>"
    )
    return out


def _journey_svg(
    run: Mapping[str, Any],
    *,
    journey: str,
    calls: Sequence[_Call],
    slo_ms: float | None,
    bands: Sequence[FaultBand],
    x_max_s: float,
    id_prefix: str,
) -> str:
    labels = _labels(bands, x_max_s)
    ax = _axes(x_max_s, calls, slo_ms, labels)
    height = _f(ax.height)
    parts = [
        f'<svg class="plot" data-journey="{esc(journey)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" role="img" '
        f'aria-label="{esc(f"latency and success over time of {journey}")}">',
        f"<title>{esc(journey)}: latency of each call and success per time bucket</title>",
        *_fault_shading(labels, ax, id_prefix),
        *_latency_panel(calls, ax, slo_ms),
        *_rate_panel(calls, ax),
        *_time_axis(ax),
        *_phase_marks(run, ax),
        "</svg>",
    ]
    return "\n".join(parts)


#: Classes of the marks the plots draw, each explained by one legend entry.
LEGEND_MARKS = (
    "pt-ok",
    "pt-slow",
    "pt-deg",
    "pt-fail",
    "fault",
    "phase",
    "slo",
    "b-ok b-deg b-fail",
    "b-none",
)


def _legend() -> str:
    def swatch(shape: str) -> str:
        return f'<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">{shape}</svg>'

    explained = [
        (swatch('<circle cx="7" cy="7" r="3" fill="#2f6fb0"/>'), "call answered"),
        (
            swatch('<circle cx="7" cy="7" r="4" fill="#2f6fb0" stroke="#0a3069"/>'),
            "answered, slower than the SLO",
        ),
        (swatch('<path d="M7 2l5 5l-5 5l-5 -5z" fill="#b35900"/>'), "answered degraded (code)"),
        (
            swatch('<path d="M3 3l8 8M3 11l8 -8" stroke="#cf222e" stroke-width="2"/>'),
            "call failed",
        ),
        (
            swatch(
                '<rect x="1" y="1" width="12" height="12" fill="#cf222e" fill-opacity=".15" '
                'stroke="#cf222e" stroke-dasharray="3 2"/>'
            ),
            "fault held (F1, F2, ...)",
        ),
        (
            swatch('<line x1="7" y1="0" x2="7" y2="14" stroke="#57606a" stroke-dasharray="3 2"/>'),
            "phase boundary",
        ),
        (
            swatch('<line x1="0" y1="7" x2="14" y2="7" stroke="#9a6700" stroke-dasharray="4 2"/>'),
            "latency SLO (p95)",
        ),
        (
            swatch(
                '<rect x="2" y="1" width="10" height="4" fill="#cf222e"/>'
                '<rect x="2" y="5" width="10" height="3" fill="#b35900"/>'
                '<rect x="2" y="8" width="10" height="5" fill="#1a7f37"/>'
            ),
            "calls started in a bucket: failed / degraded / ok",
        ),
        (
            swatch('<rect x="2" y="1" width="10" height="12" fill="#8c959f" fill-opacity=".28"/>'),
            "no call started in that bucket",
        ),
    ]
    items = zip(LEGEND_MARKS, explained, strict=True)
    return (
        '<div class="legend">'
        + "".join(f'<span data-marks="{m}">{s}{t}</span>' for m, (s, t) in items)
        + "</div>"
    )


def journey_plots(
    run: Mapping[str, Any], journeys: Sequence[str], bands: Sequence[FaultBand], prefix: str
) -> str:
    """The legend and one timeline per journey, then one per background load.

    ``prefix`` keeps the SVG ids (clip paths) unique across the runs on one page.
    """
    x_max = _x_max(run, bands)
    slos = {
        j["journey"]: float(j["slo"]["p95_ms"])
        for phase, _ in PHASES
        for j in run["verdict"]["journeys"].get(phase, [])
        if j.get("slo")
    }
    figures = []
    groups = [(journeys, run["timeseries"], "")]
    if run.get("background"):
        groups.append((list(run["background"]), run["background"], " (background load)"))
    number = 0
    for names, source, suffix in groups:
        for name in names:
            number += 1
            calls = _calls(source.get(name, []))
            failed = sum(1 for c in calls if c.kind == "failed")
            degraded = sum(1 for c in calls if c.kind == "degraded")
            figures.append(
                f'<figure class="journey-plot" data-journey="{esc(name)}">'
                f"<figcaption>{esc(name)}{esc(suffix)} <span class=muted>· {len(calls)} calls, "
                f"{degraded} degraded, {failed} failed</span></figcaption>"
                + _journey_svg(
                    run,
                    journey=name,
                    calls=calls,
                    slo_ms=slos.get(name),
                    bands=bands,
                    x_max_s=x_max,
                    id_prefix=f"{prefix}-p{number}",
                )
                + "</figure>"
            )
    return _legend() + "".join(figures)
