"""Applying floods from a run's timeline: sessions logged in before the run, one
forked load engine per flood beside the run's observer, stopped with the run;
then, where the system can say, which of each flood's failed actions it applied."""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from harness.contracts import ReportsAppliedKeys
from harness.errors import (
    DominoError,
    FaultSpecError,
    LoadEngineError,
    LoadPlanError,
    SessionError,
    StackError,
)
from harness.flood.answers import applied_check, honest_wait, key_prefix
from harness.flood.plan import check_flood, crash_shape, flood_keyed, flood_retry, flood_template
from harness.flood.run import FloodRun
from harness.loadgen import LoadPlan, Progress, Sessions
from harness.loadgen.plan import Connection
from harness.loadgen.workers import FINISH_MARGIN_S, READY_TIMEOUT_S, run_in_workers
from harness.model.faults import Fault, Flood
from harness.model.topology import CLIENT, User
from harness.stack import Stack

__all__ = ["FloodApplier", "answered_in"]

#: How many of a flood's virtual customers log in at once before the run (one after
#: another, each over a new connection, 50 of them took 0.12 s of every flood run's start).
_LOGINS_AT_ONCE = 2


def answered_in(second: Progress) -> int:
    """Flood attempts the system answered in ``second``: ok, told to wait, or a false wait
    (no honest answer, but an answer: the flood met the system)."""
    return second.admitted_per_s + second.rejected_per_s + second.false_waits_per_s


class FloodApplier:
    """Applies :class:`Flood` faults on ``stack``; :meth:`finish` waits for their tails."""

    def __init__(
        self,
        stack: Stack,
        now_s: Callable[[], float],
        timeline: Sequence[tuple[Fault, float]],
        *,
        connection: Connection = "keep-alive",
    ) -> None:
        """``now_s`` is the run's clock; ``timeline`` the run's faults with their holds
        (the floods among them are this applier's);
        ``connection="per-request"`` makes Toxiproxy draw a partial toxic per request
        (it draws per connection, and kept-alive connections that drew "no" never do)."""
        self._stack = stack
        self._connection: Connection = connection
        self._now_s = now_s
        self._ids = itertools.count(1)
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self.runs: dict[str, FloodRun] = {}
        self._sessions: list[dict[str, str]] = []
        floods = [(fault, hold) for fault, hold in timeline if isinstance(fault, Flood)]
        self._holds = {id(f): hold for f, hold in floods}
        journeys = {j.name: j for j in stack.topology.journeys}
        for fault, _ in floods:  # every mistake before the run starts, not at the onset
            check_flood(fault, journeys)
        self._crowd = max((f.users for f, _ in floods), default=0)

    def log_in_crowd(self) -> None:
        """Log every virtual customer of the floods in, before the run's clock starts: a
        few at once, each over a kept-alive connection of its own. :meth:`close` (from
        another thread) stops it at the next login. StackError if one cannot log in."""
        stack = self._stack
        users = self._crowd
        if not users or stack.topology.session is None or self._sessions:
            return  # no crowd, or logged in already
        people = stack.adapter.users(stack.topology)
        crowd = [next(people) for _ in range(users)]
        share = -(-users // _LOGINS_AT_ONCE)

        def log_in(part: list[User]) -> list[dict[str, str]]:
            with stack.client(timeout_s=10.0, keepalive=True) as client:
                sessions = []
                for user in part:
                    if self._stop.is_set():
                        raise StackError("a flood's virtual customers: stopped while logging in")
                    try:
                        sessions.append(client.session_headers_for(user))
                    except SessionError as exc:
                        raise StackError(f"a flood's virtual customer: {exc}") from None
                return sessions

        parts = [crowd[i : i + share] for i in range(0, users, share)]
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            self._sessions = [s for done in pool.map(log_in, parts) for s in done]

    def plan_for(self, fault: Flood, hold_s: float, run_id: str) -> LoadPlan:
        """The load plan of ``fault`` held ``hold_s``; ``run_id`` prefixes its keys."""
        journeys = {j.name: j for j in self._stack.topology.journeys}
        adapter = self._stack.adapter
        templates = tuple(
            flood_template(journeys[name], 1.0, run_id, honest_wait(adapter, journeys[name]))
            for name in fault.journeys
        )
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
            retry=flood_retry(fault),
            sessions=sessions,
            max_in_flight=5_000,
            # Sending a fifth of the client's timeout late cannot turn an answer into a
            # timeout; latency is measured from the intended send time either way.
            lag_bound_p99_ms=max(100.0, 200.0 * fault.timeout_s),
            allowed_hosts=self._stack.allowed_hosts,
            connection=self._connection,
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
        adapter = self._stack.adapter
        run.waits_checked = bool(adapter.honest_codes)
        if not run.waits_checked:
            run.unchecked.append(
                f"every 429/503 counted as a wait: adapter {adapter.name} declares no honest codes"
            )

        def progress(p: Progress) -> None:
            run.answered += answered_in(p)

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

    def own_traffic(self, handle: str) -> tuple[int, str]:
        """Flood attempts the system answered so far (whole seconds reported by the engine)."""
        run = self.runs.get(handle)
        answered = run.answered if run is not None else 0
        return answered, f"{answered} flood attempts were answered by the system"

    def finish(self) -> list[FloodRun]:
        """Wait for every flood to end: each is bounded by its plan's time cap (plus the
        engine's start and finish margins); one still running after that is stopped.
        Then ask the system which failed actions it applied (:meth:`check_applied`)."""
        for handle, thread in self._threads.items():
            plan = self.runs[handle].plan
            cap_s = plan.max_duration_s if plan is not None else 0.0
            thread.join(cap_s + READY_TIMEOUT_S + FINISH_MARGIN_S)
        self.close()
        runs = list(self.runs.values())
        self.check_applied(runs)
        return runs

    def check_applied(self, runs: Iterable[FloodRun]) -> None:
        """Ask the system which of each flood's actions not ok it applied, where it can
        say (:class:`~harness.contracts.ReportsAppliedKeys`) and the journeys send keys;
        say why otherwise. A flood already checked is not asked again."""
        control = self._stack.injector.control
        journeys = {j.name: j for j in self._stack.topology.journeys}
        for run in runs:
            if run.result is None or run.applied is not None:
                continue
            keyed = [name for name in run.fault.journeys if flood_keyed(journeys[name])]
            why = "could not check which failed actions were applied"
            if not keyed:
                run.unchecked.append(f"{why}: its journeys send no key ({{uuid}} in a header)")
                continue
            if not isinstance(control, ReportsAppliedKeys):
                adapter = self._stack.adapter.name
                run.unchecked.append(f"{why}: adapter {adapter} cannot say which keys it applied")
                continue
            try:
                keys = control.applied_keys(key_prefix(run.run_id))
            except DominoError as exc:
                run.unchecked.append(f"{why}: {exc}")
                continue
            run.applied = applied_check(run.result, run.run_id, keys)
            unkeyed = [name for name in run.fault.journeys if name not in keyed]
            if unkeyed:
                run.unchecked.append(
                    f"{', '.join(unkeyed)} send no key: their failed actions were not checked"
                )

    def close(self) -> None:
        """Stop every flood still running (its workers are terminated) and wait for it."""
        self._stop.set()
        for thread in self._threads.values():
            thread.join(FINISH_MARGIN_S)

    def __enter__(self) -> FloodApplier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
