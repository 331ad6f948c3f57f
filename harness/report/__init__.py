"""Reports of incident runs: terminal summary, JSON, JUnit XML and a self-contained HTML page.

Every format is rendered from the same plain data (:func:`report_data`), so
they cannot disagree; ``report.json`` is that data as written.
"""

from harness.report.data import report_data, write_reports

__all__ = ["report_data", "write_reports"]
