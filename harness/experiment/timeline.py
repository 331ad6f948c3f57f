"""The fault timeline of a run: each fault applied at its onset and removed at its end.

Every fault is held in a scope of the stack's injector
(:class:`~harness.stack.injection.FaultScope`), left at the fault's end and on
every other path (:meth:`Timeline.release_all`); each records when it was
really held and whether traffic met it (:mod:`harness.experiment.evidence`),
read once its scope has removed it. A latency fault with a ramp grows in four
steps, each step's scope left before the next one's is entered. Surges are
applied as extra users of the run's observer.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from harness.errors import FaultSpecError
from harness.experiment.evidence import Counters, touched
from harness.experiment.observe import Observer
from harness.model.faults import Fault, Surge
from harness.model.incident import FaultStep, JourneyLoad
from harness.model.topology import CLIENT
from harness.stack import Stack
from harness.stack.injection import AppliedFault

__all__ = ["FaultWindow", "SurgeApplier", "Timeline"]


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
    #: Bytes each edge's proxy carried while the fault was held (every edge of the stack):
    #: the matrix reads fallbacks from it, the edges that carried traffic only then.
    bytes_by_edge: dict[str, int] = field(default_factory=dict)


class SurgeApplier:
    """Applies :class:`Surge` faults as extra users of the run's observer."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer
        self._stops: dict[str, threading.Event] = {}
        self._started: dict[str, tuple[str, float]] = {}
        self._ids = itertools.count(1)

    def apply(self, fault: Surge) -> tuple[str, str]:
        journey = {j.name: j for j in self._observer.journeys}.get(fault.journey)
        if journey is None:
            raise FaultSpecError(f"surge on unknown journey {fault.journey!r}")
        load = JourneyLoad(fault.journey, fault.users, int(fault.think_ms), journey.slo, True)
        handle = f"surge{next(self._ids)}"
        self._started[handle] = (fault.journey, self._observer.now_s())
        self._stops[handle] = self._observer.add_load(load)
        return f"{CLIENT}->{self._observer.entry_service}", handle

    def own_traffic(self, handle: str) -> tuple[int, str]:
        """The surge's calls the run observed since it was applied."""
        journey, since_s = self._started[handle]
        calls = sum(
            1
            for o in self._observer.observations(background=True)
            if o.journey == journey and o.at_s >= since_s
        )
        return calls, f"{calls} surge calls entered through the client edge"

    def remove(self, target: str, handle: str) -> None:
        stop = self._stops.pop(handle, None)
        if stop is not None:
            stop.set()


def _ramp_steps(step: FaultStep) -> list[tuple[float, Fault]]:
    """(offset_s, fault) pairs: a ramping latency grows in four steps, others apply once."""
    fault = step.fault
    parts = 4
    steps = [(step.ramp_s * k / parts, fault.ramped((k + 1) / parts)) for k in range(parts)]
    if step.ramp_s <= 0 or any(f is None for _, f in steps):
        return [(0.0, fault)]
    return [(at_s, f) for at_s, f in steps if f is not None]


class Timeline:
    """Applies and removes the spec's faults at their times; removes all on any exit."""

    def __init__(
        self,
        stack: Stack,
        steps: tuple[FaultStep, ...],
        observer: Observer,
        *,
        crossings: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self._stack = stack
        self._observer = observer
        self._crossings = crossings
        self._events: list[tuple[float, int, str, int, Fault | None]] = []
        for index, step in enumerate(steps):
            for offset_s, fault in _ramp_steps(step):
                self._events.append((step.onset_s + offset_s, 1, "apply", index, fault))
            self._events.append((step.end_s, 0, "remove", index, None))
        self._events.sort(key=lambda e: (e[0], e[1]))
        #: Each step held now: its fault scope, open, and the fault as the scope applied it.
        self._held: dict[int, tuple[contextlib.ExitStack, AppliedFault]] = {}
        self._before: dict[int, tuple[Counters, int]] = {}
        self._begun: dict[int, dict[str, int]] = {}
        self.windows = [
            FaultWindow(
                s.fault.describe(),
                s.fault.kind,
                s.fault.target,
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
                scope, _ = self._held.pop(index)
                scope.close()
            else:
                self._before[index] = (Counters.read(self._stack), self._client_calls())
                self._begun[index] = self._observer.calls_started()
                window.applied_s = self._observer.now_s()
            scope = contextlib.ExitStack()
            (applied,) = scope.enter_context(self._stack.injector.scope(fault))
            self._held[index] = (scope, applied)
        else:
            self._release(index)

    def _release(self, index: int) -> None:
        held = self._held.pop(index, None)
        if held is None:
            return
        scope, applied = held
        # Leaving the scope removes the fault; what it counted is read after removal (a
        # down edge on Domino's server keeps the count it read just before).
        scope.close()
        window = self.windows[index]
        window.removed_s = self._observer.now_s()
        before, client_before = self._before[index]
        client_calls = self._client_calls() - client_before
        own = self._stack.injector.own_traffic(applied)
        started_before = self._begun[index]
        started_after = self._observer.calls_started()
        active = {
            journey: started_after.get(journey, 0) - started_before.get(journey, 0)
            for journey in started_after
        }
        after = Counters.read(self._stack)
        window.bytes_by_edge = {
            name: after.proxy_bytes.get(endpoint.proxy, 0)
            - before.proxy_bytes.get(endpoint.proxy, 0)
            for name, endpoint in self._stack.edges.items()
        }
        window.touched, window.evidence = touched(
            self._stack,
            applied.fault,
            before,
            after,
            client_calls,
            active_calls=active,
            crossings=self._crossings,
            own_traffic=own,
        )

    def release_all(self) -> None:
        for index in list(self._held):
            with contextlib.suppress(Exception):
                self._release(index)
