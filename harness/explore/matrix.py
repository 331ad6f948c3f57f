"""The blast-radius matrix: every cell run with every journey watching, and judged by contract.

Each cell is a short run (:func:`harness.experiment.run_experiment`): every
journey of the topology is taken by one virtual user through a steady state,
the cell's fault held, and recovery. A journey's verdict during the fault is
checked against its contract: failing or leaving its SLO because of a fault
outside its ``hard`` dependencies is a **cascade violation**; failing fast on
a hard dependency is expected; failing *slow* on one (users waited past the
SLO where a caller inside the system could have answered at once) is a
**failed-slow** finding, which ``--strict`` fails on; an honest degradation
is containment. A cell whose steady state was not healthy, whose fault
touched no traffic, or where a journey had no call in flight while the fault
was held, is **inconclusive**, never a pass.

Pruning (on unless ``--no-prune``): a cell on an edge whose source service is
reached only through one parent edge is skipped when every cell already run
on that parent was contained with no journey failing at all (failing on a
hard dependency is no violation, but it is no containment either). The
assumption, stated in every report: a fault below a service reaches that
service's callers only as some failure of the service's own answers
(refused, slow, hanging, reset, cut short, 5xx), and the parent's cells tried
each of those on the very edge the callers use. Skipped cells are counted
and reported as ``pruned``, never as passes.

Pairs (on unless ``pairs=False``, :mod:`.pairs`): as each ``down`` cell
finishes, the edges it saw carry traffic that no journey carries when nothing
fails (its fallbacks), and those domino.yaml declares its fallbacks, become
pair cells: ``down`` on the edge held with each kind on the fallback, judged
like any cell, counted against every possible pair.

``workers`` stacks run cells at once (own ports, proxies and data; all but the
first start while the first is observed);
``shard`` runs a deterministic part of the cells (see :mod:`.cells`);
sharded runs do not prune, so shards always add up to the full matrix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.backends import start_stack
from harness.errors import DominoError, StackError
from harness.experiment import ExperimentResult, run_experiment
from harness.explore.attribution import Attribution, attribute, declared_line
from harness.explore.cells import (
    Cell,
    check_cell_choice,
    edge_depths,
    plan_cells,
    select_shard,
)
from harness.explore.observed_cache import GraphCache, observe_timed
from harness.explore.pairs import FallbackBaseline, PairPlanner
from harness.infra.signals import interrupts_deferred
from harness.model.incident import Experiment, FaultStep, JourneyLoad
from harness.model.outcomes import verdict_label
from harness.model.topology import CLIENT, Topology
from harness.stack import Stack

__all__ = [
    "CELL_OUTCOMES",
    "PRUNING_ASSUMPTION",
    "CellOutcome",
    "CellResult",
    "JourneyCell",
    "MatrixResult",
    "MatrixTimings",
    "caller_deadlines_ms",
    "run_matrix",
]

PRUNING_ASSUMPTION = (
    "a fault below a service reaches that service's callers only as a failure of the "
    "service's own answers (refused, slow, hanging, reset, cut short, 5xx); when every such "
    "failure on the only edge into the service left every journey healthy or degraded, "
    "faults below it do too"
)

#: A cell's outcome. ``failed-slow``: no violation, but a journey failed slowly on a
#: hard dependency behind a caller inside the system (a finding; ``--strict`` fails it).
CellOutcome = Literal["contained", "violation", "failed-slow", "inconclusive", "pruned"]
CELL_OUTCOMES: tuple[CellOutcome, ...] = (
    "contained",
    "violation",
    "failed-slow",
    "inconclusive",
    "pruned",
)


@dataclass(frozen=True, slots=True)
class MatrixTimings:
    """Seconds of each phase of one cell (the cell's physical floor is their sum)."""

    steady_s: float = 1.5
    hold_s: float = 3.0
    recovery_s: float = 1.5
    client_timeout_s: float = 10.0
    think_ms: int = 50

    @property
    def floor_s(self) -> float:
        return self.steady_s + self.hold_s + self.recovery_s


@dataclass(frozen=True, slots=True)
class JourneyCell:
    """One journey's verdict in one cell, and what its contract says of it.

    The evidence: ``calls`` judged (``in_flight`` of them began before the
    fault), their ``p95_ms``; for a failure, how it failed (``failure``:
    fast or slow) and how long its failing calls took (``failure_ms``, p95).
    ``finding`` marks a slow failure on a hard dependency behind a caller
    inside the system.
    """

    journey: str
    verdict: str
    reason: str
    hard: bool
    violation: bool
    failure: str | None = None
    failure_ms: float | None = None
    calls: int = 0
    in_flight: int = 0
    p95_ms: float = 0.0
    finding: bool = False

    @property
    def label(self) -> str:
        """``failed-fast``/``failed-slow`` for a failure that says how, else the verdict."""
        return verdict_label(self.verdict, self.failure)

    def describe(self) -> str:
        """The journey's verdict with its time, as one phrase: ``checkout failed-slow (9,100
        ms, SLO 800 ms)``."""
        took = f" ({self.failure_ms:,.0f} ms)" if self.failure_ms is not None else ""
        return f"{self.journey} {self.label}{took}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "verdict": self.verdict,
            "label": self.label,
            "reason": self.reason,
            "hard": self.hard,
            "violation": self.violation,
            "finding": self.finding,
            "failure": self.failure,
            "failure_ms": None if self.failure_ms is None else round(self.failure_ms, 2),
            "calls": self.calls,
            "in_flight": self.in_flight,
            "p95_ms": round(self.p95_ms, 2),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JourneyCell:
        """A journey cell read back from a report (older reports lack the evidence fields)."""
        took = raw.get("failure_ms")
        return cls(
            journey=str(raw["journey"]),
            verdict=str(raw["verdict"]),
            reason=str(raw.get("reason", "")),
            hard=bool(raw.get("hard")),
            violation=bool(raw.get("violation")),
            failure=raw.get("failure"),
            failure_ms=None if took is None else float(took),
            calls=int(raw.get("calls", 0)),
            in_flight=int(raw.get("in_flight", 0)),
            p95_ms=float(raw.get("p95_ms", 0.0)),
            finding=bool(raw.get("finding")),
        )


@dataclass(frozen=True)
class CellResult:
    """One cell: its outcome, each journey's verdict, the evidence and the attributions."""

    id: str
    edge: str
    kind: str
    fault: str
    outcome: CellOutcome
    journeys: tuple[JourneyCell, ...] = ()
    touched: bool = False
    evidence: str = ""
    reasons: tuple[str, ...] = ()
    attributions: tuple[Attribution, ...] = ()
    duration_s: float = 0.0
    #: For a pair cell: the edge held ``down`` with this cell's fault (:mod:`.pairs`).
    primary: str | None = None
    #: Edges that carried traffic while the fault was held and that no journey crosses
    #: when nothing fails (fallbacks; only when the matrix observed the journeys first).
    newly_crossed: tuple[str, ...] = ()

    @property
    def violations(self) -> list[str]:
        return [j.journey for j in self.journeys if j.violation]

    @property
    def findings(self) -> list[str]:
        """Journeys that failed slowly on a hard dependency (see :class:`JourneyCell`)."""
        return [j.journey for j in self.journeys if j.finding]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "edge": self.edge,
            "kind": self.kind,
            "fault": self.fault,
            "outcome": self.outcome,
            "journeys": [j.as_dict() for j in self.journeys],
            "touched": self.touched,
            "evidence": self.evidence,
            "reasons": list(self.reasons),
            "attributions": [a.as_dict() for a in self.attributions],
            "duration_s": round(self.duration_s, 3),
            "primary": self.primary,
            "newly_crossed": list(self.newly_crossed),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CellResult:
        return cls(
            id=str(raw["id"]),
            edge=str(raw["edge"]),
            kind=str(raw["kind"]),
            fault=str(raw["fault"]),
            outcome=raw["outcome"],
            journeys=tuple(JourneyCell.from_dict(j) for j in raw.get("journeys", [])),
            touched=bool(raw.get("touched")),
            evidence=str(raw.get("evidence", "")),
            reasons=tuple(raw.get("reasons", ())),
            attributions=tuple(Attribution.from_dict(a) for a in raw.get("attributions", [])),
            duration_s=float(raw.get("duration_s", 0.0)),
            primary=raw.get("primary"),
            newly_crossed=tuple(raw.get("newly_crossed", ())),
        )


@dataclass
class MatrixResult:
    """A whole matrix (or one shard of it)."""

    topology: str
    profile: str
    backend: str
    journeys: list[str]
    cells: list[CellResult]
    planned: int
    shard: tuple[int, int] | None = None
    pruning: bool = True
    started_at: str = ""
    duration_s: float = 0.0
    floor_s: float = 0.0
    workers: int = 1
    #: Whether failed-slow findings (and declared != observed dependencies) fail the run.
    strict: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """The worst cell decides: a violation, then (``strict``) a failed-slow finding, then
        an inconclusive cell, then (not strict) a finding; else contained."""
        outcomes = {c.outcome for c in self.cells}
        order = (
            ("violation", "failed-slow", "inconclusive")
            if self.strict
            else ("violation", "inconclusive", "failed-slow")
        )
        return next((o for o in order if o in outcomes), "contained")

    @property
    def singles(self) -> list[CellResult]:
        """The one-fault cells (the heatmap's)."""
        return [c for c in self.cells if c.primary is None]

    @property
    def pairs(self) -> list[CellResult]:
        """The pair cells: two faults at once (:mod:`.pairs`)."""
        return [c for c in self.cells if c.primary is not None]

    def counts(self, cells: Sequence[CellResult] | None = None) -> dict[str, int]:
        """Cells per outcome: of ``cells``, default every cell (pairs included)."""
        counts: dict[str, int] = dict.fromkeys(CELL_OUTCOMES, 0)
        for cell in self.cells if cells is None else cells:
            counts[cell.outcome] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "domino-matrix",
            "format": 1,
            "topology": self.topology,
            "profile": self.profile,
            "backend": self.backend,
            "journeys": list(self.journeys),
            "outcome": self.outcome,
            "counts": self.counts(),
            "planned": self.planned,
            "shard": list(self.shard) if self.shard else None,
            "pruning": self.pruning,
            "pruning_assumption": PRUNING_ASSUMPTION,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "floor_s": round(self.floor_s, 3),
            "workers": self.workers,
            "strict": self.strict,
            "cells": [c.as_dict() for c in self.cells],
            **self.extra,
        }


def caller_deadlines_ms(stack: Stack) -> dict[str, float]:
    """The deadline each edge's caller gives one call, where the adapter knows the settings."""
    return stack.adapter.caller_deadlines_ms(stack.topology, stack.settings)


def _described(cell: Cell) -> str:
    """The cell's faults, as one phrase (a pair's joined by " + ")."""
    return " + ".join(f.describe() for f in cell.faults)


def _hold_s(cell: Cell, timings: MatrixTimings) -> float:
    """How long ``cell`` holds its fault: a latency cell at least as long as the latency
    it adds, so a caller's deadline inside it can fire (and its retries with it)."""
    return max(timings.hold_s, cell.min_hold_s)


def _cell_experiment(topology: Topology, cell: Cell, timings: MatrixTimings) -> Experiment:
    """One cell's run: every journey taken by one user, the cell's fault held, nothing
    expected (the cell is judged afterwards, against each journey's contract)."""
    return Experiment(
        journeys=tuple(
            JourneyLoad(j.name, users=1, think_ms=timings.think_ms, slo=j.slo)
            for j in topology.journeys
        ),
        timeline=tuple(FaultStep(f, 0.0, _hold_s(cell, timings)) for f in cell.faults),
        steady_state_s=timings.steady_s,
        recovery_s=timings.recovery_s,
        client_timeout_s=timings.client_timeout_s,
    )


def judge_cell(
    stack: Stack,
    cell: Cell,
    run: ExperimentResult,
    baseline: FallbackBaseline | None = None,
) -> CellResult:
    """A finished cell's outcome against every journey's contract; with ``baseline``, the
    edges newly crossed while a single fault was held (its fallbacks) too."""
    window = run.faults[0] if run.faults else None
    touched = bool(run.faults) and all(w.touched for w in run.faults)
    evidence = (
        "; ".join(f"{w.description}: {w.evidence}" for w in run.faults)
        if len(run.faults) > 1
        else (window.evidence if window else "")
    )
    primary = cell.primary.edge if cell.primary is not None else None
    newly = (
        baseline.newly_crossed(window, stack.topology.edge_names)
        if baseline is not None and window is not None and primary is None
        else ()
    )
    # A journey with no call in flight while the fault was held was not judged: the run
    # says so (harness.verdict.judge_run); a cell never counts it as contained either way.
    reasons = (
        list(run.verdict.reasons)
        if run.verdict.outcome == "inconclusive"
        else [
            f"no call of {v.journey} was in flight during the fault: nothing to judge it on"
            for v in run.verdict.during
            if v.verdict == "no_data"
        ]
    )
    if reasons:
        return CellResult(
            cell.id,
            cell.edge,
            cell.kind,
            _described(cell),
            "inconclusive",
            touched=touched,
            evidence=evidence,
            reasons=tuple(reasons),
            duration_s=run.duration_s,
            primary=primary,
            newly_crossed=newly,
        )
    # On the client edge only the user's own timeout can end a wait: no caller inside the
    # system could have failed fast, so a slow failure there is no finding.
    inside = all(stack.topology.edge(e).source != CLIENT for e in cell.edges)
    journeys = []
    attributions = []
    for verdict in run.verdict.during:
        journey = stack.topology.journey(verdict.journey)
        hard = any(edge in journey.hard_deps for edge in cell.edges)
        failed = verdict.verdict == "failed"
        violation = failed and not hard
        finding = failed and hard and inside and verdict.failure == "slow"
        journeys.append(
            JourneyCell(
                verdict.journey,
                verdict.verdict,
                verdict.reason,
                hard,
                violation,
                failure=verdict.failure,
                failure_ms=verdict.failure_ms,
                calls=verdict.stats.calls,
                in_flight=verdict.stats.in_flight,
                p95_ms=verdict.stats.p95_ms,
                finding=finding,
            )
        )
        if violation:
            attributions.append(_pair_note(stack, cell, attribute(stack, cell, journey, run)))
    outcome: CellOutcome = (
        "violation"
        if attributions
        else ("failed-slow" if any(j.finding for j in journeys) else "contained")
    )
    return CellResult(
        cell.id,
        cell.edge,
        cell.kind,
        _described(cell),
        outcome,
        tuple(journeys),
        touched,
        evidence,
        attributions=tuple(attributions),
        duration_s=run.duration_s,
        primary=primary,
        newly_crossed=newly,
    )


def _pair_note(stack: Stack, cell: Cell, attribution: Attribution) -> Attribution:
    """A pair cell's attribution says which fallback failed with its primary."""
    if cell.primary is None:
        return attribution
    primary = stack.topology.edge(cell.primary.edge)
    said = declared_line(stack.topology, stack.profile, (primary.name,))
    note = (
        f"two faults: with {primary.name} down, {primary.source} fell back on a path "
        f"through {cell.edge}, which failed too ({cell.kind})"
        + (f" (declared in domino.yaml: {said})" if said else "")
        + "; "
    )
    return dataclasses.replace(attribution, detail=note + attribution.detail)


def _unrun(cell: Cell, outcome: CellOutcome, reason: str) -> CellResult:
    """A cell not judged (``inconclusive``: it could not be; ``pruned``: skipped), and why."""
    return CellResult(
        cell.id,
        cell.edge,
        cell.kind,
        _described(cell),
        outcome,
        reasons=(reason,),
        primary=cell.primary.edge if cell.primary is not None else None,
    )


#: How long a cell waits for the stack to be quiet (every journey answering well twice in a
#: row: calls still hanging from the previous cell's fault, breakers still open, queues still
#: draining would make its steady state unhealthy for a reason not its own) before it runs
#: on a stack that is merely healthy.
_QUIET_TIMEOUT_S = 30.0


def _run_one(
    stack: Stack,
    cell: Cell,
    timings: MatrixTimings,
    crossings: Mapping[str, Collection[str]] | None = None,
    baseline: FallbackBaseline | None = None,
) -> CellResult:
    """One cell, after the stack is quiet; a steady state spoiled by the previous cell is
    retried once (and says so), any other inconclusive cell is reported as such."""
    experiment = _cell_experiment(stack.topology, cell, timings)
    for attempt in (1, 2):
        try:
            run = run_experiment(
                stack, experiment, crossings=crossings, quiet_timeout_s=_QUIET_TIMEOUT_S
            )
        except StackError as exc:
            # The stack could not settle before this cell: it cannot be judged.
            return _unrun(cell, "inconclusive", str(exc))
        judged = judge_cell(stack, cell, run, baseline)
        steady_only = judged.outcome == "inconclusive" and all(
            r.startswith("steady state not met") for r in judged.reasons
        )
        if not steady_only or attempt == 2:
            if attempt == 2:
                judged = dataclasses.replace(
                    judged,
                    reasons=(*judged.reasons, "run twice: the first steady state was spoiled"),
                )
            return judged
    raise AssertionError("unreachable")


def _only_parent(topology: Topology, edge: str) -> str | None:
    """The one edge into ``edge``'s source, when there is exactly one (else None)."""
    source = topology.edge(edge).source
    if source == CLIENT:
        return None
    parents = [e.name for e in topology.edges if e.target == source]
    return parents[0] if len(parents) == 1 else None


CellProgress = Callable[[int, int, CellResult], None]


def run_matrix(
    topology: Topology,
    *,
    profile: str | None = None,
    backend: str = "local",
    edges: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    prune: bool = True,
    timings: MatrixTimings | None = None,
    knobs: Mapping[str, Any] | None = None,
    progress: CellProgress | None = None,
    say: Callable[[str], None] | None = None,
    stack_options: Mapping[str, Any] | None = None,
    observe: bool = True,
    latency_ms: tuple[int, int] | None = None,
    strict: bool = False,
    pairs: bool = True,
    observed_cache: GraphCache | None = None,
) -> MatrixResult:
    """Run the matrix of ``topology`` under ``profile`` and judge every cell.

    With ``observe``, each journey is first driven alone to learn which edges
    it really crosses (:mod:`.observed`); the graph goes into the report. With
    ``observed_cache``, a graph kept for the same topology + profile is used instead
    (:mod:`.observed_cache`), and a new one is kept; where it came from goes into
    ``extra["observed_source"]``.
    ``latency_ms`` (below, above) overrides the latency kinds' values (else
    from the callers' deadlines, or a default ladder: :func:`.cells.latency_bounds`);
    the values used, and why, go into the report. ``strict`` makes failed-slow
    findings fail the run (:attr:`MatrixResult.outcome`). ``pairs`` then explores
    two faults at once where one edge is a fallback of the other (:mod:`.pairs`): the
    pair cells go into the result with the single ones, the rule and counts into
    ``extra["pairs"]``.
    """
    timings = timings or MatrixTimings()
    tell = say or (lambda _msg: None)
    chosen_edges, _kinds = check_cell_choice(topology, edges, kinds)  # before any stack starts
    began = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    prune = prune and shard is None
    count = max(1, workers)

    def a_stack(number: int) -> contextlib.AbstractContextManager[Stack]:
        tell(f"starting stack {number + 1} of {count}")
        return start_stack(
            backend,
            topology=topology,
            profile=profile,
            knobs=knobs,
            progress=tell,
            **dict(stack_options or {}),
        )

    with contextlib.ExitStack() as stacks:
        first = stacks.enter_context(a_stack(0))
        extra: dict[str, Any] = {}
        crossings: dict[str, tuple[str, ...]] | None = None
        baseline: FallbackBaseline | None = None
        # The other workers' stacks start while the first one is observed (mostly waiting).
        with _starting(stacks, [a_stack(n) for n in range(1, count)]) as others:
            if observe:
                crossings, baseline = _observe(first, observed_cache, knobs, tell, extra)
        pool = [first, *others]
        deadlines = caller_deadlines_ms(first)
        cells = plan_cells(
            topology,
            first.injector,
            deadlines_ms=deadlines,
            edges=edges,
            kinds=kinds,
            latency_ms=latency_ms,
            users_timeout_ms=timings.client_timeout_s * 1000.0,
        )
        bounds = {c.edge: c.bounds.as_dict() for c in cells if c.bounds is not None}
        extra["latency_bounds"] = list(bounds.values())
        planned = len(cells)
        planner = PairPlanner(
            topology,
            cells,
            first.injector,
            profile=first.profile,
            edges=chosen_edges,
            deadlines_ms=deadlines,
        )
        downs = {c.edge for c in cells if c.kind == "down"}
        if pairs:
            # A declared fallback of an edge with no down cell to see its traffic in.
            cells += [
                pair
                for edge in planner.declared
                if edge not in downs
                for pair in planner.pairs_of(edge, ())
            ]
        if shard is not None:
            cells = select_shard(cells, *shard)

        grown: list[Cell] = []

        def expand(cell: Cell, judged: CellResult) -> Sequence[Cell]:
            if not pairs or cell.primary is not None or cell.kind != "down":
                return ()
            added = planner.pairs_of(cell.edge, judged.newly_crossed)
            grown.extend(added)
            return added

        results = _run_cells(
            pool,
            cells,
            timings,
            prune=prune,
            progress=progress,
            crossings=crossings,
            baseline=baseline,
            expand=expand,
        )
        extra["pairs"] = planner.summary(
            pairs,
            ""
            if not pairs or baseline is not None
            else "fallbacks only as declared: --no-observe leaves no baseline to see new "
            "traffic against",
        )
        chosen_profile = first.profile
        backend_name = first.backend
    depth = edge_depths(topology)
    results.sort(key=lambda r: (r.primary is not None, depth.get(r.edge, 99), r.edge, r.kind))
    holds = {c.id: _hold_s(c, timings) for c in (*cells, *grown)}
    floor = timings.steady_s + timings.recovery_s
    return MatrixResult(
        topology=topology.name,
        profile=chosen_profile,
        backend=backend_name,
        journeys=[j.name for j in topology.journeys],
        cells=results,
        planned=planned,
        shard=shard,
        pruning=prune,
        started_at=started_at,
        duration_s=time.monotonic() - began,
        floor_s=sum(
            floor + holds.get(r.id, timings.hold_s) for r in results if r.outcome != "pruned"
        ),
        workers=max(1, workers),
        strict=strict,
        extra=extra,
    )


def _observe(
    first: Stack,
    cache: GraphCache | None,
    knobs: Mapping[str, Any] | None,
    tell: Callable[[str], None],
    extra: dict[str, Any],
) -> tuple[dict[str, tuple[str, ...]], FallbackBaseline]:
    """The observed graph of ``first`` (kept in ``cache``, or observed now) into ``extra``;
    each journey's crossed edges and the fallbacks' baseline from it."""
    if cache is None:
        graph, source = observe_timed(first, say=tell)
    else:
        graph, source = cache.graph(first, knobs=knobs, say=tell)
    tell(f"observed dependencies: {source.describe()}")
    extra["observed"] = graph.as_dict()
    extra["observed_source"] = source.as_dict()
    extra["observed_agrees"] = graph.agrees
    for line in graph.mismatches:
        tell(f"declared vs observed: {line}")
    crossings = {o.journey: o.crossed for o in graph.journeys}
    baseline = FallbackBaseline(
        frozenset(e for o in graph.journeys for e in o.crossed), graph.background
    )
    return crossings, baseline


@contextlib.contextmanager
def _starting(
    stacks: contextlib.ExitStack, managers: Sequence[contextlib.AbstractContextManager[Stack]]
) -> Iterator[list[Stack]]:
    """Enter ``managers`` at once, each in a thread of its own, while the block runs; after
    the block, the stacks (filled in once all are up, in order).

    Every stack that came up is ``stacks``' to stop, whatever else happened (one
    failing to start, the block failing, an interrupt): the block waits for all
    of them to finish starting before it lets an error through.
    """
    started: list[Stack] = []
    if not managers:
        yield started
        return
    with ThreadPoolExecutor(max_workers=len(managers)) as pool:
        futures = [pool.submit(manager.__enter__) for manager in managers]
        try:
            yield started
        finally:
            with interrupts_deferred():  # a stack still starting must be stopped too
                futures_wait(futures)
                for manager, future in zip(managers, futures, strict=True):
                    if future.exception() is None:
                        stacks.push(manager.__exit__)
    started.extend(future.result() for future in futures)  # the first error, if any


#: Given a cell and its result, the cells it adds to the run (a ``down`` cell's pairs).
CellExpansion = Callable[[Cell, CellResult], Sequence[Cell]]


class _Schedule:
    """The cells of one matrix run still to run, handed to its workers, and their results.

    A worker takes the shallowest cell it may run now: a cell that pruning
    could skip waits until every cell of its parent edge is done (then it is
    pruned, or run); any other cell is never held back, so no worker idles
    while another finishes the last cell of a depth. ``expand`` adds cells as
    results come (the pair cells of a ``down`` cell, :mod:`.pairs`): they run
    after every single cell already waiting, and are pruned when the cell
    that added them was; a worker with nothing to take waits while a cell
    still running may add more.
    """

    def __init__(
        self,
        topology: Topology,
        cells: Sequence[Cell],
        *,
        prune: bool,
        progress: CellProgress | None,
        expand: CellExpansion | None = None,
    ) -> None:
        self.results: dict[str, CellResult] = {}
        self._total = len(cells)
        self._progress = progress
        self._expand = expand
        self._running = 0
        self._ready = threading.Condition()
        self._waiting = sorted(cells, key=lambda c: c.depth)  # stable: the plan's order
        depths = edge_depths(topology)

        def prunable_by(cell: Cell) -> str | None:
            # Only a parent closer to the entry: the depth-by-depth order this replaces
            # never had a parent's cells done before a cell no deeper than it.
            parent = _only_parent(topology, cell.edge) if prune else None
            return parent if parent is not None and depths[parent] < depths[cell.edge] else None

        self._parents = {cell.id: prunable_by(cell) for cell in cells}
        self._unfinished: dict[str, int] = {}
        for cell in cells:
            self._unfinished[cell.edge] = self._unfinished.get(cell.edge, 0) + 1

    def _contained(self, edge: str) -> bool:
        """Every fault on ``edge`` stopped where it was: no journey failed at all.

        A journey failing on a hard dependency is no violation, but it is not
        containment either: what broke it may break it from deeper down too.
        """
        mine = [r for r in self.results.values() if r.edge == edge and r.primary is None]
        return bool(mine) and all(
            r.outcome == "pruned"
            or (r.outcome == "contained" and all(j.verdict != "failed" for j in r.journeys))
            for r in mine
        )

    def _record(self, cell: Cell, judged: CellResult) -> None:
        self.results[cell.id] = judged
        if cell.primary is None:
            self._unfinished[cell.edge] -= 1
        added = list(self._expand(cell, judged)) if self._expand is not None else []
        self._total += len(added)
        if self._progress:
            self._progress(len(self.results), self._total, judged)
        for new in added:
            self._parents[new.id] = None
            if judged.outcome == "pruned":
                why = f"implied: {cell.id} was pruned ({judged.reasons[0]})"
                self._record(new, _unrun(new, "pruned", why))
            else:
                self._waiting.append(new)
        self._ready.notify_all()

    def finish(self, cell: Cell, judged: CellResult) -> None:
        """Record a cell's result; wake the workers waiting on its edge."""
        with self._ready:
            self._running -= 1
            self._record(cell, judged)

    def take(self) -> Cell | None:
        """The next cell to run (pruning those whose parent was contained); None: no more."""
        with self._ready:
            while self._waiting or self._running:
                cell = next(
                    (
                        c
                        for c in self._waiting
                        if not self._unfinished.get(self._parents[c.id] or "")
                    ),
                    None,
                )
                if cell is None:
                    # Every cell left waits on a parent edge still running, or none is left
                    # but a cell still running may add some.
                    self._ready.wait()
                    continue
                self._waiting.remove(cell)
                parent = self._parents[cell.id]
                if parent is None or not self._contained(parent):
                    self._running += 1
                    return cell
                reason = f"implied by {parent}, where every fault was contained"
                self._record(cell, _unrun(cell, "pruned", reason))
            return None


def _run_cells(
    pool: Sequence[Stack],
    cells: Sequence[Cell],
    timings: MatrixTimings,
    *,
    prune: bool,
    progress: CellProgress | None,
    crossings: Mapping[str, Collection[str]] | None = None,
    baseline: FallbackBaseline | None = None,
    expand: CellExpansion | None = None,
) -> list[CellResult]:
    """Run ``cells`` on the stacks of ``pool``, shallow edges first, pruning as results come;
    ``expand`` adds cells as results come (pairs)."""
    schedule = _Schedule(pool[0].topology, cells, prune=prune, progress=progress, expand=expand)

    def work(stack: Stack) -> None:
        while (cell := schedule.take()) is not None:
            try:
                judged = _run_one(stack, cell, timings, crossings, baseline)
            except DominoError as exc:
                # One cell's trouble (Toxiproxy refusing, a fault not removable) is
                # that cell's verdict, not the end of the matrix.
                judged = _unrun(cell, "inconclusive", f"{type(exc).__name__}: {exc}")
            except BaseException as exc:
                # A bug: the cell is recorded, so no worker waits on its edge forever.
                schedule.finish(cell, _unrun(cell, "inconclusive", f"{type(exc).__name__}: {exc}"))
                raise
            schedule.finish(cell, judged)

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in pool]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return list(schedule.results.values())
