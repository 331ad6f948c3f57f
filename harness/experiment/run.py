"""A run: settle, steady state, the fault timeline, recovery, then the verdict.

:func:`run_experiment` runs an :class:`~harness.model.incident.Experiment`
(journeys, background, timeline, phase lengths, expectation): while virtual
users take journeys continuously (:mod:`.observe`), the run checks the
steady state, plays the fault timeline (:mod:`.timeline`) — each fault in a
scope that always removes it — keeps observing through recovery, and judges
(:mod:`harness.verdict`). A fault that touched no traffic (:mod:`.evidence`),
or a journey with no call in flight while it was held, makes the run
inconclusive. :func:`run_incident` runs an incident's experiment under one
profile; the matrix runs one per cell.

A service that dies during the run without a fault of the run that explains
it (a crash or stop fault explains its own target, nothing else does) is a
finding: the backend's service control sees it (it knows which services it
brought down itself), the run looks twice a second, and reports which service,
when, its exit status and last log lines (:class:`ServiceDeathFinding`). Such a
run is inconclusive: Domino cannot tell the system's own crash from something
outside it (an operator, the OOM killer), and everything measured after the
death measured an experiment the spec did not describe. The dead service is
started again once the run's faults are removed, and the report says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from harness.contracts import ServiceControl, ServiceDeath
from harness.errors import SessionError, StackError
from harness.experiment.flooding import FloodApplier
from harness.experiment.observe import Observer, TrafficStats
from harness.experiment.timeline import FaultWindow, SurgeApplier, Timeline
from harness.flood import FloodRun, flood_checks
from harness.infra.readiness import ReadinessTimeoutError, wait_until
from harness.model.faults import Flood, Surge
from harness.model.incident import Experiment, IncidentSpec
from harness.model.outcomes import InvariantVerdict, Observation, RunVerdict
from harness.model.topology import Journey, User
from harness.stack import Stack
from harness.verdict import calls_in_window, judge_run, truthful_codes

__all__ = [
    "ExperimentResult",
    "ProgressSink",
    "RunResult",
    "ServiceDeathFinding",
    "run_experiment",
    "run_incident",
]

#: Called about twice a second: phase, seconds elapsed, seconds remaining, traffic so far.
ProgressSink = Callable[[str, float, float, TrafficStats], None]


@dataclass(frozen=True, slots=True)
class ServiceDeathFinding:
    """A service that died during a run without a fault of the run that explains it.

    ``at_s`` is run time (seconds from the start of observation; negative: before
    it, as the run began): when the service exited where the backend knows
    (``exited_known``), else when the run first found it dead (it looks twice a
    second). ``exit_code`` is the backend's (a process's return code, negative
    for a signal; a container's exit code), ``exit_status`` the same in words.
    """

    service: str
    at_s: float
    exited_known: bool
    exit_code: int | None
    exit_status: str
    log_tail: tuple[str, ...]

    @classmethod
    def of(cls, death: ServiceDeath, origin_s: float) -> ServiceDeathFinding:
        """``death`` (monotonic times) on the run's clock, which started at ``origin_s``."""
        return cls(
            service=death.service,
            at_s=death.died_at_s - origin_s,
            exited_known=death.exited_at_s is not None,
            exit_code=death.exit_code,
            exit_status=death.exit_status,
            log_tail=death.log_tail,
        )

    def describe(self) -> str:
        """One line: which service, when, how it ended, that nothing explains it, what was done."""
        if self.at_s < 0:
            when = "was found dead as the run began"
        else:
            when = f"{'died' if self.exited_known else 'was found dead'} at {self.at_s:.1f} s"
        return (
            f"service {self.service} {when} with no fault of the run to explain it "
            f"({self.exit_status}); Domino started it again"
        )

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data (``run["service_deaths"]`` in the report)."""
        return {
            "service": self.service,
            "at_s": round(self.at_s, 3),
            "exited_known": self.exited_known,
            "exit_code": self.exit_code,
            "exit_status": self.exit_status,
            "log_tail": list(self.log_tail),
            "description": self.describe(),
        }


@dataclass
class ExperimentResult:
    """Everything one run of ``experiment`` measured, and its verdict."""

    experiment: Experiment
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
    #: The topology's name and adapter, and what the adapter says each code seen means.
    topology: str = ""
    adapter: str = ""
    honest_codes: tuple[str, ...] = ()
    code_meanings: dict[str, str] = field(default_factory=dict)
    #: Each flood's schedule and what the load engine measured (:class:`~harness.flood.FloodRun`).
    floods: list[dict[str, Any]] = field(default_factory=list)
    #: Services that died with no fault of the run to explain them (each makes it inconclusive).
    service_deaths: list[ServiceDeathFinding] = field(default_factory=list)

    @property
    def overhead_s(self) -> float:
        """Wall time beyond the experiment's floor (steady + faults + recovery)."""
        return self.duration_s - self.experiment.floor_s


@dataclass
class RunResult(ExperimentResult):
    """One run of an incident under ``profile``: what its experiment measured, and the
    incident it replayed (which the reports describe)."""

    #: The spec's experiment under ``profile``: derived from them, never given.
    experiment: Experiment = field(init=False)
    spec: IncidentSpec = field(kw_only=True)

    def __post_init__(self) -> None:
        self.experiment = self.spec.experiment(self.profile)

    @classmethod
    def of(cls, spec: IncidentSpec, measured: ExperimentResult) -> RunResult:
        """``measured`` (a run of ``spec``'s experiment) as a run of the incident."""
        given = {f.name for f in dataclasses.fields(cls) if f.init and f.name != "spec"}
        return cls(spec=spec, **{name: getattr(measured, name) for name in given})


# -- the run ----------------------------------------------------------------------------


def _deaths_since(services: ServiceControl | None, began_s: float) -> list[ServiceDeath]:
    """The deaths the backend's service control has seen since ``began_s`` (monotonic);
    looking is what finds them, so the run calls this twice a second."""
    if services is None:
        return []
    return [d for d in services.deaths() if d.seen_at_s >= began_s]


def _start_again(services: ServiceControl | None, deaths: list[ServiceDeath]) -> None:
    """Start each dead service again (a no-op for one already running): its death is recorded."""
    if services is not None:
        for service in dict.fromkeys(d.service for d in deaths):
            services.start(service)


def _after_the_faults(
    stack: Stack, experiment: Experiment, flood_runs: list[FloodRun], began_s: float
) -> tuple[list[str], list[ServiceDeath]]:
    """Once the timeline's faults are removed: what they left behind, the stack reset (and
    drained after a flood), and every death seen since ``began_s``, each service started again.

    A dead service is started before leftovers are read: its death is the finding, not a
    fault left behind.
    """
    services = stack.injector.services
    _start_again(services, _deaths_since(services, began_s))
    leftovers = stack.injector.leftovers()
    stack.reset()
    _wait_for_drain(stack, experiment, flood_runs)
    deaths = _deaths_since(services, began_s)  # and any the reset or the drain found
    _start_again(services, deaths)
    return leftovers, deaths


def _wait_for_drain(stack: Stack, experiment: Experiment, flood_runs: list[FloodRun]) -> None:
    """After a run with floods, wait for the system to serve again; record how long it took."""
    if flood_runs:
        drained_s = _drained(stack, experiment)
        for run in flood_runs:
            run.drained_s = drained_s


def _until_each_journey(
    stack: Stack,
    experiment: Experiment,
    good: Callable[[Journey, Observation], bool],
    *,
    timeout_s: float,
    what: str,
    in_a_row: int = 1,
    interval_s: float = 0.1,
) -> None:
    """Take every one of the experiment's journeys at once, each until ``in_a_row`` answers
    in a row are ``good``, within ``timeout_s``; raise :class:`StackError` naming the first
    journey (in the experiment's order) that did not, and its last answer.

    Each journey as a virtual user of its own, with a client of its own: the
    person tests act as (the bank's c0001) would otherwise pay for every run's
    settling, and be drained by them. Taken one after another, the journeys
    cost a matrix cell the sum of their latencies; at once, the longest.
    """
    journeys = {j.name: j for j in stack.topology.journeys}
    wanted = [
        journeys[name]
        for name in dict.fromkeys(
            load.journey for load in (*experiment.journeys, *experiment.background)
        )
    ]
    users = stack.adapter.users(stack.topology)
    people = [next(users) for _ in wanted]
    stop = threading.Event()
    failed: dict[str, str] = {}

    def until_good(journey: Journey, user: User) -> None:
        last: list[Observation] = []
        streak = [0]
        with stack.client(user=user, timeout_s=experiment.client_timeout_s) as client:

            def answered_well() -> bool:
                try:
                    last[:] = [client.run(journey)]
                except SessionError:  # the login itself did not get through (yet)
                    streak[0] = 0
                    return False
                streak[0] = streak[0] + 1 if good(journey, last[0]) else 0
                return streak[0] >= in_a_row

            try:
                wait_until(
                    answered_well,
                    timeout_s=timeout_s,
                    interval_s=interval_s,
                    what=f"journey {journey.name} {what}",
                    abort=lambda: "given up" if stop.is_set() else None,
                )
            except ReadinessTimeoutError as exc:
                answer = last[0] if last else None
                saw = (
                    f"; last answer: status {answer.status}, code {answer.code or 'none'}"
                    if answer is not None
                    else ""
                )
                failed[journey.name] = f"{exc}{saw}"

    with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
        futures = [pool.submit(until_good, j, u) for j, u in zip(wanted, people, strict=True)]
        try:
            for future in futures:
                future.result()
        finally:
            stop.set()  # an interrupt or an error here: the others stop at their next answer
    for journey in wanted:
        if journey.name in failed:
            raise StackError(failed[journey.name])


def _drained(stack: Stack, experiment: Experiment, timeout_s: float = 120.0) -> float | None:
    """Seconds after a flood's end until every journey succeeds within its SLO again.

    A system without flow control may still be working through what the
    flood left queued (work whose clients gave up long ago); the next run
    must not start inside that. None when it did not drain within ``timeout_s``.
    """
    began = time.monotonic()
    try:
        _until_each_journey(
            stack,
            experiment,
            lambda j, seen: seen.ok and seen.latency_ms <= j.slo.p95_ms,
            timeout_s=timeout_s,
            what="within its SLO after the flood",
        )
    except StackError:
        return None
    return round(time.monotonic() - began, 1)


def _settle(
    stack: Stack,
    experiment: Experiment,
    timeout_s: float = 20.0,
    *,
    quiet_timeout_s: float | None = None,
) -> None:
    """Wait until every journey succeeds once, not degraded (breakers closed, caches warm).

    Healthy, not merely ok: a degraded answer (a breaker still open from the
    previous run) would spoil the steady state that follows.

    With ``quiet_timeout_s``, first wait (that long at most) for the stack to
    be quiet: every journey answering well twice in a row, within its SLO.
    Quiet is healthy and more, so it settles the run; a stack not quiet in
    time settles as above.
    """
    if quiet_timeout_s is not None:
        try:
            _until_each_journey(
                stack,
                experiment,
                lambda j, seen: seen.ok and not seen.degraded and seen.latency_ms <= j.slo.p95_ms,
                timeout_s=quiet_timeout_s,
                what="to answer well twice in a row before the run",
                in_a_row=2,
                interval_s=0.05,
            )
        except StackError:
            pass  # not quiet in time: it may still be healthy enough to run
        else:
            return
    try:
        _until_each_journey(
            stack,
            experiment,
            lambda _j, seen: seen.ok and not seen.degraded,
            timeout_s=timeout_s,
            what="to succeed before the run",
        )
    except StackError as exc:
        raise StackError(f"the stack is not healthy before the fault: {exc}") from None


def _settle_and_log_in(
    stack: Stack,
    experiment: Experiment,
    floods: FloodApplier,
    observer: Observer,
    *,
    quiet_timeout_s: float | None,
) -> None:
    """Settle the stack while the floods' crowd and the run's virtual users log in: both
    wait on the system far more than on the runner, so side by side they cost the longer
    of the two. Logins that failed are made again once the stack has settled (they were
    made before: a breaker of the run before may still have been open); settling that
    fails stops the logins at their next one, and closes the clients they made, before it
    is raised."""
    stop = threading.Event()

    def log_in() -> None:
        floods.log_in_crowd()
        observer.log_in(stop)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="domino-logins")
    logins = pool.submit(log_in)
    try:
        _settle(stack, experiment, quiet_timeout_s=quiet_timeout_s)
        try:
            logins.result()
        except (StackError, SessionError):
            log_in()  # settled now: what is not logged in yet, once more
    except BaseException:
        stop.set()
        floods.close()  # the crowd's logins stop at their next one too
        pool.shutdown(wait=True)
        observer.stop()  # the run never starts: its virtual users' clients are closed
        raise
    finally:
        pool.shutdown(wait=True)


def run_incident(
    stack: Stack,
    spec: IncidentSpec,
    profile: str,
    *,
    progress: ProgressSink | None = None,
    crossings: Mapping[str, Collection[str]] | None = None,
) -> RunResult:
    """Run ``spec`` on ``stack`` (already up with ``profile``) and judge it against what
    ``profile`` expects (see :func:`run_experiment`)."""
    if stack.profile != profile:
        raise StackError(f"the stack runs profile {stack.profile!r}, not {profile!r}")
    measured = run_experiment(
        stack, spec.experiment(profile), progress=progress, crossings=crossings
    )
    return RunResult.of(spec, measured)


def run_experiment(
    stack: Stack,
    experiment: Experiment,
    *,
    progress: ProgressSink | None = None,
    crossings: Mapping[str, Collection[str]] | None = None,
    quiet_timeout_s: float | None = None,
) -> ExperimentResult:
    """Run ``experiment`` on ``stack`` and judge it against its expectation.

    ``crossings`` (journey -> edges it was observed to cross) lets a fault
    whose traffic Toxiproxy has not counted yet be judged touched, saying so.
    ``quiet_timeout_s`` asks for a quiet stack before the run, not only a
    healthy one (see ``_settle``): the matrix's cells, one after another on
    one stack, so that the last cell has worn off.
    """
    report = progress or (lambda *_: None)
    began = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    stack.reset()
    observer = Observer(
        stack,
        (*experiment.journeys, *experiment.background),
        client_timeout_s=experiment.client_timeout_s,
    )
    floods = FloodApplier(stack, observer.now_s, [(s.fault, s.hold_s) for s in experiment.timeline])
    _settle_and_log_in(stack, experiment, floods, observer, quiet_timeout_s=quiet_timeout_s)
    timeline = Timeline(stack, experiment.timeline, observer, crossings=crossings)
    surges = SurgeApplier(observer)
    stack.injector.register(Surge, surges)
    stack.injector.register(Flood, floods)
    services = stack.injector.services
    steady_end, fault_end = experiment.fault_window_s
    run_end = experiment.floor_s
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
            _deaths_since(services, began)  # looking is what dates a death
            if now >= run_end and not pending:
                break
            phase = "steady" if now < steady_end else ("fault" if now < fault_end else "recovery")
            report(phase, now, max(0.0, run_end - now), observer.stats())
            next_at = min([run_end, *(at for at, _ in pending[:1])])
            stop.wait(max(0.0, min(0.5, next_at - observer.now_s())))
        # A flood's tail runs on at its base rate; wait for it (bounded by its time cap).
        flood_runs = floods.finish()
    finally:
        timeline.release_all()
        stack.injector.unregister(surges)
        stack.injector.unregister(floods)
        report("draining", observer.now_s(), 0.0, observer.stats())
        floods.close()  # on any other exit, a flood still running is stopped here
        observer.stop()
    leftovers, deaths = _after_the_faults(stack, experiment, flood_runs, began)
    found = [ServiceDeathFinding.of(d, observer.origin_s) for d in deaths]
    dead = {d.service for d in deaths}

    observations = observer.observations(background=False)
    background = observer.observations(background=True)
    surge_checks, unjudged_floods = flood_checks(flood_runs)
    invariants = surge_checks + _invariants(stack, experiment, observations, leftovers, dead)
    reports = stack.injector.control.reports()
    untouched = [f"{w.description}: {w.evidence}" for w in timeline.windows if not w.touched]
    verdict = judge_run(
        experiment,
        honest_codes=stack.adapter.honest_codes,
        observations=observations,
        untouched_faults=untouched,
        invariants=invariants,
        unjudged=unjudged_floods,
        deaths=[f.describe() for f in found],
    )
    return ExperimentResult(
        experiment=experiment,
        profile=stack.profile,
        backend=stack.backend,
        toxiproxy_version=stack.toxiproxy_version,
        started_at=started_at,
        duration_s=time.monotonic() - began,
        steady_window_s=experiment.steady_window_s,
        fault_window_s=experiment.fault_window_s,
        recovery_window_s=experiment.recovery_window_s,
        faults=timeline.windows,
        observations=observations,
        background=background,
        verdict=verdict,
        service_invariants=reports,
        topology=stack.topology.name,
        adapter=stack.adapter.name,
        honest_codes=tuple(sorted(stack.adapter.honest_codes)),
        code_meanings=_meanings(stack, [*observations, *background]),
        floods=[run.as_dict() for run in flood_runs],
        service_deaths=found,
    )


def _invariants(
    stack: Stack,
    experiment: Experiment,
    observations: list[Observation],
    leftovers: list[str],
    dead: set[str],
) -> list[InvariantVerdict]:
    """The system's own invariants, then no fault left, truthful codes and recovery.

    A service in ``dead`` died during the run: an error that names it names a place
    that really failed, so truthful codes count it as faulted.
    """
    # The same calls the fault's verdict judges: every one in flight while it was held.
    in_fault = [
        o
        for o in calls_in_window(observations, None, *experiment.fault_window_s)
        if not o.ok or o.code
    ]
    fault_end, run_end = experiment.recovery_window_s
    recovery_half = (fault_end + experiment.recovery_s / 2, run_end)
    recovered_late = [
        o for o in observations if recovery_half[0] <= o.at_s < recovery_half[1] and not o.ok
    ]
    recovered_calls = sum(1 for o in observations if recovery_half[0] <= o.at_s < recovery_half[1])
    return [
        *stack.injector.control.invariants(),
        InvariantVerdict(
            "no_fault_left",
            not leftovers,
            "; ".join(leftovers) if leftovers else "no toxic, disabled proxy or admin rule left",
        ),
        truthful_codes(
            in_fault,
            stack.adapter,
            faulted_edges=experiment.faulted_edges,
            faulted_services=experiment.faulted_services | dead,
            topology=stack.topology,
        ),
        InvariantVerdict(
            "recovered",
            recovered_calls > 0 and not recovered_late,
            f"{recovered_calls - len(recovered_late)}/{recovered_calls} calls succeeded in the "
            f"second half of recovery",
        ),
    ]


def _meanings(stack: Stack, observations: list[Observation]) -> dict[str, str]:
    meanings = {}
    for code in sorted({o.code for o in observations if o.code}):
        meaning = stack.adapter.code_meaning(code)
        if meaning:
            meanings[code] = meaning
    return meanings
