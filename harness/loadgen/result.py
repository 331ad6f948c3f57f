"""What a load run reports: typed, frozen, JSON-ready.

Counting rules, so the figures can be read without the code:

- An *action* is one arrival of the schedule (one user doing one thing); its
  *attempts* are the HTTP requests it sent (1 + retries). ``attempts_per_action``
  is the retry amplification.
- Per-second ``ok``/``rejected``/``errors`` count **attempts** by the second
  they finished (what the server admitted or turned away); totals in
  :class:`TemplateCounts` and :class:`LoadResult` count **actions** by their
  final outcome, plus attempts.
- A *false wait* is a rejection status (429/503) whose body the template's wait
  check refused (no honest "wait"): it counts among the errors, and
  ``false_waits`` says how many of them were.
- Latency is per action, from its *intended* send time to its final answer
  (coordinated-omission-free: a late send counts against the latency), filed
  under the second the action finished. Lag is per attempt: actual send minus
  intended send.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = [
    "LatencySummary",
    "LoadResult",
    "Progress",
    "SecondStats",
    "StopReason",
    "TemplateCounts",
]

StopReason = Literal["schedule", "request cap", "time cap"]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float


@dataclass(frozen=True, slots=True)
class SecondStats:
    """One second of the run, ``t_s`` seconds after the schedule's start."""

    t_s: int
    intended: int
    """Arrivals the schedule put in this second (the offered load)."""
    sent: int
    """Actions whose first attempt was sent in this second (the achieved arrival rate)."""
    retries_sent: int
    completed: int
    """Attempts that finished (answered or failed) in this second."""
    ok: int
    rejected: int
    errors: int
    dropped: int
    """Arrivals not sent because the max in-flight cap was reached (makes the run invalid)."""
    in_flight: int
    """The most actions in flight at once during this second."""
    latency_p50_ms: float
    latency_p99_ms: float
    lag_p99_ms: float
    false_waits: int = 0
    """Of ``errors``: false waits."""


@dataclass(frozen=True, slots=True)
class TemplateCounts:
    """Per request template: actions by final outcome, and attempts."""

    name: str
    actions: int
    attempts: int
    ok: int
    rejected: int
    errors: int
    timeouts: int
    """Of ``errors``: actions whose last attempt timed out."""
    cancelled: int
    """Actions still in flight at the time cap (no outcome; not in ``errors``)."""
    false_waits: int = 0
    """Of ``errors``: actions whose last answer was a false wait."""


@dataclass(frozen=True, slots=True)
class Progress:
    """The live numbers of the second that just ended (for a progress line)."""

    t_s: int
    offered_per_s: int
    achieved_per_s: int
    admitted_per_s: int
    rejected_per_s: int
    errors_per_s: int
    in_flight: int
    dropped: int
    p50_ms: float
    p99_ms: float
    lag_p99_ms: float
    false_waits_per_s: int = 0
    """Of ``errors_per_s``: false waits (the system answered, but no honest "wait")."""

    def line(self) -> str:
        return (
            f"t={self.t_s + 1:>4}s offered {self.offered_per_s:>6}/s achieved "
            f"{self.achieved_per_s:>6}/s admitted {self.admitted_per_s:>6}/s rejected "
            f"{self.rejected_per_s:>5}/s errors {self.errors_per_s:>5}/s in-flight "
            f"{self.in_flight:>5} p50 {self.p50_ms:8.1f} ms p99 {self.p99_ms:8.1f} ms"
            + (f"  DROPPED {self.dropped}" if self.dropped else "")
        )


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The outcome of a load run. Not ``valid`` means: do not judge the system on it."""

    valid: bool
    invalid_reason: str
    """Empty when valid; otherwise every reason, joined with '; '."""
    stop_reason: StopReason
    workers: int
    schedule_duration_s: float
    elapsed_s: float
    intended: int
    """Arrivals the schedule holds before the stop (offered)."""
    actions: int
    """Arrivals actually started (intended minus dropped minus those after a cap)."""
    attempts: int
    attempts_per_action: float
    ok: int
    rejected: int
    errors: int
    timeouts: int
    dropped: int
    cancelled: int
    offered_rate_per_s: float
    achieved_rate_per_s: float
    latency: LatencySummary
    """Every action with an outcome, from intended send to final answer."""
    ok_latency: LatencySummary
    lag: LatencySummary
    lag_bound_p99_ms: float
    templates: tuple[TemplateCounts, ...]
    series: tuple[SecondStats, ...]
    first_error: str
    """The message of the first failed attempt, to make an error rate explainable."""
    false_waits: int = 0
    """Of ``errors``: actions whose last answer was a false wait."""
    rejected_actions: tuple[int, ...] = ()
    """Schedule indexes of the actions told to wait (sorted; not in :meth:`to_json`)."""
    failed_actions: tuple[int, ...] = ()
    """Schedule indexes of the actions counted in ``errors`` (sorted; not in :meth:`to_json`)."""

    def to_json(self) -> dict[str, Any]:
        """Every figure as plain data; the per-action indexes are left out (they are for
        whoever sent the actions, not for a report)."""
        data = asdict(self)
        del data["rejected_actions"], data["failed_actions"]
        return data

    def summary(self) -> str:
        """A few lines for a terminal: verdict first, then rates, then latency."""
        status = "VALID" if self.valid else f"INVALID: {self.invalid_reason}"
        lat = self.latency
        lines = [
            f"load run {status} (stopped by {self.stop_reason}, {self.elapsed_s:.1f} s, "
            f"{self.workers} worker{'s' if self.workers != 1 else ''})",
            f"  offered {self.offered_rate_per_s:.1f}/s achieved {self.achieved_rate_per_s:.1f}/s"
            f"  actions {self.actions} of {self.intended} intended, dropped {self.dropped},"
            f" cancelled {self.cancelled}",
            f"  outcomes ok {self.ok} rejected {self.rejected} errors {self.errors}"
            f" (timeouts {self.timeouts}"
            + (f", false waits {self.false_waits}" if self.false_waits else "")
            + f"); attempts {self.attempts}"
            f" = {self.attempts_per_action:.2f} per action",
            f"  latency from intended send: p50 {lat.p50_ms:.1f} p90 {lat.p90_ms:.1f}"
            f" p99 {lat.p99_ms:.1f} p99.9 {lat.p999_ms:.1f} max {lat.max_ms:.1f} ms",
            f"  engine lag: p99 {self.lag.p99_ms:.1f} ms (bound {self.lag_bound_p99_ms:.0f} ms),"
            f" max {self.lag.max_ms:.1f} ms",
        ]
        lines += [
            f"  {t.name}: {t.actions} actions, {t.attempts} attempts, ok {t.ok},"
            f" rejected {t.rejected}, errors {t.errors}"
            for t in self.templates
        ]
        if self.first_error:
            lines.append(f"  first error: {self.first_error}")
        return "\n".join(lines)
