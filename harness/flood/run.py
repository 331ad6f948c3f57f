"""One flood of a run (:class:`FloodRun`): what was asked, what the engine measured,
what the system's records say it applied, and how long its traffic took to be
healthy again after the trigger ended."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harness.flood.answers import AppliedCheck, FloodOutcomes
from harness.loadgen import LoadPlan, LoadResult
from harness.model.faults import Flood

__all__ = ["FloodRun", "recovery_s"]


@dataclass
class FloodRun:
    """One flood of a run: what was asked, when, and what the engine measured."""

    fault: Flood
    hold_s: float
    slo_p95_ms: float
    started_s: float = 0.0
    #: Attempts the system answered (ok or told to wait), from the engine's seconds.
    answered: int = 0
    result: LoadResult | None = None
    #: Seconds after the run until every journey met its SLO again (None: not within 120 s).
    drained_s: float | None = None
    error: str = ""
    #: The plan the engine ran (its keys are ``{plan's run id}-{arrival index}``).
    plan: LoadPlan | None = None
    run_id: str = ""
    #: Calls the services made on each edge while the flood ran (adapters that count them).
    edge_calls: dict[str, int] = field(default_factory=dict)
    #: Each 429/503's body was read for the system's honest codes (its adapter declares some).
    waits_checked: bool = False
    #: Which of the actions not ok the system applied (None: not checked, see ``unchecked``).
    applied: AppliedCheck | None = None
    #: What could not be checked about the flood's answers, one reason each.
    unchecked: list[str] = field(default_factory=list)

    def outcomes(self) -> FloodOutcomes | None:
        """The actions by what customers were told and what the system did (None: no result)."""
        if self.result is None:
            return None
        return FloodOutcomes.of(self.result, self.applied)

    def calls_per_ingress(self) -> dict[str, float]:
        """Per edge: calls made on it per attempt the flood sent in (retry amplification
        through the system). Includes the run's other traffic on those edges."""
        attempts = self.result.attempts if self.result is not None else 0
        if not attempts:
            return {}
        return {edge: round(n / attempts, 3) for edge, n in sorted(self.edge_calls.items()) if n}

    def as_dict(self) -> dict[str, Any]:
        result = self.result
        return {
            "fault": self.fault.describe(),
            "hold_s": self.hold_s,
            "tail_s": self.fault.tail_s,
            "slo_p95_ms": self.slo_p95_ms,
            "started_s": round(self.started_s, 3),
            "recovery_s": recovery_s(self),
            "drained_s": self.drained_s,
            "calls_per_ingress": self.calls_per_ingress(),
            "outcomes": outcomes.as_dict() if (outcomes := self.outcomes()) is not None else None,
            "waits_checked": self.waits_checked,
            "applied": self.applied.as_dict() if self.applied is not None else None,
            "unchecked": list(self.unchecked),
            "error": self.error,
            "result": result.to_json() if result is not None else None,
        }


def recovery_s(run: FloodRun) -> float | None:
    """Seconds from the trigger's end until the flood's traffic stayed healthy to its end.

    Only the tail's whole seconds are judged. A second is healthy when answers
    came in it, none failed (errors, timeouts; honest rejections are answers)
    and its p99 is within the loosest p95 SLO of the flood's journeys. None
    when the tail never turned healthy (still overloaded when it ended, or no
    tail at all).
    """
    if run.result is None:
        return None
    first_s, end_s = math.ceil(run.hold_s), run.hold_s + run.fault.tail_s
    healthy_from: int | None = None
    for second in run.result.series:
        if not first_s <= second.t_s < end_s:
            continue  # the trigger, or the last retries finishing after the schedule
        healthy = (
            second.completed > 0 and second.errors == 0 and second.latency_p99_ms <= run.slo_p95_ms
        )
        if healthy and healthy_from is None:
            healthy_from = second.t_s
        elif not healthy:
            healthy_from = None
    if healthy_from is None:
        return None
    return max(0.0, healthy_from - run.hold_s)
