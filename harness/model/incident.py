"""An incident spec as values: journeys under load, the fault timeline, expectations;
and the experiment one run makes of it.

Read from YAML by :mod:`harness.files.incident_file`; an :class:`Experiment`
(an incident's under one profile, or a matrix cell's) is run by
:mod:`harness.experiment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.model.faults import Fault
from harness.model.topology import Slo, Topology

__all__ = [
    "INVARIANTS",
    "VERDICTS",
    "Expectation",
    "Experiment",
    "FaultStep",
    "IncidentSpec",
    "JourneyLoad",
]

#: What an expectation may allow a journey to be judged: ``failed`` allows a failure of
#: either kind; ``failed-fast`` / ``failed-slow`` only that kind (:mod:`harness.verdict`).
VERDICTS = ("healthy", "degraded", "failed", "failed-fast", "failed-slow")
#: Invariants every run checks, on every system; adapters add their own (the bank's ledger).
INVARIANTS = (
    "no_fault_left",
    "codes_truthful",
    "recovered",
    "surge_answered",
    "surge_recovered",
)


@dataclass(frozen=True, slots=True)
class JourneyLoad:
    """A journey driven by ``users`` virtual users, each pausing ``think_ms`` between calls."""

    journey: str
    users: int
    think_ms: int
    slo: Slo
    background: bool = False


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One fault of the timeline: applied ``onset_s`` after the fault phase starts,
    held ``hold_s``; a latency fault with ``ramp_s`` grows to its value over that time."""

    fault: Fault
    onset_s: float
    hold_s: float
    ramp_s: float = 0.0

    @property
    def end_s(self) -> float:
        return self.onset_s + self.hold_s


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a profile's run must show.

    ``journeys`` maps a journey to the verdicts allowed for it during the fault;
    ``codes`` maps a journey to error codes that must each be seen; ``invariants``
    maps an invariant to whether it must hold (True) or must be broken (False).
    """

    journeys: Mapping[str, tuple[str, ...]]
    codes: Mapping[str, tuple[str, ...]]
    invariants: Mapping[str, bool]

    @classmethod
    def nothing(cls) -> Expectation:
        """An expectation that asks nothing: a run judged on it passes unless it is
        inconclusive (a matrix cell, judged afterwards against each journey's contract)."""
        return cls({}, {}, {})


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    """What one run needs: the journeys under load, the fault timeline, how long each
    phase lasts, how long users wait, and the expectation the run is judged against.

    A run observes ``steady_state_s`` of steady state, plays the ``timeline``
    (each step's onset counted from the end of the steady state), then
    ``recovery_s`` from the moment the last fault is removed. ``journeys`` are
    judged; ``background`` journeys only load the system. Users give up on a
    call after ``client_timeout_s``. An incident gives one per profile
    (:meth:`IncidentSpec.experiment`); the matrix makes one per cell.
    """

    journeys: tuple[JourneyLoad, ...]
    timeline: tuple[FaultStep, ...]
    steady_state_s: float
    recovery_s: float
    client_timeout_s: float
    background: tuple[JourneyLoad, ...] = ()
    expect: Expectation = field(default_factory=Expectation.nothing)

    @property
    def fault_span_s(self) -> float:
        """From the start of the fault phase until the last fault is removed."""
        return max(step.end_s for step in self.timeline)

    @property
    def steady_window_s(self) -> tuple[float, float]:
        """When the steady state is observed (seconds from the start of observation)."""
        return 0.0, self.steady_state_s

    @property
    def fault_window_s(self) -> tuple[float, float]:
        """From the end of the steady state until the last fault is removed."""
        return self.steady_state_s, self.steady_state_s + self.fault_span_s

    @property
    def recovery_window_s(self) -> tuple[float, float]:
        """From the removal of the last fault until the run ends."""
        fault_end = self.fault_window_s[1]
        return fault_end, fault_end + self.recovery_s

    @property
    def floor_s(self) -> float:
        """Time a run cannot be shorter than: steady state, faults, recovery."""
        return self.recovery_window_s[1]

    @property
    def faulted_edges(self) -> set[str]:
        return {e for s in self.timeline if (e := s.fault.faulted_edge) is not None}

    @property
    def faulted_services(self) -> set[str]:
        return {v for s in self.timeline if (v := s.fault.faulted_service) is not None}


@dataclass(frozen=True)
class IncidentSpec:
    """An outage to replay: journeys, a fault timeline and what each profile must show."""

    id: str
    title: str
    date: str
    sources: tuple[str, ...]
    summary: str
    profiles: tuple[str, ...]
    journeys: tuple[JourneyLoad, ...]
    background: tuple[JourneyLoad, ...]
    timeline: tuple[FaultStep, ...]
    expect: Mapping[str, Expectation]
    steady_state_s: float
    recovery_s: float
    client_timeout_s: float
    topology: Topology | None = None
    path: Path | None = None

    def experiment(self, profile: str | None = None) -> Experiment:
        """The run this incident makes, judged against ``profile``'s expectation
        (KeyError for a profile it has none for; None: judged against nothing)."""
        return Experiment(
            journeys=self.journeys,
            background=self.background,
            timeline=self.timeline,
            steady_state_s=self.steady_state_s,
            recovery_s=self.recovery_s,
            client_timeout_s=self.client_timeout_s,
            expect=Expectation.nothing() if profile is None else self.expect[profile],
        )

    # The run's shape is the same under every profile: read from its experiment.
    @property
    def fault_span_s(self) -> float:
        """From the start of the fault phase until the last fault is removed."""
        return self.experiment().fault_span_s

    @property
    def floor_s(self) -> float:
        """Time a run cannot be shorter than: steady state, faults, recovery."""
        return self.experiment().floor_s

    @property
    def faulted_edges(self) -> set[str]:
        return self.experiment().faulted_edges

    @property
    def faulted_services(self) -> set[str]:
        return self.experiment().faulted_services
