"""What a run produced, as values: observations, answers, window statistics, verdicts.

Every stage after a run (verdicts, reports, exploration) passes these around;
the judging itself is :mod:`harness.verdict` (pure functions over them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.model.topology import Slo

__all__ = [
    "Answer",
    "Check",
    "Failure",
    "InvariantVerdict",
    "JourneyVerdict",
    "Observation",
    "Outcome",
    "RunVerdict",
    "Verdict",
    "WindowStats",
    "vars_of",
    "verdict_label",
]

#: A run's outcome: every expectation met, one failed, or nothing could be judged.
Outcome = Literal["pass", "fail", "inconclusive"]
#: A journey's verdict in a window (``no_data``: no call of it was in flight there).
Verdict = Literal["healthy", "degraded", "failed", "no_data"]
#: How a failed journey failed: ``fast`` when its failing calls were answered within the
#: SLO's p95 latency (the fault's slowness was contained), ``slow`` when users waited past it.
Failure = Literal["fast", "slow"]


def verdict_label(verdict: str, failure: str | None) -> str:
    """A verdict as shown: ``failed-fast``/``failed-slow`` for a failure that says how."""
    return f"failed-{failure}" if verdict == "failed" and failure else verdict


@dataclass(frozen=True, slots=True)
class Answer:
    """What one HTTP answer meant to the user.

    ``cause`` is the chain the system gave for an error or a degraded answer,
    first link first (each a mapping with ``edge`` or ``service``).
    """

    ok: bool
    code: str | None = None
    cause: tuple[Mapping[str, Any], ...] = ()
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class Observation:
    """One journey call as the user saw it.

    ``at_s`` is seconds since the observer's start (monotonic clock);
    ``status`` is None when no HTTP answer came back at all. ``answered`` is
    False for a call still waiting when observation ended: its ``latency_ms``
    is then how long it had waited so far (a lower bound).
    """

    journey: str
    at_s: float
    latency_ms: float
    ok: bool
    status: int | None
    code: str | None = None
    cause: tuple[Mapping[str, Any], ...] = field(default=())
    degraded: bool = False
    answered: bool = True

    @property
    def answered_s(self) -> float:
        """When the answer came (or, unanswered, when the wait was last measured), in s."""
        return self.at_s + self.latency_ms / 1000.0


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One journey's calls judged in ``[start_s, end_s)`` (which calls: :mod:`harness.verdict`).

    ``in_flight`` counts the calls that began before the window and were
    still waiting when it began; ``unanswered`` those still waiting when
    observation ended. ``failing`` counts the calls that are not a success
    within the SLO (errors, and successes slower than the SLO's p95):
    ``failing_p95_ms`` and ``failing_max_ms`` are how long they took.
    """

    journey: str
    start_s: float
    end_s: float
    calls: int
    successes: int
    degraded: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    codes: Mapping[str, int] = field(default_factory=dict)
    in_flight: int = 0
    unanswered: int = 0
    failing: int = 0
    failing_p95_ms: float = 0.0
    failing_max_ms: float = 0.0

    @property
    def success_rate(self) -> float:
        return self.successes / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class JourneyVerdict:
    """One journey judged in one window.

    A ``failed`` verdict says how it failed (``failure``) and how long its
    failing calls took (``failure_ms``: their p95, in ms); both are None
    for every other verdict.
    """

    journey: str
    verdict: Verdict
    stats: WindowStats
    slo: Slo
    reason: str
    failure: Failure | None = None
    failure_ms: float | None = None

    @property
    def label(self) -> str:
        """The verdict as shown: ``failed-fast``/``failed-slow`` for a failure, else the verdict."""
        return verdict_label(self.verdict, self.failure)

    def matches(self, allowed: tuple[str, ...]) -> bool:
        """Whether an expectation allows this verdict: ``failed`` allows either kind of
        failure; ``failed-fast`` and ``failed-slow`` allow only theirs."""
        return self.verdict in allowed or self.label in allowed


@dataclass(frozen=True, slots=True)
class InvariantVerdict:
    name: str
    holds: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation, as CI lists it: expected against measured."""

    name: str
    expected: str
    measured: str
    passed: bool


@dataclass(frozen=True)
class RunVerdict:
    outcome: Outcome
    reasons: tuple[str, ...]
    checks: tuple[Check, ...]
    steady: tuple[JourneyVerdict, ...]
    during: tuple[JourneyVerdict, ...]
    recovery: tuple[JourneyVerdict, ...]
    invariants: tuple[InvariantVerdict, ...]

    def as_dict(self) -> dict[str, Any]:
        def journey(v: JourneyVerdict) -> dict[str, Any]:
            s = v.stats
            return {
                "journey": v.journey,
                "verdict": v.verdict,
                "label": v.label,
                "failure": v.failure,
                "failure_ms": None if v.failure_ms is None else round(v.failure_ms, 2),
                "reason": v.reason,
                "slo": {"p95_ms": v.slo.p95_ms, "success_rate": v.slo.success_rate},
                "calls": s.calls,
                "success_rate": round(s.success_rate, 4),
                "degraded": s.degraded,
                "p50_ms": round(s.p50_ms, 2),
                "p95_ms": round(s.p95_ms, 2),
                "p99_ms": round(s.p99_ms, 2),
                "max_ms": round(s.max_ms, 2),
                "codes": dict(s.codes),
                "in_flight": s.in_flight,
                "unanswered": s.unanswered,
                "window_s": [round(s.start_s, 3), round(s.end_s, 3)],
            }

        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "checks": [vars_of(c) for c in self.checks],
            "journeys": {
                "steady": [journey(v) for v in self.steady],
                "during": [journey(v) for v in self.during],
                "recovery": [journey(v) for v in self.recovery],
            },
            "invariants": [vars_of(i) for i in self.invariants],
        }


def vars_of(value: Check | InvariantVerdict) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}
