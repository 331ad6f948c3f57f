"""The latency cliff: the smallest added latency on an edge that takes a journey out of healthy.

:func:`find_cliff` holds a Toxiproxy ``latency`` toxic (downstream: the
edge's answers arrive late) on one edge while one user makes a journey up to
``calls_per_probe`` times, judges the calls in flight while the toxic was
held against the journey's SLO (:func:`harness.verdict.judge_window`, with
the adapter's honest codes — the fault window's rule of an incident run),
and bisects between 0 and ``max_ms`` until the cliff is known to within
``resolution_ms``: every latency at or below ``healthy_below_ms`` that was
probed left the journey healthy; ``cliff_ms`` took it out (slow, failing —
fast or slow, with the failure's time — or honestly degraded). A probe
stops early once its calls can no longer be healthy whatever the rest
would show, so a probe far past the cliff costs one slow call, not four.

The search range reaches past the callers' real deadlines, so their
timeouts, retries and fallbacks are part of what is measured: by default up
to 1.5x the longest the edge's caller waits (the adapter's
``configured_limits``, or its ``caller_deadlines_ms``) and at least twice the
SLO's p95; when no deadline is known, up to 30 s (beyond the 10-15 s
timeouts callers commonly use). ``max_why`` says which, in every report.

It first checks that the journey is healthy with no latency and that it is
not healthy at ``max_ms``; when it stays healthy there, there is no cliff up
to ``max_ms`` (the latency is contained: a cache or a fast fallback
answers). Each probe holds the toxic only while its calls run, in a scope
that removes it on every path. After a probe that was not healthy, the
journey is polled (with a deadline) until it answers healthy again, so an
open circuit breaker or a stale cache left by one probe never decides the
next.

The cliff is shown beside what the configuration along the path says
(:func:`configured_limits`): the deadline the edge's caller holds each call
to, retries and budgets, and whether a late answer becomes an honest
degradation. Domino knows this for the bank (from its knobs); for other
systems nothing is claimed, unless ``domino defences`` measured the caller's
deadline (:class:`MeasuredDeadline`): the cliff is then placed against the
measured deadline, and the search goes past the measured whole wait.

Assumptions: the journey's health is monotonic in the added latency (more
latency never makes it healthier), and ``calls_per_probe`` calls are enough
to judge it (a p95 over 4 calls is close to their maximum, so one slow call
decides a probe).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from harness.contracts import ConfiguredLimits
from harness.infra.readiness import ReadinessTimeoutError, wait_until
from harness.model.faults import Latency
from harness.model.outcomes import verdict_label
from harness.verdict import judge_window

if TYPE_CHECKING:
    from harness.explore.observed import ObservedGraph
    from harness.journeys import JourneyClient
    from harness.model.outcomes import Observation
    from harness.model.topology import Journey
    from harness.stack import Stack

__all__ = [
    "Cliff",
    "CliffProbe",
    "MeasuredDeadline",
    "bisect_ms",
    "configured_limits",
    "find_cliff",
    "find_cliffs",
    "recover",
    "search_range",
]

#: The default ``max_ms`` is at least this many times the journey's SLO p95 ...
_MAX_SLO_FACTOR = 2.0
#: ... and this many times the longest the edge's caller waits, when known ...
_PAST_DEADLINE_FACTOR = 1.5
#: ... else this (beyond the 10-15 s timeouts callers commonly use).
_UNKNOWN_DEADLINE_MAX_MS = 30_000.0
#: Consecutive healthy calls that show the journey has recovered between probes.
_RECOVERED_CALLS = 2

Outcome = Literal["found", "none_up_to_max", "unhealthy_without_latency"]
Verdict = Literal["healthy", "degraded", "failed", "no_data"]


@dataclass(frozen=True, slots=True)
class CliffProbe:
    """One probe: ``calls`` calls with ``latency_ms`` added on the edge, and their verdict."""

    latency_ms: float
    verdict: Verdict
    p95_ms: float
    success_rate: float
    calls: int
    codes: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""
    #: For a failure: fast or slow, and how long its failing calls took (p95, ms).
    failure: str | None = None
    failure_ms: float | None = None

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"

    @property
    def label(self) -> str:
        """``failed-fast``/``failed-slow`` for a failure, else the verdict."""
        return verdict_label(self.verdict, self.failure)

    def describe(self) -> str:
        took = f" after {self.failure_ms:,.0f} ms" if self.failure_ms is not None else ""
        return f"+{self.latency_ms:g} ms: {self.label}{took} ({self.reason})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "verdict": self.verdict,
            "label": self.label,
            "failure": self.failure,
            "failure_ms": None if self.failure_ms is None else round(self.failure_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "success_rate": round(self.success_rate, 4),
            "calls": self.calls,
            "codes": dict(self.codes),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MeasuredDeadline:
    """The deadline per attempt of ``caller`` on ``edge`` as ``domino defences`` measured
    it: in ``(low_ms, high_ms]``, its whole wait (every attempt) ``waited_ms``;
    ``source`` says where it was read (a defences.json)."""

    edge: str
    caller: str
    low_ms: float
    high_ms: float
    waited_ms: float | None
    source: str

    def describe(self) -> str:
        """``gateway waits 366-431 ms per attempt on gateway->ledger (1,202 ms in all)``."""
        whole = f", {self.waited_ms:,.0f} ms in all" if self.waited_ms is not None else ""
        return (
            f"{self.caller} waits {self.low_ms:,.0f}-{self.high_ms:,.0f} ms per attempt on "
            f"{self.edge}{whole}, measured by domino defences ({self.source})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "edge": self.edge,
            "caller": self.caller,
            "range_ms": [round(self.low_ms, 1), round(self.high_ms, 1)],
            "waited_ms": None if self.waited_ms is None else round(self.waited_ms, 1),
            "source": self.source,
        }


@dataclass(frozen=True)
class Cliff:
    """Where added latency on ``edge`` takes ``journey`` out of healthy (all times in ms).

    ``cliff_ms`` is the smallest latency probed that left the journey not
    healthy, ``healthy_below_ms`` the largest that left it healthy: the
    true cliff is in ``(healthy_below_ms, cliff_ms]``, an interval of at
    most ``resolution_ms``. Both are None unless ``outcome`` is ``found``.
    ``base_p95_ms`` is the journey's p95 with no latency added; ``search_s``
    the wall time of the search in seconds.
    """

    edge: str
    journey: str
    outcome: Outcome
    cliff_ms: float | None
    healthy_below_ms: float | None
    resolution_ms: float
    max_ms: float
    slo_p95_ms: float
    base_p95_ms: float
    probes: tuple[CliffProbe, ...]
    configured: ConfiguredLimits
    search_s: float
    #: Why the search went up to ``max_ms`` (given, past the caller's deadline, or unknown).
    max_why: str = ""
    #: The caller's deadline as ``domino defences`` measured it, where no configuration
    #: gives it (None: not measured, or the adapter knows the configured one).
    measured: MeasuredDeadline | None = None

    @property
    def where(self) -> str:
        """Whether the cliff is where the configuration (or the SLO) says, as one phrase.

        The cliff is *at the deadline* when it lies within ``resolution_ms``
        plus the base p95 of the configured deadline (the call's own time
        counts towards it); *at the SLO* when it lies that close to the
        SLO's p95 minus the base p95 (the latency just uses up what is
        left of the SLO).
        """
        if self.cliff_ms is None:
            if self.outcome == "none_up_to_max":
                return f"no cliff up to {self.max_ms:g} ms: the latency is contained"
            return "not judged: the journey is not healthy without added latency"
        return self._placed(self.cliff_ms)

    def _placed(self, cliff_ms: float) -> str:
        """Where a found cliff lies: at a deadline (configured, else measured), at the SLO."""
        slack_ms = self.resolution_ms + self.base_p95_ms
        deadline_ms = self.configured.deadline_ms
        if deadline_ms is not None and abs(cliff_ms - deadline_ms) <= slack_ms:
            return f"at the configured deadline ({deadline_ms:g} ms)"
        measured = self.measured if deadline_ms is None else None
        if measured is not None and (
            measured.low_ms - slack_ms <= cliff_ms <= measured.high_ms + slack_ms
        ):
            return f"at the measured deadline: {measured.describe()}"
        slo_room_ms = self.slo_p95_ms - self.base_p95_ms
        if abs(cliff_ms - slo_room_ms) <= slack_ms:
            before = ""
            if deadline_ms is not None and deadline_ms > cliff_ms + slack_ms:
                before = f", long before the configured deadline ({deadline_ms:g} ms)"
            elif measured is not None and measured.low_ms > cliff_ms + slack_ms:
                before = f", long before the measured deadline: {measured.describe()}"
            return f"at the SLO (p95 {self.slo_p95_ms:g} ms minus the base p95){before}"
        if deadline_ms is not None:
            return f"neither at the configured deadline ({deadline_ms:g} ms) nor at the SLO"
        if measured is not None:
            return f"neither at the measured deadline nor at the SLO: {measured.describe()}"
        return (
            "not at the SLO; no configured deadline is known (measure it: domino defences, "
            "then domino cliff --defences DIR)"
        )

    def describe(self) -> str:
        """The cliff for humans: the finding, where it is, the probes and the configuration."""
        head = f"{self.edge} x {self.journey}: "
        if self.cliff_ms is not None:
            head += (
                f"cliff at {self.cliff_ms:g} ms added latency "
                f"(healthy at {self.healthy_below_ms:g} ms; resolution {self.resolution_ms:g} ms)"
            )
        elif self.outcome == "none_up_to_max":
            head += f"no cliff up to {self.max_ms:g} ms"
        else:
            head += "not healthy without added latency; no cliff searched"
        lines = [
            head,
            f"  {self.where}; SLO p95 {self.slo_p95_ms:g} ms, base p95 {self.base_p95_ms:.0f} ms, "
            f"{len(self.probes)} probes in {self.search_s:.1f} s",
            f"  searched 0-{self.max_ms:g} ms: {self.max_why}",
        ]
        lines += [f"  {p.describe()}" for p in sorted(self.probes, key=lambda p: p.latency_ms)]
        lines += [f"  configured: {line}" for line in self.configured.lines]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for report.json."""
        return {
            "edge": self.edge,
            "journey": self.journey,
            "outcome": self.outcome,
            "cliff_ms": self.cliff_ms,
            "healthy_below_ms": self.healthy_below_ms,
            "resolution_ms": self.resolution_ms,
            "max_ms": self.max_ms,
            "max_why": self.max_why,
            "slo_p95_ms": self.slo_p95_ms,
            "base_p95_ms": round(self.base_p95_ms, 2),
            "where": self.where,
            "probes": [p.as_dict() for p in self.probes],
            "configured": self.configured.as_dict(),
            "measured": None if self.measured is None else self.measured.as_dict(),
            "search_s": round(self.search_s, 3),
        }


# -- what the configuration says ---------------------------------------------------------


def configured_limits(stack: Stack, edge: str) -> ConfiguredLimits:
    """What the stack's settings say a late answer on ``edge`` runs into (its adapter's word)."""
    stack.topology.edge(edge)
    return stack.adapter.configured_limits(stack.topology, stack.settings, edge)


def search_range(
    slo_p95_ms: float,
    configured: ConfiguredLimits,
    caller_deadline_ms: float | None = None,
    max_ms: float | None = None,
    measured: MeasuredDeadline | None = None,
) -> tuple[float, str]:
    """How far up (ms) a cliff search goes, and why.

    ``max_ms`` when given; else past the longest the edge's caller waits
    (``configured.worst_wait_ms``, else its ``deadline_ms``, else the
    adapter's ``caller_deadline_ms``, else what ``domino defences`` measured:
    its whole wait, else the top of its deadline's range), and at least twice
    the SLO's p95; else, with no deadline known, 30 s.
    """
    if max_ms is not None:
        return float(max_ms), "given"
    waits_ms = configured.worst_wait_ms or configured.deadline_ms or caller_deadline_ms
    source = "from the adapter's settings"
    if not waits_ms and measured is not None:
        waits_ms = max(measured.waited_ms or 0.0, measured.high_ms)
        source = f"measured by domino defences ({measured.source})"
    if waits_ms:
        past_ms = _PAST_DEADLINE_FACTOR * waits_ms
        slo_ms = _MAX_SLO_FACTOR * slo_p95_ms
        if past_ms >= slo_ms:
            return past_ms, (
                f"{_PAST_DEADLINE_FACTOR:g}x the longest the caller waits ({waits_ms:g} ms, "
                f"{source}), so its deadline is crossed"
            )
        return slo_ms, (
            f"{_MAX_SLO_FACTOR:g}x the SLO's p95, past the longest the caller waits "
            f"({waits_ms:g} ms, {source})"
        )
    return _UNKNOWN_DEADLINE_MAX_MS, (
        f"no caller deadline known: up to {_UNKNOWN_DEADLINE_MAX_MS / 1000:g} s, beyond the "
        "10-15 s timeouts callers commonly use"
    )


# -- the search ---------------------------------------------------------------------------


def _healthy_call(observation: Observation, journey: Journey) -> bool:
    return (
        observation.ok and not observation.degraded and observation.latency_ms <= journey.slo.p95_ms
    )


def recover(user: JourneyClient, journey: Journey, timeout_s: float) -> None:
    """Poll the journey until it answers healthy ``_RECOVERED_CALLS`` times in a row.

    Raises ReadinessTimeoutError naming the last answer when ``timeout_s``
    seconds pass first.
    """
    streak = [0]
    last: list[Observation] = []

    def recovered() -> bool:
        seen = user.run(journey)
        last[:] = [seen]
        streak[0] = streak[0] + 1 if _healthy_call(seen, journey) else 0
        return streak[0] >= _RECOVERED_CALLS

    try:
        wait_until(
            recovered,
            timeout_s=timeout_s,
            interval_s=0.05,
            what=f"{journey.name} healthy again with no latency added",
        )
    except ReadinessTimeoutError as exc:
        seen = last[0] if last else None
        detail = (
            f"; last answer: ok={seen.ok}, degraded={seen.degraded}, code={seen.code}, "
            f"{seen.latency_ms:.0f} ms, cause={list(seen.cause)}"
            if seen is not None
            else ""
        )
        raise ReadinessTimeoutError(f"{exc}{detail}") from exc


def bisect_ms(
    past: Callable[[float], bool], low_ms: float, high_ms: float, resolution_ms: float
) -> tuple[float, float]:
    """Where ``past`` turns true between ``low_ms`` (known false) and ``high_ms`` (known true).

    Probes whole milliseconds (a toxic's latency is whole milliseconds) until
    the two are at most ``resolution_ms`` apart, and returns them: the largest
    value probed false and the smallest probed true. Assumes ``past`` is
    monotonic (false below some value, true from it on).
    """
    while high_ms - low_ms > resolution_ms:
        mid_ms = float(round((low_ms + high_ms) / 2))
        if mid_ms in (low_ms, high_ms):
            break  # below 1 ms
        if past(mid_ms):
            high_ms = mid_ms
        else:
            low_ms = mid_ms
    return low_ms, high_ms


def _decided(seen: Sequence[Observation], journey: Journey, calls: int) -> bool:
    """Whether the probe is not healthy whatever its remaining calls show.

    One error (when the SLO's success rate cannot then be met), one degraded
    answer, or a slow call that keeps the p95 over the SLO even if every
    remaining call took no time at all.
    """
    remaining = calls - len(seen)
    if any(o.ok and o.degraded for o in seen):
        return True
    if (sum(1 for o in seen if o.ok) + remaining) / calls < journey.slo.success_rate:
        return True
    best = sorted([0.0] * remaining + [o.latency_ms for o in seen])
    rank = 0.95 * (len(best) - 1)
    low = int(rank)
    high = min(low + 1, len(best) - 1)
    return best[low] + (best[high] - best[low]) * (rank - low) > journey.slo.p95_ms


def _probe(
    stack: Stack,
    user: JourneyClient,
    edge: str,
    journey: Journey,
    *,
    latency_ms: float,
    calls: int,
    clock: Callable[[], float],
) -> CliffProbe:
    """Up to ``calls`` calls with ``latency_ms`` held on ``edge`` (none at 0), judged
    against the SLO on the calls in flight while it was held; ``clock`` is the user's."""
    seen: list[Observation] = []

    def take() -> tuple[float, float]:
        began_s = clock()
        while len(seen) < calls and not _decided(seen, journey, calls):
            seen.append(user.run(journey))
        return began_s, clock()

    if latency_ms > 0:
        with stack.inject(Latency(edge=edge, latency_ms=int(latency_ms))):
            start_s, end_s = take()
    else:
        start_s, end_s = take()
    verdict = judge_window(
        seen, journey.name, journey.slo, start_s, end_s, honest_codes=stack.adapter.honest_codes
    )
    stats = verdict.stats
    return CliffProbe(
        latency_ms=latency_ms,
        verdict=verdict.verdict,
        p95_ms=stats.p95_ms,
        success_rate=stats.success_rate,
        calls=stats.calls,
        codes=dict(stats.codes),
        reason=verdict.reason,
        failure=verdict.failure,
        failure_ms=verdict.failure_ms,
    )


def find_cliff(
    stack: Stack,
    edge: str,
    journey: str,
    *,
    resolution_ms: float = 50,
    max_ms: float | None = None,
    calls_per_probe: int = 4,
    recovery_timeout_s: float = 30.0,
    progress: Callable[[str], None] | None = None,
    measured: MeasuredDeadline | None = None,
) -> Cliff:
    """The smallest latency (ms) added on ``edge`` that takes ``journey`` out of healthy.

    Bisects between 0 and ``max_ms`` (default: :func:`search_range`, past the
    caller's deadline) to within ``resolution_ms``; each probe makes up to
    ``calls_per_probe`` calls as one user. Between probes the journey must
    answer healthy again within ``recovery_timeout_s`` seconds (else
    ReadinessTimeoutError). ``progress`` gets one line per probe. ``measured``
    (the caller's deadline as ``domino defences`` measured it) places the
    cliff and bounds the search where no configuration gives the deadline.
    """
    started_s = time.monotonic()
    if resolution_ms <= 0:
        raise ValueError(f"resolution_ms must be positive, got {resolution_ms}")
    if calls_per_probe < 1:
        raise ValueError(f"calls_per_probe must be at least 1, got {calls_per_probe}")
    chosen = stack.topology.journey(journey)
    stack.topology.edge(edge)
    configured = configured_limits(stack, edge)
    deadline_ms = stack.adapter.caller_deadlines_ms(stack.topology, stack.settings).get(edge)
    if measured is not None and measured.edge != edge:
        raise ValueError(f"a deadline measured on {measured.edge} given for a cliff on {edge}")
    top_ms, why = search_range(chosen.slo.p95_ms, configured, deadline_ms, max_ms, measured)
    if top_ms <= 0:
        raise ValueError(f"max_ms must be positive, got {top_ms}")
    # Long enough that a call at max_ms is seen slow, not cut off (either is "not healthy").
    client_timeout_s = (top_ms + 2 * chosen.slo.p95_ms) / 1000 + 5.0
    probes: list[CliffProbe] = []

    def say(text: str) -> None:
        if progress is not None:
            progress(f"{edge} x {journey}: {text}")

    def cliff(outcome: Outcome, cliff_ms: float | None, below_ms: float | None) -> Cliff:
        return Cliff(
            edge=edge,
            journey=journey,
            outcome=outcome,
            cliff_ms=cliff_ms,
            healthy_below_ms=below_ms,
            resolution_ms=float(resolution_ms),
            max_ms=top_ms,
            slo_p95_ms=chosen.slo.p95_ms,
            base_p95_ms=probes[0].p95_ms,
            probes=tuple(probes),
            configured=configured,
            search_s=time.monotonic() - started_s,
            max_why=why,
            measured=measured,
        )

    # A virtual user, not the adapter's person: probes may move money many times over.
    virtual = next(iter(stack.adapter.users(stack.topology)))
    with stack.client(user=virtual, timeout_s=client_timeout_s) as user:
        if chosen.session:
            user.token()  # before any latency: the session is not what is measured
        origin_s = time.monotonic()
        user.rebase(origin_s)

        def clock() -> float:
            return time.monotonic() - origin_s

        def probe(latency_ms: float) -> CliffProbe:
            recover(user, chosen, recovery_timeout_s)
            found = _probe(
                stack,
                user,
                edge,
                chosen,
                latency_ms=latency_ms,
                calls=calls_per_probe,
                clock=clock,
            )
            probes.append(found)
            say(found.describe())
            return found

        if not probe(0).healthy:
            return cliff("unhealthy_without_latency", None, None)
        if probe(top_ms).healthy:
            return cliff("none_up_to_max", None, None)
        low_ms, high_ms = bisect_ms(
            lambda latency_ms: not probe(latency_ms).healthy, 0.0, top_ms, resolution_ms
        )
        recover(user, chosen, recovery_timeout_s)  # leave it as it was found
    return cliff("found", high_ms, low_ms)


def _journeys_for(
    stack: Stack,
    edge: str,
    journeys_for: ObservedGraph | Mapping[str, Sequence[str]] | None,
) -> tuple[str, ...]:
    topology = stack.topology
    if journeys_for is None:
        entry = topology.entry_edge.name
        return tuple(
            j.name
            for j in topology.journeys
            if edge == entry or edge in j.hard_deps or edge in j.soft_deps
        )
    if isinstance(journeys_for, Mapping):
        return tuple(journeys_for.get(edge, ()))
    return journeys_for.journeys_crossing(edge)


def find_cliffs(
    stack: Stack,
    edges: Iterable[str] | None = None,
    journeys_for: ObservedGraph | Mapping[str, Sequence[str]] | None = None,
    *,
    resolution_ms: float = 50,
    calls_per_probe: int = 4,
    progress: Callable[[str], None] | None = None,
    measured: Mapping[str, MeasuredDeadline] | None = None,
) -> tuple[Cliff, ...]:
    """A cliff for every edge (default: all) x every journey that crosses it.

    Which journeys cross an edge: with no ``journeys_for``, those that
    declare it (hard or soft; every journey for the client edge); given an
    :class:`~harness.explore.observed.ObservedGraph`, those seen crossing
    it; given a mapping, the journeys it lists for the edge. ``progress``
    gets a line before each search, one per probe, and the result.
    ``measured`` gives, per edge, its caller's deadline as ``domino defences``
    measured it (:func:`find_cliff`).
    """
    chosen = list(edges) if edges is not None else stack.topology.edge_names
    pairs = [(e, j) for e in chosen for j in _journeys_for(stack, e, journeys_for)]
    found: list[Cliff] = []
    for n, (edge, journey) in enumerate(pairs, start=1):
        if progress is not None:
            progress(f"cliff {n}/{len(pairs)}: {edge} x {journey}")
        result = find_cliff(
            stack,
            edge,
            journey,
            resolution_ms=resolution_ms,
            calls_per_probe=calls_per_probe,
            progress=progress,
            measured=(measured or {}).get(edge),
        )
        if progress is not None:
            progress(result.describe().splitlines()[0])
        found.append(result)
    return tuple(found)
