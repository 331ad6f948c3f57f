"""Why a pytest test on a Domino stack failed: its faults, its journey calls, and their phases.

A failing assertion says *what* a user saw (a status, a latency); this says
*why*, from what the test did: each fault it applied (kind, edge or service,
settings, when it was held), and each journey call with its phase — before
any fault, during one, or after one was removed — the answer's cause chain
when the system gave one, and otherwise the path Domino infers from the
topology: whether the faulted edge (or the edges into the faulted service)
is a hard or soft dependency of the journey, or not on its declared path.
The pytest plugin keeps a :class:`FailureStory` per test and adds its
:meth:`~FailureStory.text` to a failing test's report.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.model.faults import Fault
from harness.model.outcomes import Observation
from harness.model.topology import Journey, Topology
from harness.stack.injection import AppliedFault

__all__ = ["FailureStory"]

#: Journey calls listed in full; beyond this, the ones that failed or broke their
#: SLO first, then a count of the rest.
MAX_CALLS_SHOWN = 12


@dataclass(slots=True)
class _Held:
    fault: Fault
    applied_s: float
    removed_s: float | None = None


@dataclass(frozen=True, slots=True)
class _Call:
    journey: Journey
    seen: Observation
    started_s: float
    ended_s: float


@dataclass(slots=True)
class FailureStory:
    """What one test did to the stack and saw of it, on the monotonic clock."""

    topology: Topology
    started_s: float = field(default_factory=time.monotonic)
    held: list[_Held] = field(default_factory=list)
    calls: list[_Call] = field(default_factory=list)

    # -- recording (an Injector watcher and a JourneyClient observer) ------------------

    def fault_event(self, event: str, applied: AppliedFault) -> None:
        if event == "applied":
            self.held.append(_Held(applied.fault, applied.applied_at_s))
            return
        for held in self.held:
            if held.fault is applied.fault and held.removed_s is None:
                held.removed_s = time.monotonic()
                return

    def journey_called(self, journey: Journey, seen: Observation) -> None:
        ended_s = time.monotonic()
        self.calls.append(_Call(journey, seen, ended_s - seen.latency_ms / 1000.0, ended_s))

    # -- telling -----------------------------------------------------------------------

    def text(self) -> str:
        lines = ["times are seconds from the start of the test"]
        lines.append("faults the test applied:" if self.held else "faults: none applied")
        lines += [f"  {self._fault_line(h)}" for h in self.held]
        if not self.calls:
            lines.append("journey calls: none made through domino_user")
            return "\n".join(lines)
        lines.append(f"journey calls ({len(self.calls)}):")
        shown = self.calls
        if len(shown) > MAX_CALLS_SHOWN:
            bad = [c for c in shown if not self._good(c)]
            shown = (bad + [c for c in shown if self._good(c)])[:MAX_CALLS_SHOWN]
            shown.sort(key=lambda c: c.started_s)
        for call in shown:
            lines += self._call_lines(call)
        if len(shown) < len(self.calls):
            lines.append(f"  ... and {len(self.calls) - len(shown)} more")
        return "\n".join(lines)

    def _t(self, at_s: float) -> str:
        return f"{at_s - self.started_s:.2f} s"

    def _fault_line(self, held: _Held) -> str:
        until = "still held when the test failed"
        if held.removed_s is not None:
            until = f"removed at {self._t(held.removed_s)}"
        applied = self._t(held.applied_s)
        return f"{_where(held.fault)}: {held.fault!r}, applied at {applied}, {until}"

    @staticmethod
    def _good(call: _Call) -> bool:
        return call.seen.ok and call.seen.latency_ms <= call.journey.slo.p95_ms

    def _call_lines(self, call: _Call) -> list[str]:
        seen, journey = call.seen, call.journey
        status = "no answer" if seen.status is None else f"status {seen.status}"
        verdict = "ok" if seen.ok else f"failed ({seen.code or 'no code'})"
        if seen.degraded:
            verdict += ", degraded"
        slow = ""
        if seen.latency_ms > journey.slo.p95_ms:
            slow = f", over its SLO p95 of {journey.slo.p95_ms:,.0f} ms"
        lines = [
            f"  {journey.name} at {self._t(call.started_s)}: {verdict}, {status} after "
            f"{seen.latency_ms:,.0f} ms{slow}; {self._phase(call)}"
        ]
        if seen.cause:
            lines.append(f"      cause chain (from the answer): {_chain(seen.cause)}")
        for held in self._overlapping(call) or self._before(call):
            lines.append(f"      {self._path(journey, held.fault)}")
        return lines

    def _overlapping(self, call: _Call) -> list[_Held]:
        return [
            h
            for h in self.held
            if h.applied_s < call.ended_s and (h.removed_s is None or h.removed_s > call.started_s)
        ]

    def _before(self, call: _Call) -> list[_Held]:
        return [h for h in self.held if h.removed_s is not None and h.removed_s <= call.started_s]

    def _phase(self, call: _Call) -> str:
        during = self._overlapping(call)
        if during:
            return "phase: during " + ", ".join(_where(h.fault) for h in during)
        after = self._before(call)
        if after:
            return "phase: recovery, after " + ", ".join(_where(h.fault) for h in after) + " ended"
        return "phase: steady state, before any fault"

    def _path(self, journey: Journey, fault: Fault) -> str:
        """How ``fault`` sits on ``journey``'s declared path (the path Domino infers)."""
        declared = (
            f"hard {', '.join(journey.hard_deps) or 'none'}; "
            f"soft {', '.join(journey.soft_deps) or 'none'}"
        )
        edges = _edges_of(self.topology, fault)
        if not edges:
            return f"{_where(fault)}: no edge to place on its path (declared: {declared})"
        placed = []
        for edge in edges:
            if edge in journey.hard_deps:
                placed.append(f"{edge} is a hard dependency of {journey.name}")
            elif edge in journey.soft_deps:
                placed.append(f"{edge} is a soft dependency of {journey.name}")
        if not placed:
            return (
                f"{_where(fault)} is not on {journey.name}'s declared path ({declared}): "
                "if it still changed what the journey saw, a dependency is undeclared"
            )
        return f"inferred path: {'; '.join(placed)} (declared: {declared})"


def _where(fault: Fault) -> str:
    edge, service = getattr(fault, "edge", None), getattr(fault, "service", None)
    place = f"edge {edge}" if edge else f"service {service}" if service else "the system"
    return f"{fault.kind} on {place}"


def _edges_of(topology: Topology, fault: Fault) -> list[str]:
    edge, service = getattr(fault, "edge", None), getattr(fault, "service", None)
    if edge:
        return [str(edge)]
    if service:
        return [e.name for e in topology.edges if e.target == service]
    return []


def _chain(cause: tuple[Any, ...]) -> str:
    links = []
    for link in cause:
        if isinstance(link, Mapping):
            where = link.get("edge") or link.get("service") or "?"
            links.append(f"{where} ({link.get('kind', '?')})")
        else:
            links.append(str(link))
    return " <- ".join(links)
