"""The HTML report: one self-contained page for a set of runs.

The page is rendered from the report data (:func:`harness.report.data.report_data`)
and nothing else, so it says what ``report.json`` says. It is meant to be
opened from a CI artifact on a machine with no network, or printed, so it
loads nothing: the CSS is inline, the plots are SVG drawn here in Python, there
is no script at all, and a Content-Security-Policy forbids fetching anything.

Per run (incident x profile) it shows the incident and the outcome, the
verdict table, the blast-radius matrix, the faults, one timeline per journey
(latency of every call and the success rate per time bucket, fault windows
shaded, phase boundaries marked), the statistics per phase, the error codes
with where they started, and the invariants.

Every string that comes from the data is escaped, attributes included: an
incident file is user input and the page must never run what it contains.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.journeys import Observation, Slo
from harness.verdict import judge_journey, window_stats

__all__ = ["render_html"]

CallKind = Literal["ok", "degraded", "failed"]

_PHASES = (("steady", "steady"), ("during", "fault"), ("recovery", "recovery"))
_OUTCOMES = frozenset({"pass", "fail", "inconclusive"})
_VERDICTS = frozenset({"healthy", "degraded", "failed", "no_data"})

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

_CSS = """
:root { --ok:#1a7f37; --deg:#b35900; --bad:#cf222e; --inc:#8250df; --mute:#57606a;
  --line:#d0d7de; --bg-soft:#f6f8fa; --call:#2f6fb0; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:#1f2328;
  margin: 0 auto; padding: 24px 32px 48px; max-width: 1180px; background:#fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0; }
h3 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h4 { font-size: 14px; margin: 18px 0 4px; }
a { color: #0969da; }
.muted, .note { color: var(--mute); }
.note { font-size: 12.5px; margin: 6px 0; }
table { border-collapse: collapse; margin: 6px 0 4px; width: 100%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg-soft); font-weight: 600; }
td.phase, td.place, table.summary td:first-child { white-space: nowrap; }
table.stats td:last-child { min-width: 9em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 700;
  font-size: 12px; letter-spacing: .03em; color: #fff; background: var(--mute);
  white-space: nowrap; }
.badge.big { font-size: 15px; padding: 3px 12px; }
.o-pass, .c-pass, .v-healthy { background: var(--ok); }
.o-fail, .c-fail, .v-failed { background: var(--bad); }
.o-inconclusive { background: var(--inc); }
.v-degraded { background: var(--deg); }
.v-no_data, .v-unknown { background: #8c959f; }
.run { border-top: 3px solid var(--line); margin-top: 36px; padding-top: 18px; }
.run.o-border-pass { border-top-color: var(--ok); }
.run.o-border-fail { border-top-color: var(--bad); }
.run.o-border-inconclusive { border-top-color: var(--inc); }
.run-head { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.incident-title { font-size: 16px; margin: 4px 0 8px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.meta dt { color: var(--mute); }
dl.meta dd { margin: 0; }
.summary-text { background: var(--bg-soft); border-left: 4px solid var(--line); padding: 8px 12px;
  margin: 8px 0; }
.reasons { border: 1px solid; border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
.reasons.o-fail { border-color: var(--bad); background: #ffebe9; }
.reasons.o-inconclusive { border-color: var(--inc); background: #fbefff; }
.reasons ul { margin: 4px 0 0; padding-left: 20px; }
tr.check-fail td { background: #fff5f5; }
td.cell { text-align: center; font-weight: 700; color: #fff; }
td.cell small { display: block; font-weight: 400; font-size: 11.5px; }
td.cell.v-healthy { background: var(--ok); } td.cell.v-degraded { background: var(--deg); }
td.cell.v-failed { background: var(--bad); } td.cell.v-no_data { background: #8c959f; }
figure { margin: 10px 0 18px; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg.plot { width: 100%; height: auto; display: block; }
svg.plot text { font: 11px system-ui, sans-serif; fill: #1f2328; }
svg.plot .axis text { fill: var(--mute); }
svg.plot .grid { stroke: #eaeef2; stroke-width: 1; }
svg.plot .frame { fill: none; stroke: #afb8c1; stroke-width: 1; }
svg.plot .fault { fill: #cf222e; fill-opacity: .11; stroke: #cf222e; stroke-opacity: .45;
  stroke-dasharray: 3 2; }
svg.plot .fault-label { fill: #a40e26; font-weight: 600; }
svg.plot .phase { stroke: #57606a; stroke-width: 1.2; stroke-dasharray: 5 3; }
svg.plot .phase-name { fill: var(--mute); font-weight: 600; text-anchor: middle; }
svg.plot .slo { stroke: #9a6700; stroke-width: 1.2; stroke-dasharray: 6 3; }
svg.plot .slo-label { fill: #9a6700; }
svg.plot .pt-ok { fill: var(--call); fill-opacity: .55; }
svg.plot .pt-slow { fill: var(--call); stroke: #0a3069; stroke-width: 1.4; }
svg.plot .pt-deg { fill: var(--deg); }
svg.plot .pt-fail { stroke: var(--bad); stroke-width: 1.8; fill: none; }
svg.plot .b-ok { fill: var(--ok); } svg.plot .b-deg { fill: var(--deg); }
svg.plot .b-fail { fill: var(--bad); } svg.plot .b-none { fill: #8c959f; fill-opacity: .28; }
svg.plot .empty { fill: var(--mute); font-style: italic; text-anchor: middle; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 12.5px; color: var(--mute);
  margin: 4px 0 6px; }
.legend svg { vertical-align: middle; margin-right: 4px; }
footer { margin-top: 40px; color: var(--mute); font-size: 12px; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  .run { break-before: page; }
  table, figure, .reasons { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _e(value: object) -> str:
    """Escape any value for HTML text and attribute values alike."""
    return html.escape(str(value), quote=True)


def _token(value: object, allowed: frozenset[str], fallback: str = "unknown") -> str:
    """A CSS class suffix from data, limited to known values so data never shapes the markup."""
    text = str(value)
    return text if text in allowed else fallback


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def _pct(rate: float) -> str:
    # 99.5% must not round up to a reassuring "100%".
    if rate >= 1:
        return "100%"
    return f"{math.floor(rate * 1000) / 10:.1f}%"


def _s(value: float) -> str:
    return f"{value:.1f} s"


# --- derived values -------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class _FaultBand:
    """A fault as drawn: when it was held, and what to call it."""

    number: int
    description: str
    kind: str
    target: str
    start_s: float
    end_s: float
    touched: bool


def _fault_bands(run: Mapping[str, Any]) -> list[_FaultBand]:
    bands = []
    fault_end = float(run["windows"]["fault"][1])
    for number, fault in enumerate(run["faults"], start=1):
        start = float(fault["applied_s"])
        end = float(fault["removed_s"])
        if end <= start:
            # Never removed by the timeline (a run cut short): it was held at least to
            # the end of the fault phase, and the cleanup took it away after.
            end = max(fault_end, start)
        bands.append(
            _FaultBand(
                number,
                str(fault["description"]),
                str(fault["kind"]),
                str(fault["target"]),
                start,
                end,
                bool(fault["touched"]),
            )
        )
    return bands


def _journey_names(run: Mapping[str, Any]) -> list[str]:
    """Journeys in the incident's order (the verdict's), then any only seen in the series."""
    names: list[str] = []
    for phase, _ in _PHASES:
        for j in run["verdict"]["journeys"].get(phase, []):
            if j["journey"] not in names:
                names.append(j["journey"])
    names += [name for name in run["timeseries"] if name not in names]
    return names


def _x_max(run: Mapping[str, Any], bands: Sequence[_FaultBand]) -> float:
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

    band: _FaultBand
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


def _labels(bands: Sequence[_FaultBand], x_max_s: float) -> list[_Label]:
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
    for _, window in _PHASES:
        start, end = (float(v) for v in run["windows"][window])
        boundaries.update((start, end))
        if end > start:
            out.append(
                f'<text class="phase-name" x="{_f((ax.x(start) + ax.x(end)) / 2)}" y="14">'
                f"{_e(window)}</text>"
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
            f"<title>F{band.number}: {_e(band.description)}, held {band.start_s:.2f} s to "
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
            f"{_e(line)}</tspan>"
            for i, line in enumerate(label.lines)
        )
        out.append(
            f'<clipPath id="{_e(clip_id)}"><rect x="{_f(x0)}" y="{_f(ax.lat_top)}" '
            f'width="{_f(width)}" height="{_f(ax.lat_bottom - ax.lat_top)}"/></clipPath>'
            f'<text class="fault-label" clip-path="url(#{_e(clip_id)})">{spans}</text>'
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
            f"SLO p95 {_e(_latency_label(slo_ms))}</text>"
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
                f"<title>{call.at_s:.2f} s: ok but slow, {_ms(call.latency_ms)}</title></circle>"
            )
            continue
        if call.kind == "ok":
            out.append(f'<circle class="pt-ok" cx="{_f(px)}" cy="{_f(py)}" r="2.3"/>')
            continue
        tip = (
            f"<title>{call.at_s:.2f} s: {_e(call.kind)}, {_ms(call.latency_ms)}"
            f"{', code ' + _e(call.code) if call.code else ''}</title>"
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
    bands: Sequence[_FaultBand],
    x_max_s: float,
    id_prefix: str,
) -> str:
    labels = _labels(bands, x_max_s)
    ax = _axes(x_max_s, calls, slo_ms, labels)
    height = _f(ax.height)
    parts = [
        f'<svg class="plot" data-journey="{_e(journey)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" role="img" '
        f'aria-label="{_e(f"latency and success over time of {journey}")}">',
        f"<title>{_e(journey)}: latency of each call and success per time bucket</title>",
        *_fault_shading(labels, ax, id_prefix),
        *_latency_panel(calls, ax, slo_ms),
        *_rate_panel(calls, ax),
        *_time_axis(ax),
        *_phase_marks(run, ax),
        "</svg>",
    ]
    return "\n".join(parts)


def _legend() -> str:
    def swatch(shape: str) -> str:
        return f'<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">{shape}</svg>'

    items = [
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
            swatch('<rect x="2" y="1" width="10" height="12" fill="#8c959f" fill-opacity=".28"/>'),
            "no call started in that bucket",
        ),
    ]
    return '<div class="legend">' + "".join(f"<span>{s}{t}</span>" for s, t in items) + "</div>"


# --- tables ---------------------------------------------------------------------------------


def _verdict_badge(verdict: object) -> str:
    token = _token(verdict, _VERDICTS)
    return f'<span class="badge v-{token}">{_e(str(verdict).replace("_", " "))}</span>'


def _outcome_badge(outcome: object, big: bool = False) -> str:
    token = _token(outcome, _OUTCOMES)
    size = " big" if big else ""
    return f'<span class="badge{size} o-{token}">{_e(str(outcome).upper())}</span>'


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    """A table; ``head`` holds (label, numeric) pairs, rows are ready ``<tr>`` markup."""
    ths = "".join(f"<th{' class=num' if num else ''}>{_e(label)}</th>" for label, num in head)
    class_attr = f' class="{cls}"' if cls else ""
    return f"<table{class_attr}><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _checks_table(verdict: Mapping[str, Any]) -> str:
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
            f'<tr class="check-{"pass" if passed else "fail"}"><td>{_e(check["name"])}</td>'
            f"<td>{_e(check['expected'])}</td><td>{_e(check['measured'])}</td><td>{mark}</td></tr>"
        )
    return _table(
        (("check", False), ("expected", False), ("measured", False), ("result", False)),
        rows,
        "verdict",
    )


def _observations(journey: str, calls: Sequence[_Call]) -> list[Observation]:
    return [
        Observation(journey, c.at_s, c.latency_ms, c.ok, None, c.code, (), c.kind == "degraded")
        for c in calls
    ]


def _derived_verdict(
    journey: str,
    calls: Sequence[_Call],
    slo: Mapping[str, Any],
    window_s: tuple[float, float],
    honest_codes: frozenset[str],
) -> tuple[str, str]:
    """Judge one journey over one fault's window with the verdict's own rules."""
    start_s, end_s = window_s
    observations = _observations(journey, calls)
    stats = window_stats(observations, journey, start_s, end_s)
    failures = [o for o in observations if start_s <= o.at_s < end_s and (not o.ok or o.degraded)]
    judged = judge_journey(
        stats, Slo(float(slo["p95_ms"]), float(slo["success_rate"])), failures, honest_codes
    )
    return judged.verdict, judged.reason


def _blast_radius(
    run: Mapping[str, Any], journeys: Sequence[str], bands: Sequence[_FaultBand]
) -> str:
    if not bands:
        return '<p class="note">No fault was injected in this run.</p>'
    targets: dict[str, list[_FaultBand]] = {}
    for band in bands:
        targets.setdefault(band.target, []).append(band)
    during = {j["journey"]: j for j in run["verdict"]["journeys"].get("during", [])}
    series = {name: _calls(points) for name, points in run["timeseries"].items()}
    # One faulted place: the fault phase is that place's fault, so the run's own verdict is
    # the cell. Several: each place gets the calls that started while it was faulted.
    derived = len(targets) > 1
    head = "".join(
        f"<th>{_e(target)}<br><small class=muted>"
        f"{_e(', '.join(sorted({b.kind for b in group})))}"
        f"{'' if any(b.touched for b in group) else ' · never touched traffic'}</small></th>"
        for target, group in targets.items()
    )
    rows = []
    for journey in journeys:
        judged = during.get(journey)
        cells = []
        for group in targets.values():
            if judged is None:
                verdict, detail = "no_data", "not judged"
            elif derived:
                start = min(b.start_s for b in group)
                end = max(b.end_s for b in group)
                verdict, detail = _derived_verdict(
                    journey,
                    series.get(journey, []),
                    judged["slo"],
                    (start, end),
                    frozenset(run.get("honest_codes", ())),
                )
            else:
                verdict, detail = str(judged["verdict"]), str(judged["reason"])
            token = _token(verdict, _VERDICTS)
            cells.append(
                f'<td class="cell v-{token}" title="{_e(detail)}">'
                f"{_e(verdict.replace('_', ' '))}<small>{_e(detail.split(';')[0])}</small></td>"
            )
        rows.append(f"<tr><th>{_e(journey)}</th>{''.join(cells)}</tr>")
    note = (
        "With several faulted places, each cell judges the calls that started while that place "
        "was faulted, by the same rules as the verdict; faults that overlap in time share calls."
        if derived
        else "Each cell is the journey's verdict for the fault phase."
    )
    return (
        f'<table class="blast"><thead><tr><th>journey \\ faulted place</th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table><p class="note">{_e(note)}</p>'
    )


def _faults_table(bands: Sequence[_FaultBand], run: Mapping[str, Any]) -> str:
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
            f'<tr><td>F{band.number}</td><td class="mono">{_e(band.description)}</td>'
            f"<td class=place>{_e(band.target)}</td><td class=num>{band.start_s:.2f} s</td>"
            f"<td class=num>{band.end_s:.2f} s</td><td>{touched}</td>"
            f"<td>{_e(fault.get('evidence', ''))}</td></tr>"
        )
    return _table(
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


def _stats_table(verdict: Mapping[str, Any], journeys: Sequence[str]) -> str:
    by_journey: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for phase, label in _PHASES:
        for j in verdict["journeys"].get(phase, []):
            by_journey.setdefault(j["journey"], []).append((label, j))
    rows = []
    for journey in journeys:
        entries = by_journey.get(journey, [])
        for index, (label, j) in enumerate(entries):
            name = f'<th rowspan="{len(entries)}">{_e(journey)}</th>' if index == 0 else ""
            slo = j.get("slo", {})
            start, end = j.get("window_s", ["?", "?"])
            rows.append(
                f"<tr>{name}<td class=phase>{_e(label)} "
                f"<small class=muted>{_e(start)}-{_e(end)} s</small></td>"
                f"<td class=num>{int(j['calls'])}</td>"
                f"<td class=num>{_pct(float(j['success_rate'])) if j['calls'] else '-'}</td>"
                f"<td class=num>{int(j.get('degraded', 0))}</td>"
                + "".join(
                    f"<td class=num>{_ms(float(j[k])) if j['calls'] else '-'}</td>"
                    for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")
                )
                + f"<td class=num>{_e(_ms(float(slo.get('p95_ms', 0))))} / "
                f"{_e(_pct(float(slo.get('success_rate', 0))))}</td>"
                f"<td>{_verdict_badge(j['verdict'])}</td>"
                f'<td title="{_e(j["reason"])}">{_e(_why(j))}</td></tr>'
            )
    if not rows:
        return '<p class="note">No journey was judged in this run.</p>'
    return _table(
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


def _codes_table(run: Mapping[str, Any]) -> str:
    if not run["codes"]:
        return '<p class="note">No error code was seen: every answer was a plain success.</p>'
    rows = []
    for c in run["codes"]:
        meaning = c.get("meaning") or "not in the system's error-code table"
        rows.append(
            f"<tr><td class=mono>{_e(c['code'])}</td><td>{_e(c['journey'])}</td>"
            f"<td>{_e(c['origin'])}</td><td class=num>{int(c['count'])}</td>"
            f"<td>{_e(meaning)}</td></tr>"
        )
    return _table(
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


def _invariants(run: Mapping[str, Any]) -> str:
    rows = []
    for inv in run["verdict"]["invariants"]:
        holds = bool(inv["holds"])
        badge = (
            '<span class="badge c-pass">holds</span>'
            if holds
            else '<span class="badge c-fail">broken</span>'
        )
        rows.append(
            f"<tr><td>{_e(inv['name'])}</td><td>{badge}</td><td>{_e(inv['detail'])}</td></tr>"
        )
    out = (
        _table((("invariant", False), ("state", False), ("detail", False)), rows, "invariants")
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
                f"<tr><td>{_e(name)}</td><td><span class='badge {badge_cls}'>{_e(state)}</span>"
                f"</td><td>{_e(detail)}</td></tr>"
            )
        out += "<h4>Service self-checks after the run</h4>" + _table(
            (("service", False), ("state", False), ("violations", False)), srows
        )
    return out


# --- page -----------------------------------------------------------------------------------


def _anchor(index: int, run: Mapping[str, Any]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{run['incident']['id']}-{run['profile']}".lower())
    return f"run-{index}-{slug.strip('-')}"


def _source(source: object) -> str:
    text = str(source)
    if re.match(r"https?://", text):
        return f'<a href="{_e(text)}" rel="noreferrer">{_e(text)}</a>'
    return _e(text)


def _run_header(run: Mapping[str, Any], index: int) -> str:
    incident = run["incident"]
    verdict = run["verdict"]
    outcome = verdict["outcome"]
    sources = incident.get("sources") or []
    meta = [
        ("incident", f"<code>{_e(incident['id'])}</code>"),
        ("date", _e(incident.get("date") or "unknown")),
        ("sources", "; ".join(_source(s) for s in sources) or "none given"),
        ("profile", f"<strong>{_e(run['profile'])}</strong>"),
        ("backend", _e(run["backend"])),
        ("Toxiproxy", _e(run["toxiproxy_version"])),
        ("started", _e(run.get("started_at", ""))),
        (
            "duration",
            f"{_s(float(run['duration_s']))} (floor {_s(float(run['floor_s']))}, "
            f"overhead {_s(float(run['overhead_s']))})",
        ),
    ]
    if incident.get("path"):
        meta.append(("incident file", f"<code>{_e(incident['path'])}</code>"))
    reasons = ""
    if outcome != "pass":
        token = _token(outcome, _OUTCOMES)
        items = (
            "".join(f"<li>{_e(r)}</li>" for r in verdict["reasons"]) or "<li>no reason given</li>"
        )
        why = "Why it is inconclusive" if outcome == "inconclusive" else "Why it failed"
        reasons = f'<div class="reasons o-{token}"><strong>{why}</strong><ul>{items}</ul></div>'
    return (
        f'<div class="run-head"><h2>{index}. {_e(incident["id"])} · {_e(run["profile"])}</h2>'
        f"{_outcome_badge(outcome, big=True)}</div>"
        f'<p class="incident-title">{_e(incident["title"])}</p>'
        '<dl class="meta">'
        + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in meta)
        + "</dl>"
        + (
            f'<p class="summary-text">{_e(incident["summary"])}</p>'
            if incident.get("summary")
            else ""
        )
        + reasons
    )


def _plots(
    run: Mapping[str, Any], journeys: Sequence[str], bands: Sequence[_FaultBand], prefix: str
) -> str:
    x_max = _x_max(run, bands)
    slos = {
        j["journey"]: float(j["slo"]["p95_ms"])
        for phase, _ in _PHASES
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
                f'<figure class="journey-plot" data-journey="{_e(name)}">'
                f"<figcaption>{_e(name)}{_e(suffix)} <span class=muted>· {len(calls)} calls, "
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


def _run_section(run: Mapping[str, Any], index: int) -> str:
    anchor = _anchor(index, run)
    bands = _fault_bands(run)
    journeys = _journey_names(run)
    outcome = _token(run["verdict"]["outcome"], _OUTCOMES)
    return (
        f'<section class="run o-border-{outcome}" id="{_e(anchor)}">'
        + _run_header(run, index)
        + "<h3>Verdict</h3>"
        + _checks_table(run["verdict"])
        + "<h3>Blast radius</h3>"
        + '<p class="note">How far the failure spread: each journey\'s verdict while each '
        "place was faulted.</p>"
        + _blast_radius(run, journeys, bands)
        + "<h3>Faults</h3>"
        + _faults_table(bands, run)
        + "<h3>Journeys over time</h3>"
        + _plots(run, journeys, bands, anchor)
        + "<h3>Journey statistics per phase</h3>"
        + _stats_table(run["verdict"], journeys)
        + "<h3>Error codes seen</h3>"
        + _codes_table(run)
        + "<h3>Invariants</h3>"
        + _invariants(run)
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
        reason = _e(first_reason) + (
            f" <span class=muted>(+{more} more)</span>" if more > 0 else ""
        )
        rows.append(
            f'<tr><td><a href="#{_e(_anchor(index, run))}">{index}. '
            f"{_e(run['incident']['id'])}</a></td><td>{_e(run['incident']['title'])}</td>"
            f"<td>{_e(run['profile'])}</td><td>{_e(run['backend'])}</td>"
            f"<td>{_outcome_badge(verdict['outcome'])}</td>"
            f"<td class=num>{passed}/{len(checks)}</td><td>{reason}</td></tr>"
        )
    if not rows:
        return '<p class="note">This report holds no run.</p>'
    return _table(
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
        f"<title>Domino report: {_e(str(overall).upper())}</title>"
        f"<style>{_CSS}</style></head><body>"
        '<header><h1>Domino report</h1><p class="muted">'
        f"Overall {_outcome_badge(overall, big=True)} &nbsp; {len(runs)} run(s), generated "
        f"{_e(data.get('generated_at', 'at an unknown time'))}, report format "
        f"{_e(data.get('format', '?'))}</p></header>"
        '<section id="summary"><h3>Runs</h3>'
        + _summary(data)
        + "</section>"
        + body
        + "<footer>Generated by Domino. Self-contained: this page loads nothing from the "
        "network.</footer></body></html>\n"
    )
