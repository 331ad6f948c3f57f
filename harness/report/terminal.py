"""The terminal summary, k6-style: verdicts first, then latency percentiles per journey."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["render_summary"]


def _marks() -> tuple[str, str]:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    return ("✓", "✗") if "utf" in encoding else ("ok", "XX")


def _dots(name: str, width: int = 44) -> str:
    return name + " " + "." * max(2, width - len(name))


def _verdict(judged: dict[str, Any]) -> str:
    """A journey's verdict as shown: a failure says how it failed and how long it took."""
    label = str(judged.get("label") or judged["verdict"])
    took = judged.get("failure_ms")
    return f"{label} ({took:,.0f} ms)" if took is not None else label


def _deaths(deaths: list[dict[str, Any]], lines: int = 5) -> list[str]:
    """Each service that died with no fault to explain it: when, how, its last log lines."""
    if not deaths:
        return []
    out = ["", "    services that died with no fault of the run to explain them"]
    for death in deaths:
        out.append(f"      {death['service']} at {death['at_s']:.1f} s: {death['exit_status']}")
        out += [f"        | {line}" for line in death["log_tail"][-lines:]]
    return out


def render_summary(data: dict[str, Any]) -> str:
    """The report data as the terminal summary: verdicts first, then latency percentiles."""
    good, bad = _marks()
    out: list[str] = []
    for run in data["runs"]:
        verdict = run["verdict"]
        incident = run["incident"]
        outcome = verdict["outcome"].upper()
        out.append("")
        out.append(
            f"  {incident['id']} [{run['profile']}] on {run['backend']}: {outcome}   "
            f"({run['duration_s']:.1f} s, floor {run['floor_s']:.1f} s, "
            f"Toxiproxy {run['toxiproxy_version']})"
        )
        out.append(f"  {incident['title']}")
        out.append("")
        for check in verdict["checks"]:
            mark = good if check["passed"] else bad
            out.append(f"    {mark} {_dots(check['name'])} expected {check['expected']}")
            out.append(f"        measured {check['measured']}")
        if verdict["outcome"] != "pass":
            out.append("")
            out += [f"    ! {reason}" for reason in verdict["reasons"]]
        out += _deaths(run.get("service_deaths", []))
        out.append("")
        out.append("    faults")
        for fault in run["faults"]:
            touched = "touched traffic" if fault["touched"] else "NEVER TOUCHED TRAFFIC"
            out.append(
                f"      {fault['description']}\n"
                f"        held {fault['applied_s']:.1f} s -> {fault['removed_s']:.1f} s; "
                f"{touched}: {fault['evidence']}"
            )
        out.append("")
        out.append(
            f"    {'journey':<12} {'phase':<9} {'calls':>5} {'ok':>5} "
            f"{'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}  verdict"
        )
        for phase in ("steady", "during", "recovery"):
            for j in verdict["journeys"][phase]:
                out.append(
                    f"    {j['journey']:<12} {phase:<9} {j['calls']:>5} "
                    f"{j['success_rate']:>5.0%} {j['p50_ms']:>6.0f} ms {j['p95_ms']:>6.0f} ms "
                    f"{j['p99_ms']:>6.0f} ms {j['max_ms']:>6.0f} ms  {_verdict(j)}"
                )
        if run["codes"]:
            out.append("")
            out.append("    error codes seen (code, journey, where it started, count)")
            out += [
                f"      {c['code']:<6} {c['journey']:<12} {c['origin']:<28} x{c['count']}"
                for c in run["codes"]
            ]
    out.append("")
    out.append(f"  overall: {data['outcome'].upper()}")
    return "\n".join(out)
