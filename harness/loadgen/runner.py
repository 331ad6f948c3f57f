"""Running a load plan to its end: one worker on this process's event loop, or
several in worker processes (:mod:`harness.loadgen.workers`), merged into one result."""

from __future__ import annotations

from harness.errors import LoadPlanError
from harness.loadgen.engine import ProgressCallback, run_worker
from harness.loadgen.loop import run_on_fast_loop
from harness.loadgen.plan import LoadPlan
from harness.loadgen.recorder import RawSecond, build_result, merge_seconds
from harness.loadgen.result import LoadResult
from harness.loadgen.workers import run_in_workers

__all__ = ["run_load", "run_load_async"]


async def run_load_async(plan: LoadPlan, *, progress: ProgressCallback | None = None) -> LoadResult:
    """Run ``plan`` in this process, on the running event loop (``workers`` must be 1)."""
    plan.check()
    if plan.workers != 1:
        raise LoadPlanError("run_load_async runs one worker; use run_load for workers > 1")

    def on_second(raw: RawSecond) -> None:
        if progress is not None:
            progress(merge_seconds([raw])[1])

    raw = await run_worker(plan, on_second=on_second if progress else None)
    return build_result(
        [raw],
        schedule_duration_s=plan.shape.duration_s,
        lag_bound_p99_ms=plan.lag_bound_p99_ms,
        max_in_flight=plan.max_in_flight,
    )


def run_load(plan: LoadPlan, *, progress: ProgressCallback | None = None) -> LoadResult:
    """Run ``plan`` to the end (it always ends: schedule, request cap or time cap).

    The target is checked before anything is sent. With ``workers > 1`` the
    schedule runs in that many processes (see :mod:`harness.loadgen.workers`).
    """
    plan.check()
    if plan.workers == 1:
        return run_on_fast_loop(run_load_async(plan, progress=progress))
    return run_in_workers(plan, progress=progress)
