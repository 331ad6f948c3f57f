"""A run: steady state, the fault timeline, recovery, then the verdict.

While virtual users take journeys continuously (:mod:`harness.observe`), the
run checks the steady state, plays the spec's fault timeline — each fault in a
scope that always removes it — keeps observing through recovery, and judges.
For every fault it records whether traffic actually crossed the faulted place
while the fault was held (Toxiproxy's byte counters and the services' own
call counters); a fault that touched nothing makes the run inconclusive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.errors import FaultSpecError, StackError
from harness.faults import EdgeFault, Fault, Latency, Surge
from harness.injection import AppliedFault
from harness.journeys import JourneyClient, Observation
from harness.observe import Observer, TrafficStats
from harness.readiness import ReadinessTimeoutError, wait_until
from harness.spec import FaultStep, IncidentSpec, JourneyLoad
from harness.stack import Stack
from harness.topology import CLIENT
from harness.verdict import InvariantVerdict, RunVerdict, judge_run, truthful_codes

__all__ = ["FaultWindow", "ProgressSink", "RunResult", "run_incident"]

#: Called about twice a second: phase, seconds elapsed, seconds remaining, traffic so far.
ProgressSink = Callable[[str, float, float, TrafficStats], None]


@dataclass
class FaultWindow:
    """When a fault was really held, and whether traffic met it."""

    description: str
    kind: str
    target: str
    applied_s: float = 0.0
    removed_s: float = 0.0
    touched: bool = False
    evidence: str = ""


@dataclass
class RunResult:
    """Everything one run measured, and its verdict."""

    spec: IncidentSpec
    profile: str
    backend: str
    toxiproxy_version: str
    started_at: str
    duration_s: float
    steady_window_s: tuple[float, float]
    fault_window_s: tuple[float, float]
    recovery_window_s: tuple[float, float]
    faults: list[FaultWindow]
    observations: list[Observation]
    background: list[Observation]
    verdict: RunVerdict
    service_invariants: dict[str, Any] = field(default_factory=dict)

    @property
    def overhead_s(self) -> float:
        """Wall time beyond the spec's floor (steady + faults + recovery)."""
        return self.duration_s - self.spec.floor_s


# -- counters that prove a fault met traffic -------------------------------------------


def _service_calls(stack: Stack) -> dict[str, int]:
    """Outbound calls per edge, from each service's own counters."""
    calls: dict[str, int] = {}
    headers = {"X-Admin-Token": stack.admin_token}
    for url in stack.services.values():
        try:
            response = httpx.get(f"{url}/admin/stats", headers=headers, timeout=2)
            deps = response.json().get("dependencies", {}) if response.is_success else {}
        except (httpx.HTTPError, ValueError):
            continue
        for dep in deps.values():
            if isinstance(dep, dict) and "edge" in dep:
                calls[str(dep["edge"])] = calls.get(str(dep["edge"]), 0) + int(dep.get("calls", 0))
    return calls


@dataclass(frozen=True, slots=True)
class _Counters:
    proxy_bytes: dict[str, int]
    edge_calls: dict[str, int]

    @classmethod
    def read(cls, stack: Stack) -> _Counters:
        return cls(stack.toxiproxy.proxy_bytes(), _service_calls(stack))


class _SurgeApplier:
    """Applies :class:`Surge` faults as extra users of the run's observer."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer
        self._stops: dict[str, threading.Event] = {}
        self._ids = itertools.count(1)

    def apply(self, fault: Surge) -> tuple[str, str]:
        journey = {j.name: j for j in self._observer.journeys}.get(fault.journey)
        if journey is None:
            raise FaultSpecError(f"surge on unknown journey {fault.journey!r}")
        load = JourneyLoad(fault.journey, fault.users, int(fault.think_ms), journey.slo, True)
        handle = f"surge{next(self._ids)}"
        self._stops[handle] = self._observer.add_load(load)
        return f"{CLIENT}->{self._observer.entry_service}", handle

    def remove(self, target: str, handle: str) -> None:
        stop = self._stops.pop(handle, None)
        if stop is not None:
            stop.set()


def _touched(
    stack: Stack, fault: Fault, before: _Counters, after: _Counters, client_calls: int
) -> tuple[bool, str]:
    if isinstance(fault, Surge):
        return client_calls > 0, f"{client_calls} surge calls entered through the client edge"
    if isinstance(fault, EdgeFault):
        edges = [fault.edge]
    else:
        service = str(getattr(fault, "service", ""))
        edges = [e.name for e in stack.topology.edges if e.target == service]
    evidence = []
    for edge in edges:
        proxy = stack.edges[edge].proxy
        grew = after.proxy_bytes.get(proxy, 0) - before.proxy_bytes.get(proxy, 0)
        calls = after.edge_calls.get(edge, 0) - before.edge_calls.get(edge, 0)
        if edge.startswith(f"{CLIENT}->"):
            calls = client_calls
        if grew > 0 or calls > 0:
            evidence.append(f"{edge}: {grew} bytes through the proxy, {calls} calls")
    if evidence:
        return True, "; ".join(evidence)
    return False, f"no bytes and no calls crossed {', '.join(edges)} while it was held"


# -- the timeline -----------------------------------------------------------------------


def _ramp_steps(step: FaultStep) -> list[tuple[float, Fault]]:
    """(offset_s, fault) pairs: a ramping latency grows in four steps, others apply once."""
    fault = step.fault
    if step.ramp_s <= 0 or not isinstance(fault, Latency):
        return [(0.0, fault)]
    parts = 4
    return [
        (
            step.ramp_s * k / parts,
            Latency(
                edge=fault.edge,
                latency_ms=round(fault.latency_ms * (k + 1) / parts),
                jitter_ms=fault.jitter_ms,
                stream=fault.stream,
                toxicity=fault.toxicity,
            ),
        )
        for k in range(parts)
    ]


def _target(fault: Fault) -> str:
    if isinstance(fault, EdgeFault):
        return fault.edge
    if isinstance(fault, Surge):
        return f"surge on {fault.journey}"
    return str(getattr(fault, "service", ""))


class _Timeline:
    """Applies and removes the spec's faults at their times; removes all on any exit."""

    def __init__(self, stack: Stack, steps: tuple[FaultStep, ...], observer: Observer) -> None:
        self._stack = stack
        self._observer = observer
        self._events: list[tuple[float, int, str, int, Fault | None]] = []
        for index, step in enumerate(steps):
            for offset_s, fault in _ramp_steps(step):
                self._events.append((step.onset_s + offset_s, 1, "apply", index, fault))
            self._events.append((step.end_s, 0, "remove", index, None))
        self._events.sort(key=lambda e: (e[0], e[1]))
        self._held: dict[int, AppliedFault] = {}
        self._before: dict[int, tuple[_Counters, int]] = {}
        self.windows = [
            FaultWindow(
                s.fault.describe(),
                s.fault.kind,
                _target(s.fault),
            )
            for s in steps
        ]

    def events(self) -> list[tuple[float, Callable[[], None]]]:
        return [
            (at_s, functools.partial(self._do, action, index, fault))
            for at_s, _order, action, index, fault in self._events
        ]

    def _client_calls(self) -> int:
        return self._observer.stats().calls

    def _do(self, action: str, index: int, fault: Fault | None) -> None:
        window = self.windows[index]
        if action == "apply":
            assert fault is not None
            if index in self._held:  # a ramp step replaces the previous one
                self._stack.injector.remove(self._held.pop(index))
            else:
                self._before[index] = (_Counters.read(self._stack), self._client_calls())
                window.applied_s = self._observer.now_s()
            self._held[index] = self._stack.injector.apply(fault)
        else:
            self._release(index)

    def _release(self, index: int) -> None:
        applied = self._held.pop(index, None)
        if applied is None:
            return
        self._stack.injector.remove(applied)
        window = self.windows[index]
        window.removed_s = self._observer.now_s()
        before, client_before = self._before[index]
        client_calls = self._client_calls() - client_before
        if isinstance(applied.fault, Surge):
            client_calls = sum(
                1
                for o in self._observer.observations(background=True)
                if o.journey == applied.fault.journey and o.at_s >= window.applied_s
            )
        window.touched, window.evidence = _touched(
            self._stack, applied.fault, before, _Counters.read(self._stack), client_calls
        )

    def release_all(self) -> None:
        for index in list(self._held):
            with contextlib.suppress(Exception):
                self._release(index)


# -- invariants -------------------------------------------------------------------------


def _service_invariants(stack: Stack) -> dict[str, Any]:
    headers = {"X-Admin-Token": stack.admin_token}
    found: dict[str, Any] = {}
    for name, url in stack.services.items():
        try:
            response = httpx.get(f"{url}/admin/invariants", headers=headers, timeout=5)
            found[name] = (
                response.json() if response.is_success else {"error": response.status_code}
            )
        except (httpx.HTTPError, ValueError) as exc:
            found[name] = {"error": type(exc).__name__}
    return found


def _failed_checks(report: Any, path: str = "") -> list[str]:
    """Every ``"ok": false`` (or ``"conserved": false``) anywhere in a service's report."""
    failed: list[str] = []
    if isinstance(report, dict):
        for key, value in report.items():
            where = f"{path}.{key}" if path else str(key)
            if key in ("ok", "conserved", "holds") and value is False:
                failed.append(path or key)
            elif key == "error" and path == "":
                failed.append(f"unreadable ({value})")
            else:
                failed += _failed_checks(value, where)
    elif isinstance(report, list):
        for i, item in enumerate(report):
            failed += _failed_checks(item, f"{path}[{i}]")
    return failed


def _ledger(reports: dict[str, Any]) -> InvariantVerdict:
    broken = [f"{service}: {c}" for service, r in reports.items() for c in _failed_checks(r)]
    if broken:
        return InvariantVerdict("ledger_conserved", False, "; ".join(broken[:5]))
    return InvariantVerdict(
        "ledger_conserved", True, f"{len(reports)} services report their books balanced"
    )


# -- the run ----------------------------------------------------------------------------


def _settle(stack: Stack, spec: IncidentSpec, timeout_s: float = 20.0) -> None:
    """Wait until every journey succeeds once (breakers closed, caches warm)."""
    journeys = {j.name: j for j in stack.topology.journeys}
    with JourneyClient(stack.entry_url, timeout_s=spec.client_timeout_s) as client:
        for load in (*spec.journeys, *spec.background):
            journey = journeys[load.journey]
            try:
                wait_until(
                    lambda j=journey: client.run(j).ok,  # type: ignore[misc]
                    timeout_s=timeout_s,
                    interval_s=0.1,
                    what=f"journey {journey.name} to succeed before the run",
                )
            except ReadinessTimeoutError as exc:
                raise StackError(f"the stack is not healthy before the fault: {exc}") from None


def run_incident(
    stack: Stack,
    spec: IncidentSpec,
    profile: str,
    *,
    progress: ProgressSink | None = None,
) -> RunResult:
    """Run ``spec`` on ``stack`` (already up with ``profile``) and judge it."""
    if stack.profile != profile:
        raise StackError(f"the stack runs profile {stack.profile!r}, not {profile!r}")
    report = progress or (lambda *_: None)
    began = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    stack.reset()
    _settle(stack, spec)

    observer = Observer(
        stack, (*spec.journeys, *spec.background), client_timeout_s=spec.client_timeout_s
    )
    timeline = _Timeline(stack, spec.timeline, observer)
    surges = _SurgeApplier(observer)
    stack.injector.register(Surge, surges)
    steady_end = spec.steady_state_s
    fault_end = steady_end + spec.fault_span_s
    run_end = fault_end + spec.recovery_s
    stop = threading.Event()
    observer.start()
    try:
        pending = sorted(
            ((steady_end + at_s, action) for at_s, action in timeline.events()),
            key=lambda e: e[0],
        )
        while True:
            now = observer.now_s()
            while pending and pending[0][0] <= now:
                pending.pop(0)[1]()
            if now >= run_end and not pending:
                break
            phase = "steady" if now < steady_end else ("fault" if now < fault_end else "recovery")
            report(phase, now, max(0.0, run_end - now), observer.stats())
            next_at = min([run_end, *(at for at, _ in pending[:1])])
            stop.wait(max(0.0, min(0.5, next_at - observer.now_s())))
    finally:
        timeline.release_all()
        stack.injector.unregister(surges)
        report("draining", observer.now_s(), 0.0, observer.stats())
        observer.stop()
    leftovers = stack.injector.leftovers()
    stack.reset()

    observations = observer.observations(background=False)
    fault_window = (steady_end, fault_end)
    in_fault = [
        o
        for o in observations
        if fault_window[0] <= o.at_s < fault_window[1] and (not o.ok or o.code)
    ]
    reports = _service_invariants(stack)
    recovery_half = (fault_end + spec.recovery_s / 2, run_end)
    recovered_late = [
        o for o in observations if recovery_half[0] <= o.at_s < recovery_half[1] and not o.ok
    ]
    recovered_calls = sum(1 for o in observations if recovery_half[0] <= o.at_s < recovery_half[1])
    invariants = [
        _ledger(reports),
        InvariantVerdict(
            "no_fault_left",
            not leftovers,
            "; ".join(leftovers) if leftovers else "no toxic, disabled proxy or admin rule left",
        ),
        truthful_codes(in_fault, spec.faulted_edges, spec.faulted_services),
        InvariantVerdict(
            "recovered",
            recovered_calls > 0 and not recovered_late,
            f"{recovered_calls - len(recovered_late)}/{recovered_calls} calls succeeded in the "
            f"second half of recovery",
        ),
    ]
    untouched = [f"{w.description}: {w.evidence}" for w in timeline.windows if not w.touched]
    verdict = judge_run(
        spec,
        profile,
        observations=observations,
        steady_window_s=(0.0, steady_end),
        fault_window_s=fault_window,
        recovery_window_s=(fault_end, run_end),
        untouched_faults=untouched,
        invariants=invariants,
    )
    return RunResult(
        spec=spec,
        profile=profile,
        backend=stack.backend,
        toxiproxy_version=stack.toxiproxy_version,
        started_at=started_at,
        duration_s=time.monotonic() - began,
        steady_window_s=(0.0, steady_end),
        fault_window_s=fault_window,
        recovery_window_s=(fault_end, run_end),
        faults=timeline.windows,
        observations=observations,
        background=observer.observations(background=True),
        verdict=verdict,
        service_invariants=reports,
    )
