"""Counting during a run (one per worker process) and merging across workers.

:class:`Recorder` is the mutable, hot-path side; :class:`RawRun` and
:class:`RawSecond` are its picklable snapshots (histograms encoded), which the
parent merges exactly and turns into a :class:`~harness.loadgen.result.LoadResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harness.loadgen.histogram import LatencyHistogram
from harness.loadgen.result import (
    LatencySummary,
    LoadResult,
    Progress,
    SecondStats,
    StopReason,
    TemplateCounts,
)

__all__ = ["Outcome", "RawRun", "RawSecond", "Recorder", "build_result", "merge_seconds"]

Outcome = Literal["ok", "rejected", "false_wait", "http_error", "timeout", "transport", "client"]
"""An attempt's or an action's outcome: ``false_wait`` is a rejection status whose body the
template's wait check refused; it and the last four are errors."""

_SECOND_FIGURES = 2  # per-second histograms: 1 % precision is plenty for a plot


class _Second:
    __slots__ = (
        "completed",
        "dropped",
        "errors",
        "false_waits",
        "in_flight",
        "intended",
        "lag",
        "latency",
        "ok",
        "rejected",
        "retries_sent",
        "sent",
    )

    def __init__(self) -> None:
        self.intended = self.sent = self.retries_sent = self.completed = 0
        self.ok = self.rejected = self.errors = self.dropped = self.in_flight = 0
        self.false_waits = 0
        self.latency = LatencyHistogram(_SECOND_FIGURES)
        self.lag = LatencyHistogram(_SECOND_FIGURES)


@dataclass(frozen=True, slots=True)
class RawSecond:
    t_s: int
    intended: int
    sent: int
    retries_sent: int
    completed: int
    ok: int
    rejected: int
    errors: int
    dropped: int
    in_flight: int
    latency_hist: str
    lag_hist: str
    false_waits: int = 0


@dataclass(frozen=True, slots=True)
class RawTemplate:
    name: str
    actions: int
    attempts: int
    ok: int
    rejected: int
    errors: int
    timeouts: int
    cancelled: int
    false_waits: int = 0


@dataclass(frozen=True, slots=True)
class RawRun:
    stop_reason: StopReason
    elapsed_s: float
    intended: int
    actions: int
    attempts: int
    dropped: int
    cancelled: int
    latency_hist: str
    ok_latency_hist: str
    lag_hist: str
    templates: tuple[RawTemplate, ...]
    seconds: tuple[RawSecond, ...]
    first_error: str
    #: Schedule indexes of the actions that ended told to wait, and of those that failed.
    rejected_actions: tuple[int, ...] = ()
    failed_actions: tuple[int, ...] = ()


class Recorder:
    """Counts one worker's run; times are event-loop times, ``t0`` the schedule's start."""

    def __init__(self, template_names: Sequence[str], t0: float) -> None:
        self.t0 = t0
        self.names = tuple(template_names)
        self.seconds: list[_Second] = []
        self.latency = LatencyHistogram()
        self.ok_latency = LatencyHistogram()
        self.lag = LatencyHistogram()
        self.intended = self.actions = self.attempts = self.dropped = self.cancelled = 0
        n = len(self.names)
        self.t_actions = [0] * n
        self.t_attempts = [0] * n
        self.t_ok = [0] * n
        self.t_rejected = [0] * n
        self.t_errors = [0] * n
        self.t_timeouts = [0] * n
        self.t_false_waits = [0] * n
        self.t_cancelled = [0] * n
        # Which actions did not end ok (a list append per such action): whoever sent them
        # can ask the system afterwards which of them it applied anyway.
        self.rejected_actions: list[int] = []
        self.failed_actions: list[int] = []
        self.in_flight = 0
        self.first_error = ""

    def second(self, when: float) -> _Second:
        index = int(when - self.t0) if when > self.t0 else 0
        seconds = self.seconds
        while len(seconds) <= index:
            seconds.append(_Second())
        return seconds[index]

    def on_intended(self, intended_at: float) -> None:
        self.intended += 1
        self.second(intended_at).intended += 1

    def on_dropped(self, now: float) -> None:
        self.dropped += 1
        self.second(now).dropped += 1

    def on_action_start(self, template: int) -> None:
        self.actions += 1
        self.t_actions[template] += 1
        self.in_flight += 1

    def on_attempt_sent(self, now: float, intended_at: float, template: int, retry: bool) -> None:
        self.attempts += 1
        self.t_attempts[template] += 1
        lag_s = now - intended_at
        sec = self.second(now)
        if retry:
            sec.retries_sent += 1
        else:
            sec.sent += 1
        sec.in_flight = max(sec.in_flight, self.in_flight)
        self.lag.record_s(lag_s)
        sec.lag.record_s(lag_s)

    def on_attempt_done(self, now: float, outcome: Outcome, error: str = "") -> None:
        sec = self.second(now)
        sec.completed += 1
        if outcome == "ok":
            sec.ok += 1
        elif outcome == "rejected":
            sec.rejected += 1
        else:
            sec.errors += 1
            if outcome == "false_wait":
                sec.false_waits += 1
            if error and not self.first_error:
                self.first_error = error

    def on_action_done(
        self, now: float, intended_at: float, template: int, outcome: Outcome, index: int = -1
    ) -> None:
        """``index`` is the action's index in the schedule (-1: not known)."""
        self.in_flight -= 1
        latency_s = now - intended_at
        self.latency.record_s(latency_s)
        self.second(now).latency.record_s(latency_s)
        if outcome == "ok":
            self.t_ok[template] += 1
            self.ok_latency.record_s(latency_s)
        elif outcome == "rejected":
            self.t_rejected[template] += 1
            self.rejected_actions.append(index)
        else:
            self.t_errors[template] += 1
            self.failed_actions.append(index)
            if outcome == "timeout":
                self.t_timeouts[template] += 1
            elif outcome == "false_wait":
                self.t_false_waits[template] += 1

    def on_action_cancelled(self, template: int) -> None:
        self.in_flight -= 1
        self.cancelled += 1
        self.t_cancelled[template] += 1

    def raw_second(self, index: int) -> RawSecond:
        s = self.seconds[index] if index < len(self.seconds) else _Second()
        return RawSecond(
            t_s=index,
            intended=s.intended,
            sent=s.sent,
            retries_sent=s.retries_sent,
            completed=s.completed,
            ok=s.ok,
            rejected=s.rejected,
            errors=s.errors,
            dropped=s.dropped,
            in_flight=s.in_flight,
            latency_hist=s.latency.encode(),
            lag_hist=s.lag.encode(),
            false_waits=s.false_waits,
        )

    def snapshot(self, stop_reason: StopReason, elapsed_s: float) -> RawRun:
        return RawRun(
            stop_reason=stop_reason,
            elapsed_s=elapsed_s,
            intended=self.intended,
            actions=self.actions,
            attempts=self.attempts,
            dropped=self.dropped,
            cancelled=self.cancelled,
            latency_hist=self.latency.encode(),
            ok_latency_hist=self.ok_latency.encode(),
            lag_hist=self.lag.encode(),
            templates=tuple(
                RawTemplate(
                    name,
                    self.t_actions[i],
                    self.t_attempts[i],
                    self.t_ok[i],
                    self.t_rejected[i],
                    self.t_errors[i],
                    self.t_timeouts[i],
                    self.t_cancelled[i],
                    self.t_false_waits[i],
                )
                for i, name in enumerate(self.names)
            ),
            seconds=tuple(self.raw_second(i) for i in range(len(self.seconds))),
            first_error=self.first_error,
            rejected_actions=tuple(self.rejected_actions),
            failed_actions=tuple(self.failed_actions),
        )


def _summary(hist: LatencyHistogram) -> LatencySummary:
    return LatencySummary(
        count=hist.count,
        p50_ms=hist.percentile_ms(50),
        p90_ms=hist.percentile_ms(90),
        p99_ms=hist.percentile_ms(99),
        p999_ms=hist.percentile_ms(99.9),
        max_ms=hist.max_ms(),
        mean_ms=hist.mean_ms(),
    )


def _merge_hists(encoded: Sequence[str], figures: int = 3) -> LatencyHistogram:
    merged = LatencyHistogram(figures)
    for item in encoded:
        if item:
            merged.merge(LatencyHistogram.decode(item, figures))
    return merged


def merge_seconds(parts: Sequence[RawSecond]) -> tuple[SecondStats, Progress]:
    """The same second from every worker, as one :class:`SecondStats` and :class:`Progress`."""
    latency = _merge_hists([p.latency_hist for p in parts], _SECOND_FIGURES)
    lag = _merge_hists([p.lag_hist for p in parts], _SECOND_FIGURES)
    t_s = parts[0].t_s if parts else 0
    stats = SecondStats(
        t_s=t_s,
        intended=sum(p.intended for p in parts),
        sent=sum(p.sent for p in parts),
        retries_sent=sum(p.retries_sent for p in parts),
        completed=sum(p.completed for p in parts),
        ok=sum(p.ok for p in parts),
        rejected=sum(p.rejected for p in parts),
        errors=sum(p.errors for p in parts),
        dropped=sum(p.dropped for p in parts),
        in_flight=sum(p.in_flight for p in parts),
        latency_p50_ms=latency.percentile_ms(50),
        latency_p99_ms=latency.percentile_ms(99),
        lag_p99_ms=lag.percentile_ms(99),
        false_waits=sum(p.false_waits for p in parts),
    )
    progress = Progress(
        t_s=t_s,
        offered_per_s=stats.intended,
        achieved_per_s=stats.sent,
        admitted_per_s=stats.ok,
        rejected_per_s=stats.rejected,
        errors_per_s=stats.errors,
        in_flight=stats.in_flight,
        dropped=stats.dropped,
        p50_ms=stats.latency_p50_ms,
        p99_ms=stats.latency_p99_ms,
        lag_p99_ms=stats.lag_p99_ms,
        false_waits_per_s=stats.false_waits,
    )
    return stats, progress


def build_result(
    runs: Sequence[RawRun],
    *,
    schedule_duration_s: float,
    lag_bound_p99_ms: float,
    max_in_flight: int,
) -> LoadResult:
    """Merge the workers' runs and judge validity."""
    latency = _merge_hists([r.latency_hist for r in runs])
    ok_latency = _merge_hists([r.ok_latency_hist for r in runs])
    lag = _merge_hists([r.lag_hist for r in runs])
    n_seconds = max((len(r.seconds) for r in runs), default=0)
    series = tuple(
        merge_seconds([r.seconds[i] for r in runs if i < len(r.seconds)])[0]
        for i in range(n_seconds)
    )
    names = [t.name for t in runs[0].templates] if runs else []
    templates = tuple(
        TemplateCounts(
            name=name,
            actions=sum(r.templates[i].actions for r in runs),
            attempts=sum(r.templates[i].attempts for r in runs),
            ok=sum(r.templates[i].ok for r in runs),
            rejected=sum(r.templates[i].rejected for r in runs),
            errors=sum(r.templates[i].errors for r in runs),
            timeouts=sum(r.templates[i].timeouts for r in runs),
            cancelled=sum(r.templates[i].cancelled for r in runs),
            false_waits=sum(r.templates[i].false_waits for r in runs),
        )
        for i, name in enumerate(names)
    )
    stops = {r.stop_reason for r in runs}
    stop_reason: StopReason = (
        "time cap"
        if "time cap" in stops
        else "request cap"
        if "request cap" in stops
        else "schedule"
    )
    intended = sum(r.intended for r in runs)
    actions = sum(r.actions for r in runs)
    attempts = sum(r.attempts for r in runs)
    dropped = sum(r.dropped for r in runs)
    cancelled = sum(r.cancelled for r in runs)
    elapsed_s = max((r.elapsed_s for r in runs), default=0.0)

    reasons: list[str] = []
    if dropped:
        reasons.append(
            f"{dropped} arrivals dropped: the max in-flight cap ({max_in_flight}) was reached, "
            "so the schedule was not offered (rate x latency needs a higher cap)"
        )
    if lag.count and lag.percentile_ms(99) > lag_bound_p99_ms:
        reasons.append(
            f"engine lag p99 {lag.percentile_ms(99):.1f} ms > bound {lag_bound_p99_ms:g} ms: "
            "the generator fell behind its schedule"
        )
    if cancelled:
        reasons.append(
            f"{cancelled} actions were still in flight at the time cap and were cancelled: "
            "their latency is unknown"
        )
    # the offered window: the schedule, or as far as it got before a cap stopped it
    sent_window_s = max(min(schedule_duration_s, elapsed_s), 1e-9)
    return LoadResult(
        valid=not reasons,
        invalid_reason="; ".join(reasons),
        stop_reason=stop_reason,
        workers=len(runs),
        schedule_duration_s=schedule_duration_s,
        elapsed_s=elapsed_s,
        intended=intended,
        actions=actions,
        attempts=attempts,
        attempts_per_action=attempts / actions if actions else 0.0,
        ok=sum(t.ok for t in templates),
        rejected=sum(t.rejected for t in templates),
        errors=sum(t.errors for t in templates),
        timeouts=sum(t.timeouts for t in templates),
        dropped=dropped,
        cancelled=cancelled,
        offered_rate_per_s=intended / sent_window_s,
        achieved_rate_per_s=actions / sent_window_s,
        latency=_summary(latency),
        ok_latency=_summary(ok_latency),
        lag=_summary(lag),
        lag_bound_p99_ms=lag_bound_p99_ms,
        templates=templates,
        series=series,
        first_error=next((r.first_error for r in runs if r.first_error), ""),
        false_waits=sum(t.false_waits for t in templates),
        rejected_actions=tuple(sorted(i for r in runs for i in r.rejected_actions)),
        failed_actions=tuple(sorted(i for r in runs for i in r.failed_actions)),
    )
