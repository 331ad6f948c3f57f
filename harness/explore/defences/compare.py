"""Two maps of one system's defences side by side (``domino defences --profile A --profile
B``): what a change of settings changed per edge, and which findings and mismatches it
made disappear or appear.

Measurements are noisy, so a value counts as changed only past the tolerances the
declarations are compared with (:mod:`.declared`): a whole wait by more than 50 ms
or 10 %, attempts per request by more than 0.25, fallbacks as sets. A finding is the
same finding in both when its check, edge and journey are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.explore.defences.model import (
    ATTEMPTS_SLACK,
    TIMEOUT_SLACK_MS,
    TIMEOUT_SLACK_SHARE,
    DefenceMap,
    EdgeDefences,
    Finding,
    Mismatch,
)
from harness.explore.defences.report import deadline_text

__all__ = ["DefencesChange", "EdgeChange", "compare_maps", "render_comparison"]


@dataclass(frozen=True, slots=True)
class EdgeChange:
    """One measured value of ``edge`` that differs between the two maps."""

    edge: str
    caller: str
    what: str
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.edge} {self.what}: {self.before} -> {self.after}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "edge": self.edge,
            "caller": self.caller,
            "what": self.what,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class DefencesChange:
    """What changed from ``before`` to ``after`` (the same topology, two profiles)."""

    before: DefenceMap
    after: DefenceMap
    changes: tuple[EdgeChange, ...]
    gone: tuple[Finding, ...]
    new: tuple[Finding, ...]
    kept: tuple[Finding, ...]
    mismatches_gone: tuple[Mismatch, ...]
    mismatches_new: tuple[Mismatch, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.profile,
            "after": self.after.profile,
            "tolerance": (
                f"whole waits differ by more than max({TIMEOUT_SLACK_MS:g} ms, "
                f"{TIMEOUT_SLACK_SHARE:.0%}); attempts per request by more than "
                f"{ATTEMPTS_SLACK:g}; fallbacks as sets"
            ),
            "changes": [c.as_dict() for c in self.changes],
            "findings_gone": [f.as_dict() for f in self.gone],
            "findings_new": [f.as_dict() for f in self.new],
            "findings_kept": [f.as_dict() for f in self.kept],
            "mismatches_gone": [m.as_dict() for m in self.mismatches_gone],
            "mismatches_new": [m.as_dict() for m in self.mismatches_new],
        }


def _wait_differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > max(TIMEOUT_SLACK_MS, TIMEOUT_SLACK_SHARE * max(a, b))


def _edge_changes(
    before: DefenceMap, a: EdgeDefences, after: DefenceMap, b: EdgeDefences
) -> list[EdgeChange]:
    found = []
    da, db = a.deadline, b.deadline
    outcome_a = None if da is None else da.outcome
    outcome_b = None if db is None else db.outcome
    if outcome_a != outcome_b or _wait_differs(
        None if da is None else da.waited_ms, None if db is None else db.waited_ms
    ):
        whole = [
            "-"
            if d is None or d.waited_ms is None
            else f"{deadline_text(m, e)}, whole wait {d.waited_ms:,.0f} ms ({d.answer})"
            for m, e, d in ((before, a, da), (after, b, db))
        ]
        found.append(EdgeChange(a.edge, a.caller, "deadline", *whole))
    pa, pb = a.attempts_per_request, b.attempts_per_request
    if (pa is None) != (pb is None) or (
        pa is not None and pb is not None and abs(pa - pb) > ATTEMPTS_SLACK
    ):
        text = ["-" if p is None else f"{p:.1f}" for p in (pa, pb)]
        found.append(EdgeChange(a.edge, a.caller, "attempts/request", *text))
    if set(a.fallbacks) != set(b.fallbacks):
        found.append(
            EdgeChange(
                a.edge,
                a.caller,
                "fallbacks",
                ", ".join(a.fallbacks) or "none",
                ", ".join(b.fallbacks) or "none",
            )
        )
    return found


def _key(finding: Finding) -> tuple[str, str, str | None]:
    return finding.check, finding.edge, finding.journey


def _mismatch_key(mismatch: Mismatch) -> tuple[str, str, str, str]:
    return mismatch.edge, mismatch.setting, mismatch.declared, mismatch.measured


def compare_maps(before: DefenceMap, after: DefenceMap) -> DefencesChange:
    """What changed from ``before`` to ``after``: per edge measured in both, its deadline,
    attempts and fallbacks; the findings and mismatches gone, new and kept."""
    changes = []
    for a in before.edges:
        try:
            b = after.edge(a.edge)
        except KeyError:
            continue
        changes += _edge_changes(before, a, after, b)
    then = {_key(f): f for f in before.findings}
    now = {_key(f): f for f in after.findings}
    m_then = {_mismatch_key(m): m for m in before.mismatches}
    m_now = {_mismatch_key(m): m for m in after.mismatches}
    return DefencesChange(
        before=before,
        after=after,
        changes=tuple(changes),
        gone=tuple(f for k, f in then.items() if k not in now),
        new=tuple(f for k, f in now.items() if k not in then),
        kept=tuple(f for k, f in now.items() if k in then),
        mismatches_gone=tuple(m for k, m in m_then.items() if k not in m_now),
        mismatches_new=tuple(m for k, m in m_now.items() if k not in m_then),
    )


def render_comparison(change: DefencesChange) -> str:
    """What changed, in a few lines for the terminal."""
    a, b = change.before.profile, change.after.profile
    lines = [f"{change.before.topology}: {a} -> {b}", ""]
    if change.changes:
        lines.append(f"measured defences that changed ({len(change.changes)}):")
        lines += [f"  {c.describe()}" for c in change.changes]
    else:
        lines.append("measured defences: no change past the tolerances")
    for title, found in (
        (f"findings gone in {b}", change.gone),
        (f"findings new in {b}", change.new),
        ("findings in both", change.kept),
    ):
        lines.append(f"{title} ({len(found)}):" if found else f"{title}: none")
        lines += [f"  {f.describe()}" for f in found]
    for title, mismatches in (
        (f"mismatches with domino.yaml gone in {b}", change.mismatches_gone),
        (f"mismatches with domino.yaml new in {b}", change.mismatches_new),
    ):
        if mismatches:
            lines.append(f"{title} ({len(mismatches)}):")
            lines += [f"  {m.describe()}" for m in mismatches]
    return "\n".join(lines)
