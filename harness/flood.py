"""Floods: open-loop demand applied from an incident's timeline (:class:`~harness.faults.Flood`).

A flood turns a topology's journeys into :mod:`harness.loadgen` request
templates and drives them against the stack's entry on the crypto-crash
schedule, from a thread beside the run's observer, in a forked engine
process. Its virtual customers log in before the run starts (a login costs
nothing inside the measured window);
a journey whose headers hold ``{uuid}`` gets one key per user action, kept
across that action's retries, so a retried deposit is the same deposit.

The trigger (the hold) ends at the step's end; the flood then goes on at
its base rate for ``tail_s`` with the same retries. What the engine measured
is judged as two checks (:func:`flood_checks`): ``surge_answered`` (flood
actions were answered, not failed, and the admitted ones kept their SLO) and
``surge_recovered`` (the flood's own traffic was healthy again, every second
to its end, within ``tail_s`` of the trigger's end: the time to recover is
the figure). An engine that fell behind its schedule makes the run
inconclusive, never passed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import DominoError, FaultSpecError, StackError
from harness.faults import Flood
from harness.journeys import Journey, SessionError
from harness.loadgen import (
    CryptoCrash,
    LoadPlan,
    LoadResult,
    Progress,
    RequestContext,
    RequestTemplate,
    RetryPolicy,
    Sessions,
)
from harness.loadgen.errors import LoadEngineError, LoadPlanError
from harness.loadgen.workers import FINISH_MARGIN_S, READY_TIMEOUT_S, run_in_workers
from harness.stack import Stack
from harness.templates import placeholders
from harness.topology import CLIENT
from harness.verdict import InvariantVerdict

__all__ = [
    "FloodApplier",
    "FloodRun",
    "check_flood",
    "crash_shape",
    "flood_checks",
    "recovery_s",
]

#: Share of a flood's failed actions (errors and timeouts) still counted as answered.
ANSWERED_ERROR_SHARE = 0.01


def crash_shape(fault: Flood, hold_s: float) -> CryptoCrash:
    """The crypto-crash schedule of ``fault`` held for ``hold_s``, then its tail."""
    rise_s = min(1.0, 0.1 * hold_s)
    rest_s = hold_s - rise_s
    plateau = fault.plateau_per_s or fault.peak_per_s / 2
    return CryptoCrash(
        baseline_rate_per_s=fault.base_per_s,
        peak_rate_per_s=fault.peak_per_s,
        plateau_rate_per_s=max(plateau, fault.base_per_s),
        baseline_s=0.0,
        rise_s=rise_s,
        peak_s=0.35 * rest_s,
        settle_s=0.05 * rest_s,
        plateau_s=0.35 * rest_s,
        decay_s=0.25 * rest_s,
        tail_s=fault.tail_s,
    )


def _retry(fault: Flood) -> RetryPolicy:
    if fault.retry == "immediate":
        return RetryPolicy.immediate(fault.retries)
    if fault.retry == "backoff":
        return RetryPolicy.backoff(fault.retries)
    if fault.retry == "retry-after":
        return RetryPolicy.retry_after(fault.retries)
    return RetryPolicy.none()


_UUID = re.compile(r"\{uuid\}")


def _holds_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return bool(placeholders(value))
    if isinstance(value, dict):
        return any(_holds_placeholder(k) or _holds_placeholder(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_placeholder(v) for v in value)
    return False


def _template(journey: Journey, weight: float, run_id: str) -> RequestTemplate:
    """``journey`` as a request template; ``{uuid}`` in a header becomes one key per action."""
    fixed: list[tuple[str, str]] = []
    keyed: dict[str, str] = {}
    for name, value in journey.headers.items():
        names = set(placeholders(value))
        if names - {"uuid"}:
            raise FaultSpecError(
                f"flood on {journey.name}: header {name} uses {sorted(names - {'uuid'})}; a "
                "flood fills in only {uuid} (one key per action)"
            )
        if names:
            keyed[name] = value
        else:
            fixed.append((name, value))
    if placeholders(journey.path) or _holds_placeholder(journey.json_body):
        raise FaultSpecError(
            f"flood on {journey.name}: its path or JSON body holds placeholders; a flood sends "
            "one fixed body per journey"
        )

    def headers_for(ctx: RequestContext) -> dict[str, str]:
        key = f"{run_id}-{ctx.action_index}"
        return {name: _UUID.sub(key, value) for name, value in keyed.items()}

    success = frozenset(journey.expect) if journey.expect else frozenset(range(200, 300))
    return RequestTemplate(
        journey.name,
        journey.path,
        journey.method,
        headers=tuple(fixed),
        json_body=journey.json_body,
        weight=weight,
        success_statuses=success,
        header_factory=headers_for if keyed else None,
    )


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


def check_flood(fault: Flood, journeys: dict[str, Journey]) -> None:
    """Raise :class:`FaultSpecError` unless every journey of ``fault`` can be flooded."""
    for name in fault.journeys:
        _template(journeys[name], 1.0, "check")


class FloodApplier:
    """Applies :class:`Flood` faults on ``stack``; :meth:`finish` waits for their tails."""

    def __init__(
        self, stack: Stack, now_s: Callable[[], float], floods: list[tuple[Flood, float]]
    ) -> None:
        """``now_s`` is the run's clock; ``floods`` the run's floods with their holds."""
        self._stack = stack
        self._now_s = now_s
        self._ids = itertools.count(1)
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self.runs: dict[str, FloodRun] = {}
        self._sessions: list[dict[str, str]] = []
        self._holds = {id(f): hold for f, hold in floods}
        journeys = {j.name: j for j in stack.topology.journeys}
        for fault, _ in floods:  # every mistake before the run starts, not at the onset
            check_flood(fault, journeys)
        users = max((f.users for f, _ in floods), default=0)
        if users and stack.topology.session is not None:
            # Log every virtual customer in now, before the run's clock starts.
            people = stack.adapter.users(stack.topology)
            for _ in range(users):
                user = next(people)
                with stack.client(user=user, timeout_s=10.0) as client:
                    try:
                        self._sessions.append(client.session_headers())
                    except SessionError as exc:
                        raise StackError(f"a flood's virtual customer: {exc}") from None

    def plan_for(self, fault: Flood, hold_s: float, run_id: str) -> LoadPlan:
        """The load plan of ``fault`` held ``hold_s``; ``run_id`` prefixes its keys."""
        journeys = {j.name: j for j in self._stack.topology.journeys}
        templates = tuple(_template(journeys[name], 1.0, run_id) for name in fault.journeys)
        sessions = None
        if self._sessions:
            pool = self._sessions[: fault.users]
            sessions = Sessions(len(pool), lambda i: pool[i])
        shape = crash_shape(fault, hold_s)
        return LoadPlan(
            url=self._stack.entry_url,
            templates=templates,
            shape=shape,
            max_requests=fault.max_requests,
            # The last arrival's retries may each wait the whole timeout.
            max_duration_s=shape.duration_s + (fault.retries + 1) * (fault.timeout_s + 0.5) + 1.0,
            timeout_s=fault.timeout_s,
            retry=_retry(fault),
            sessions=sessions,
            max_in_flight=5_000,
            # Sending a fifth of the client's timeout late cannot turn an answer into a
            # timeout; latency is measured from the intended send time either way.
            lag_bound_p99_ms=max(100.0, 200.0 * fault.timeout_s),
            allowed_hosts=self._stack.allowed_hosts,
        )

    def apply(self, fault: Flood) -> tuple[str, str]:
        hold_s = self._holds.get(id(fault))
        if hold_s is None:
            raise FaultSpecError("a flood is applied only from an incident's timeline")
        journeys = {j.name: j for j in self._stack.topology.journeys}
        slo = max(journeys[name].slo.p95_ms for name in fault.journeys)
        handle = f"flood{next(self._ids)}"
        run_id = f"domino-{uuid.uuid4().hex[:12]}"
        plan = self.plan_for(fault, hold_s, run_id)
        run = FloodRun(fault, hold_s, slo, started_s=self._now_s(), plan=plan, run_id=run_id)

        def progress(p: Progress) -> None:
            run.answered += p.admitted_per_s + p.rejected_per_s

        control = self._stack.injector.control
        before = control.edge_calls()

        def drive() -> None:
            try:
                # In a process of its own (forked: the templates' key factories need no
                # pickling), so the run's own threads cannot make the engine lag.
                run.result = run_in_workers(plan, progress=progress, stop=self._stop)
            except (LoadEngineError, LoadPlanError, OSError) as exc:
                run.error = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(DominoError, OSError):  # evidence, not the run
                after = control.edge_calls()
                run.edge_calls = {e: after.get(e, 0) - before.get(e, 0) for e in after}

        thread = threading.Thread(target=drive, name=f"domino-{handle}", daemon=True)
        self.runs[handle] = run
        self._threads[handle] = thread
        thread.start()
        return f"{CLIENT}->{self._stack.topology.entry_service}", handle

    def remove(self, target: str, handle: str) -> None:
        """The trigger ends: nothing to undo, the flood's tail (base rate, same retries)
        is part of its schedule and runs on by itself; :meth:`finish` waits for it."""

    def answered(self, handle: str) -> int:
        """Flood attempts the system answered so far (whole seconds reported by the engine)."""
        run = self.runs.get(handle)
        return run.answered if run is not None else 0

    def finish(self) -> list[FloodRun]:
        """Wait for every flood to end: each is bounded by its plan's time cap (plus the
        engine's start and finish margins); one still running after that is stopped."""
        for handle, thread in self._threads.items():
            plan = self.runs[handle].plan
            cap_s = plan.max_duration_s if plan is not None else 0.0
            thread.join(cap_s + READY_TIMEOUT_S + FINISH_MARGIN_S)
        self.close()
        return list(self.runs.values())

    def close(self) -> None:
        """Stop every flood still running (its workers are terminated) and wait for it."""
        self._stop.set()
        for thread in self._threads.values():
            thread.join(FINISH_MARGIN_S)

    def __enter__(self) -> FloodApplier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        failed = result.errors  # timeouts are counted among the errors
        share = failed / result.actions if result.actions else 1.0
        ok_p99 = result.ok_latency.p99_ms
        good = result.ok > 0 and share <= ANSWERED_ERROR_SHARE and ok_p99 <= run.slo_p95_ms
        answered_ok &= good
        answered.append(
            f"{name}: {result.actions} actions, {result.ok} ok (p99 {ok_p99:.0f} ms, SLO "
            f"{run.slo_p95_ms:.0f} ms), {result.rejected} told to wait, {failed} failed "
            f"({share:.1%}); {result.attempts_per_action:.2f} attempts per action"
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
