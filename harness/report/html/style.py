"""The page's stylesheet, inlined into the page (which may load nothing).

Colours carry the verdicts (green healthy, orange degraded, red failed, purple
inconclusive) and are kept in print, where a report is often read.
"""

__all__ = ["CSS"]

#: The whole stylesheet, placed in one ``<style>`` element.
CSS = """
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
