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
    "InvariantVerdict",
    "JourneyVerdict",
    "Observation",
    "Outcome",
    "RunVerdict",
    "WindowStats",
    "vars_of",
]

#: A run's outcome: every expectation met, one failed, or nothing could be judged.
Outcome = Literal["pass", "fail", "inconclusive"]


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
    ``status`` is None when no HTTP answer came back at all.
    """

    journey: str
    at_s: float
    latency_ms: float
    ok: bool
    status: int | None
    code: str | None = None
    cause: tuple[Mapping[str, Any], ...] = field(default=())
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One journey's calls that started in ``[start_s, end_s)``."""

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

    @property
    def success_rate(self) -> float:
        return self.successes / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class JourneyVerdict:
    journey: str
    verdict: Literal["healthy", "degraded", "failed", "no_data"]
    stats: WindowStats
    slo: Slo
    reason: str


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
