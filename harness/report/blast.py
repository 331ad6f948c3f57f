"""The blast radius: how far a run's failure spread, per faulted place and journey.

With one faulted place the fault phase *is* that place's fault, so each cell is
the run's own fault-phase verdict. With several, each journey is judged again,
by the verdict's own rules (:func:`harness.verdict.judge_window`), over the
calls in flight while that place was faulted. That judgement happens here,
when the report data is built, so the renderers only show it.

Two ways in, one computation: :func:`blast_radius_of` from a finished run's
typed values (what :func:`harness.report.data.run_data` uses), and
:func:`blast_radius_from_run` from a run's report data (``report.json``), for a
report written before the blast radius was part of it, and for tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.experiment import RunResult
from harness.experiment.timeline import FaultWindow
from harness.model.outcomes import Observation
from harness.model.topology import Slo
from harness.report.model import BlastBasis, BlastCell, BlastPlace, BlastRadius, held_window
from harness.verdict import judge_window

__all__ = ["JudgedJourney", "blast_radius", "blast_radius_from_run", "blast_radius_of"]

_PHASES = ("steady", "during", "recovery")


class JudgedJourney(Protocol):
    """What the blast radius needs of a journey's fault-phase verdict.

    :class:`harness.verdict.JourneyVerdict` is one; so is a verdict read back
    from report data.
    """

    @property
    def journey(self) -> str:
        """The journey's name."""
        ...

    @property
    def verdict(self) -> str:
        """healthy, degraded, failed or no_data."""
        ...

    @property
    def reason(self) -> str:
        """Why, with the measured numbers."""
        ...

    @property
    def slo(self) -> Slo:
        """The journey's SLO, which a place's window is judged against too."""
        ...

    @property
    def failure(self) -> str | None:
        """For a failure: fast or slow (None otherwise, or in data written before)."""
        ...

    @property
    def failure_ms(self) -> float | None:
        """For a failure: how long its failing calls took (p95, ms)."""
        ...


@dataclass(frozen=True, slots=True)
class _ReadVerdict:
    """A fault-phase verdict read back from report data."""

    journey: str
    verdict: str
    reason: str
    slo: Slo
    failure: str | None = None
    failure_ms: float | None = None


def journey_order(judged: Iterable[Iterable[str]], observed: Iterable[str]) -> tuple[str, ...]:
    """Journeys in the incident's order (the verdict's, phase by phase), then any only observed."""
    names: list[str] = []
    for phase in judged:
        names += [name for name in phase if name not in names]
    for name in observed:
        if name not in names:
            names.append(name)
    return tuple(names)


def _cell(
    journey: str,
    judged: JudgedJourney | None,
    *,
    basis: BlastBasis,
    window_s: tuple[float, float],
    observations: Sequence[Observation],
    honest_codes: frozenset[str],
) -> BlastCell:
    if judged is None:
        # Observed but not one of the incident's journeys: it has no SLO to judge against.
        return BlastCell(journey, "no_data", "not judged")
    if basis == "fault_phase":
        return BlastCell(journey, judged.verdict, judged.reason, judged.failure, judged.failure_ms)
    # The same calls and rules as the run's fault verdict: every call in flight in the window.
    verdict = judge_window(observations, journey, judged.slo, *window_s, honest_codes=honest_codes)
    return BlastCell(journey, verdict.verdict, verdict.reason, verdict.failure, verdict.failure_ms)


def blast_radius(
    *,
    journeys: Sequence[str],
    faults: Sequence[FaultWindow],
    fault_window_s: tuple[float, float],
    during: Sequence[JudgedJourney],
    observations: Sequence[Observation],
    honest_codes: frozenset[str],
) -> BlastRadius:
    """The blast radius of one run, from typed values.

    ``journeys`` is the row order, ``faults`` the faults as the timeline held
    them, ``during`` the run's fault-phase verdicts, ``observations`` every
    journey call (background load excluded: it has no SLO) and ``honest_codes``
    the codes that count as an honest degradation.
    """
    targets: dict[str, list[FaultWindow]] = {}
    for fault in faults:
        targets.setdefault(fault.target, []).append(fault)
    basis: BlastBasis = "place_windows" if len(targets) > 1 else "fault_phase"
    judged = {v.journey: v for v in during}
    places = []
    for target, group in targets.items():
        if basis == "place_windows":
            held = [held_window(f.applied_s, f.removed_s, fault_window_s[1]) for f in group]
            window = (min(start for start, _ in held), max(end for _, end in held))
        else:
            window = fault_window_s
        cells = tuple(
            _cell(
                name,
                judged.get(name),
                basis=basis,
                window_s=window,
                observations=observations,
                honest_codes=honest_codes,
            )
            for name in journeys
        )
        places.append(
            BlastPlace(
                target=target,
                kinds=tuple(sorted({f.kind for f in group})),
                touched=any(f.touched for f in group),
                window_s=window,
                cells=cells,
            )
        )
    return BlastRadius(basis, tuple(journeys), tuple(places))


def blast_radius_of(result: RunResult) -> BlastRadius:
    """The blast radius of a finished run."""
    verdict = result.verdict
    return blast_radius(
        journeys=journey_order(
            (
                [v.journey for v in phase]
                for phase in (verdict.steady, verdict.during, verdict.recovery)
            ),
            (o.journey for o in result.observations),
        ),
        faults=result.faults,
        fault_window_s=result.fault_window_s,
        during=verdict.during,
        observations=result.observations,
        honest_codes=frozenset(result.honest_codes),
    )


def _observations(series: Mapping[str, Sequence[Sequence[Any]]]) -> list[Observation]:
    """Calls read back from a run's time series: ``[at_s, latency_ms, ok, code, degraded,
    answered]`` (older series stop after ``code`` or ``degraded``)."""
    observations = []
    for journey, points in series.items():
        for p in points:
            ok = bool(p[2])
            code = str(p[3]) if p[3] else None
            # Older series have no degraded flag; there a success that carries a code is
            # the service's notice of a degraded answer (e.g. CD001), which is what it means.
            degraded = bool(p[4]) if len(p) > 4 else ok and code is not None
            answered = bool(p[5]) if len(p) > 5 else True
            observations.append(
                Observation(
                    journey, float(p[0]), float(p[1]), ok, None, code, (), degraded, answered
                )
            )
    return observations


def blast_radius_from_run(run: Mapping[str, Any]) -> BlastRadius:
    """The blast radius of one run's report data (an entry of ``report.json``'s ``runs``)."""
    journeys = run["verdict"]["journeys"]
    during = [
        _ReadVerdict(
            str(j["journey"]),
            str(j["verdict"]),
            str(j["reason"]),
            Slo(float(j["slo"]["p95_ms"]), float(j["slo"]["success_rate"])),
            j.get("failure"),
            None if j.get("failure_ms") is None else float(j["failure_ms"]),
        )
        for j in journeys.get("during", [])
    ]
    faults = [
        FaultWindow(
            description=str(f["description"]),
            kind=str(f["kind"]),
            target=str(f["target"]),
            applied_s=float(f["applied_s"]),
            removed_s=float(f["removed_s"]),
            touched=bool(f["touched"]),
            evidence=str(f.get("evidence", "")),
        )
        for f in run["faults"]
    ]
    start_s, end_s = run["windows"]["fault"]
    return blast_radius(
        journeys=journey_order(
            ([str(j["journey"]) for j in journeys.get(phase, [])] for phase in _PHASES),
            run["timeseries"],
        ),
        faults=faults,
        fault_window_s=(float(start_s), float(end_s)),
        during=during,
        observations=_observations(run["timeseries"]),
        honest_codes=frozenset(str(c) for c in run.get("honest_codes", ())),
    )
