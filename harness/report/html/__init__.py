"""The HTML report: one self-contained page for a set of runs.

The page is rendered from the report data (:func:`harness.report.data.report_data`)
and nothing else, so it says what ``report.json`` says; every judgement in it
(verdicts, the blast radius) was made when the data was built. It is meant to
be opened from a CI artifact on a machine with no network, or printed, so it
loads nothing: the CSS is inline, the plots are SVG drawn here in Python, there
is no script at all, and a Content-Security-Policy forbids fetching anything.

Per run (incident x profile) it shows the incident and the outcome, the
verdict table, the blast-radius matrix, the faults, one timeline per journey
(latency of every call and the success rate per time bucket, fault windows
shaded, phase boundaries marked), the statistics per phase, the error codes
with where they started, and the invariants.

Every string that comes from the data is escaped, attributes included: an
incident file is user input and the page must never run what it contains.

Modules: :mod:`~harness.report.html.page` (the document and each run's
section), :mod:`~harness.report.html.plots` (the SVG timelines),
:mod:`~harness.report.html.tables`, :mod:`~harness.report.html.view` (what
several parts read from a run), :mod:`~harness.report.html.text` (escaping and
number formats) and :mod:`~harness.report.html.style` (the CSS).
"""

from harness.report.html.page import render_html

__all__ = ["render_html"]
