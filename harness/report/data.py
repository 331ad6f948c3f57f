"""The report data: one JSON-ready dict for a set of runs, and writing every format.

Everything a renderer shows is decided here, from the run's typed values (the
blast radius included: :mod:`harness.report.blast`), and turned into plain data
only on the way out, so the renderers format and never judge.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.experiment import RunResult
from harness.report.blast import blast_radius_of

__all__ = ["overall_outcome", "report_data", "run_data", "write_reports"]

REPORT_FORMAT = 1


def _origin(cause: Sequence[Any]) -> str:
    if not cause:
        return "none given"
    first = cause[0]
    where = first.get("edge") or first.get("service") or "?"
    return f"{where} ({first.get('kind', '?')})"


def run_data(result: RunResult) -> dict[str, Any]:
    """One run as plain data."""
    spec = result.spec
    # Each call: [start s, latency ms, ok, code, degraded, answered].
    series: dict[str, list[list[Any]]] = {}
    for o in result.observations:
        series.setdefault(o.journey, []).append(
            [round(o.at_s, 3), round(o.latency_ms, 2), o.ok, o.code, o.degraded, o.answered]
        )
    background: dict[str, list[list[Any]]] = {}
    for o in result.background:
        background.setdefault(o.journey, []).append(
            [round(o.at_s, 3), round(o.latency_ms, 2), o.ok, o.code, o.degraded, o.answered]
        )
    codes: Counter[tuple[str, str, str]] = Counter()
    for o in (*result.observations, *result.background):
        if o.code:
            codes[(o.code, o.journey, _origin(o.cause))] += 1
    return {
        "incident": {
            "id": spec.id,
            "title": spec.title,
            "date": spec.date,
            "sources": list(spec.sources),
            "summary": spec.summary,
            "path": str(spec.path) if spec.path else None,
        },
        "topology": result.topology,
        "adapter": result.adapter,
        "honest_codes": list(result.honest_codes),
        "profile": result.profile,
        "backend": result.backend,
        "toxiproxy_version": result.toxiproxy_version,
        "started_at": result.started_at,
        "duration_s": round(result.duration_s, 3),
        "floor_s": round(spec.floor_s, 3),
        "overhead_s": round(result.overhead_s, 3),
        "windows": {
            "steady": list(result.steady_window_s),
            "fault": list(result.fault_window_s),
            "recovery": list(result.recovery_window_s),
        },
        "faults": [asdict(w) for w in result.faults],
        "verdict": result.verdict.as_dict(),
        "timeseries": series,
        "background": background,
        "codes": [
            {
                "code": code,
                "journey": journey,
                "origin": origin,
                "count": count,
                "meaning": result.code_meanings.get(code),
            }
            for (code, journey, origin), count in sorted(codes.items())
        ],
        "service_invariants": result.service_invariants,
        # Each flood: its schedule, the engine's per-second figures, the time to recover.
        "floods": result.floods,
        # Services that died with no fault of the run to explain them: which, when, how.
        "service_deaths": [d.as_dict() for d in result.service_deaths],
        "blast_radius": blast_radius_of(result).as_dict(),
    }


def overall_outcome(runs: Sequence[dict[str, Any]]) -> str:
    """fail beats inconclusive beats pass."""
    outcomes = {r["verdict"]["outcome"] for r in runs}
    for outcome in ("fail", "inconclusive"):
        if outcome in outcomes:
            return outcome
    return "pass"


def report_data(results: Sequence[RunResult]) -> dict[str, Any]:
    """The report data for a set of runs: what ``report.json`` holds and every format renders.

    ``complete`` is true: a run that did not finish writes reports saying so instead
    (:class:`~harness.report.folder.ReportFolder`), with ``complete`` false.
    """
    runs = [run_data(r) for r in results]
    return {
        "format": REPORT_FORMAT,
        "complete": True,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "outcome": overall_outcome(runs),
        "runs": runs,
    }


def write_reports(results: Sequence[RunResult], folder: Path) -> dict[str, Path]:
    """Write report.json, junit.xml and report.html into ``folder``, each whole or not at
    all; return their paths."""
    from harness.report.folder import write_file
    from harness.report.html import render_html
    from harness.report.junit import render_junit

    folder.mkdir(parents=True, exist_ok=True)
    data = report_data(results)
    paths = {
        "json": folder / "report.json",
        "junit": folder / "junit.xml",
        "html": folder / "report.html",
    }
    write_file(paths["json"], json.dumps(data, indent=1) + "\n")
    write_file(paths["junit"], render_junit(data))
    write_file(paths["html"], render_html(data))
    return paths
