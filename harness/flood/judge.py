"""Judging floods: ``surge_answered`` and ``surge_recovered`` from what the engine
measured and what the system's records say it applied, and why a flood's run
cannot be judged (it did not run, or fell behind)."""

from __future__ import annotations

from harness.flood.run import FloodRun, recovery_s
from harness.model.outcomes import InvariantVerdict

__all__ = ["ANSWERED_ERROR_SHARE", "flood_checks"]

#: Share of a flood's failed actions (errors and timeouts) still counted as answered.
ANSWERED_ERROR_SHARE = 0.01


def flood_checks(runs: list[FloodRun]) -> tuple[list[InvariantVerdict], list[str]]:
    """``surge_answered`` and ``surge_recovered`` over every flood; why a run can't be judged."""
    if not runs:
        return [], []
    unjudged: list[str] = []
    answered: list[str] = []
    answered_ok = True
    recovered: list[str] = []
    recovered_ok = True
    for run in runs:
        result = run.result
        name = "+".join(run.fault.journeys)
        if result is None:
            unjudged.append(f"flood on {name} did not run: {run.error or 'no result'}")
            continue
        if not result.valid:
            unjudged.append(f"flood on {name}: the engine fell behind: {result.invalid_reason}")
        told = run.outcomes()
        assert told is not None  # there is a result
        share = told.failed / result.actions if result.actions else 1.0
        ok_p99 = result.ok_latency.p99_ms
        # A false wait or a failure the system applied is not a shortfall of capacity but a
        # customer told something untrue: one is enough.
        good = (
            result.ok > 0
            and share <= ANSWERED_ERROR_SHARE
            and ok_p99 <= run.slo_p95_ms
            and told.false_waits == 0
            and not told.failed_but_applied
        )
        answered_ok &= good
        answered.append(
            f"{name}: {result.actions} actions, {result.ok} ok (p99 {ok_p99:.0f} ms, SLO "
            f"{run.slo_p95_ms:.0f} ms), {told.told_to_wait} told to wait, {told.failed} failed "
            f"({share:.1%}{_false_waits(told.false_waits)}){_applied(told.failed_but_applied)}; "
            f"{result.attempts_per_action:.2f} attempts per action"
            + "".join(f"; {reason}" for reason in run.unchecked)
        )
        took = recovery_s(run)
        ok = took is not None and took < run.fault.tail_s
        recovered_ok &= ok
        if took is None:
            last = result.series[-1] if result.series else None
            state = (
                f"; last second: {last.errors} failed, p99 {last.latency_p99_ms:.0f} ms"
                if last
                else ""
            )
            recovered.append(
                f"{name}: still overloaded {run.fault.tail_s:g} s after the trigger ended{state}"
            )
        else:
            recovered.append(
                f"{name}: healthy again {took:g} s after the trigger ended "
                f"(bound: the {run.fault.tail_s:g} s tail)"
            )
        if run.drained_s is not None:
            recovered[-1] += f"; every journey within its SLO {run.drained_s:g} s after the run"
        else:
            recovered[-1] += "; journeys still outside their SLO 120 s after the run"
    checks = [
        InvariantVerdict("surge_answered", answered_ok, "; ".join(answered)),
        InvariantVerdict("surge_recovered", recovered_ok, "; ".join(recovered)),
    ]
    return checks, unjudged


def _false_waits(count: int) -> str:
    return f", {count} of them false waits" if count else ""


def _applied(count: int | None) -> str:
    return "" if count is None else f", {count} failed but applied"
