"""Verdict stability over repeats (``domino run ID --repeat N``): how often each check held."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.experiment import RunResult

__all__ = ["render_stability", "stability"]


def stability(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Per incident and profile: runs, outcomes, and per check how many runs it passed."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.spec.id, result.profile), []).append(result)
    out = []
    for (incident, profile), runs in groups.items():
        checks: dict[str, int] = {}
        for run in runs:
            for check in run.verdict.checks:
                checks[check.name] = checks.get(check.name, 0) + int(check.passed)
        outcomes: dict[str, int] = {}
        for run in runs:
            outcomes[run.verdict.outcome] = outcomes.get(run.verdict.outcome, 0) + 1
        out.append(
            {
                "incident": incident,
                "profile": profile,
                "runs": len(runs),
                "outcomes": outcomes,
                "checks": [
                    {"name": n, "held": held, "runs": len(runs)} for n, held in checks.items()
                ],
                "stable": len(outcomes) == 1 and all(h in (0, len(runs)) for h in checks.values()),
            }
        )
    return out


def render_stability(groups: Sequence[dict[str, Any]]) -> str:
    """A table: each check's pass count over the runs; a flip is any count strictly between."""
    lines = ["", "  verdict stability (check held in runs / runs)"]
    for group in groups:
        flag = "stable" if group["stable"] else "FLIPPED"
        outcomes = ", ".join(f"{k} x{v}" for k, v in sorted(group["outcomes"].items()))
        lines.append(f"  {group['incident']} [{group['profile']}]: {flag} ({outcomes})")
        for check in group["checks"]:
            mark = " " if check["held"] in (0, check["runs"]) else "!"
            lines.append(f"    {mark} {check['held']:>3}/{check['runs']:<3} {check['name']}")
    return "\n".join(lines)
