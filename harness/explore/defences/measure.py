"""Measuring each caller's defences from outside, through the proxies Domino owns.

For every edge ``caller->target`` except the client edge (whose caller is the
users' device), with one journey seen crossing it (:mod:`..observed`):

- **deadline**: the latency cliff's search (:func:`..cliff.bisect_ms`, its
  range :func:`..cliff.search_range`, its recovery between probes
  :func:`..cliff.recover`) over another question: not "is the journey
  still healthy" but "did the caller stop waiting". A probe holds every
  request on the edge ``L`` ms (Domino's ``http_delay``, which also counts
  them; a ``latency`` toxic on a stock server) and makes the journey once.
  The caller waited when the journey took at least ``L`` and no request was
  tried again; it stopped waiting when it answered sooner or retried. The
  deadline is the smallest ``L`` at which it stopped, to ``resolution_ms``;
  the probe at the top of the range gives its whole wait (every attempt) and
  its answer.
- **attempts**: the edge fails (an ``http_status`` 503 for every request;
  ``http_abort``, each connection closed with no answer; a 503 with
  ``Retry-After: 1``; ``down``) while every journey crossing it is made ``calls`` times; the
  fault counts the requests (connections, for down) that tried to cross it,
  and the requests the caller got are counted on every edge into it: live by
  Domino's Toxiproxy server, which counts every proxy's requests as they pass,
  or, on an older build of it, by a 1 ms ``http_delay`` on each of those edges.
  Their ratio is its attempts per request.
- **fallbacks**: meanwhile, the proxies' byte counters show which edges carried
  traffic that the journey does not cross when nothing fails.

Assumptions: a journey crosses the edge the same way on every call (the probe
makes it once); a caller that retries a slow call does so with the same
deadline per attempt; nothing else drives the stack while it is measured.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.contracts import ConfiguredLimits
from harness.errors import ToxiproxyAPIError
from harness.explore.cliff import bisect_ms, configured_limits, recover, search_range
from harness.explore.defences.checks import check_defences
from harness.explore.defences.declared import compare_declared
from harness.explore.defences.model import (
    PLAIN_503,
    RETRY_AFTER_503,
    RETRY_AFTER_S,
    Deadline,
    DeadlineOutcome,
    DeadlineProbe,
    DefenceMap,
    EdgeDefences,
    FailureProbe,
)
from harness.explore.observed import observe_dependencies, wait_for_quiet
from harness.model.faults import Down, Fault, HttpAbort, HttpDelay, HttpStatus, Latency

if TYPE_CHECKING:
    from harness.explore.observed import Background
    from harness.journeys import JourneyClient
    from harness.model.topology import DeclaredDefences, Journey
    from harness.stack import Stack
    from harness.stack.injection import AppliedFault
    from harness.toxiproxy.client import ProxyTraffic

__all__ = ["measure_defences"]

#: A held request is answered no sooner than its hold; below it by more, someone stopped waiting.
_TIMER_SLACK_MS = 2.0
#: The hold (ms) of the http_delay that only counts requests.
_COUNTING_DELAY_MS = 1
#: Calls with nothing added that give a deadline search its base.
_BASE_CALLS = 2


def _counted(stack: Stack, applied: AppliedFault) -> int | None:
    """What a held fault counted so far (requests, or refused connections), if it counts."""
    own = stack.injector.own_traffic(applied)
    return None if own is None else own[0]


def _requests_between(
    before: Mapping[str, ProxyTraffic], after: Mapping[str, ProxyTraffic], proxy: str
) -> int | None:
    """The HTTP requests that crossed ``proxy`` between two live readings (None: not counted)."""
    if proxy not in after or after[proxy].requests is None:
        return None
    earlier = before[proxy].requests if proxy in before else 0
    return max(0, (after[proxy].requests or 0) - (earlier or 0))  # a restarted server: from 0


def _requests_met(stack: Stack, applied: AppliedFault) -> int | None:
    """The requests a held HTTP fault has met so far, held ones included (None: not counted).

    The injector's evidence (:func:`_counted`) is what the fault *acted* on,
    and a delay counts a request only once its hold is over; the toxic's own
    ``requests`` attribute counts each as it arrives. Read from the toxic the
    injector named (its handle) until the injector offers its counts itself.
    """
    if not isinstance(applied.fault, HttpDelay):
        return None
    try:
        held = {t.name: t for t in stack.toxiproxy.toxics(applied.target)}.get(applied.handle)
    except ToxiproxyAPIError:
        return None
    seen = None if held is None else held.attributes.get("requests")
    return seen if isinstance(seen, int) else None


def _hold_fault(stack: Stack, edge: str, latency_ms: float) -> Fault:
    """Each request on ``edge`` held ``latency_ms`` (counted), or its answers, on a stock server."""
    if stack.injector.supports(HttpDelay):
        return HttpDelay(edge=edge, delay_ms=max(int(latency_ms), _COUNTING_DELAY_MS))
    return Latency(edge=edge, latency_ms=int(latency_ms))


def _deadline_probe(
    stack: Stack,
    user: JourneyClient,
    edge: str,
    journey: Journey,
    *,
    latency_ms: float,
    base_attempts: int | None,
) -> DeadlineProbe:
    with stack.inject(_hold_fault(stack, edge, latency_ms)) as applied:
        seen = user.run(journey)
        attempts = _requests_met(stack, applied[0])
    retried = attempts is not None and base_attempts is not None and attempts > base_attempts
    return DeadlineProbe(
        latency_ms=latency_ms,
        took_ms=seen.latency_ms,
        ok=seen.ok,
        status=seen.status,
        code=seen.code,
        attempts=attempts,
        stopped=seen.latency_ms < latency_ms - _TIMER_SLACK_MS or retried,
    )


def _find_deadline(
    stack: Stack,
    user: JourneyClient,
    edge: str,
    journey: Journey,
    *,
    top_ms: float,
    why: str,
    resolution_ms: float,
    recovery_timeout_s: float,
    say: Callable[[str], None],
) -> Deadline:
    started_s = time.monotonic()
    probes: list[DeadlineProbe] = []

    def probe(latency_ms: float, base_attempts: int | None) -> DeadlineProbe:
        recover(user, journey, recovery_timeout_s)
        found = _deadline_probe(
            stack, user, edge, journey, latency_ms=latency_ms, base_attempts=base_attempts
        )
        probes.append(found)
        say(found.describe())
        return found

    base = [probe(_COUNTING_DELAY_MS, None) for _ in range(_BASE_CALLS)]
    base_ms = statistics.median(p.took_ms for p in base)
    counts = [p.attempts for p in base]
    base_attempts = None if None in counts else max(c for c in counts if c is not None)
    held_by = "http_delay" if stack.injector.supports(HttpDelay) else "latency"

    def deadline(
        outcome: DeadlineOutcome,
        high: DeadlineProbe | None,
        low_ms: float | None,
        top: DeadlineProbe | None,
    ) -> Deadline:
        return Deadline(
            edge=edge,
            journey=journey.name,
            outcome=outcome,
            deadline_ms=None if high is None else high.latency_ms,
            waited_below_ms=low_ms,
            waited_ms=None if top is None else max(0.0, top.took_ms - base_ms),
            attempts_at_max=None if top is None else top.attempts,
            answer_status=None if top is None else top.status,
            answer_code=None if top is None else top.code,
            answer_ok=None if top is None else top.ok,
            base_ms=base_ms,
            base_attempts=base_attempts,
            resolution_ms=float(resolution_ms),
            max_ms=top_ms,
            max_why=why,
            probes=tuple(probes),
            search_s=time.monotonic() - started_s,
            held_by=held_by,
        )

    if not all(p.ok for p in base):
        return deadline("unhealthy_without_latency", None, None, None)
    top = probe(top_ms, base_attempts)
    if not top.stopped:
        return deadline("waits_past_max", None, None, top)
    low_ms, high_ms = bisect_ms(
        lambda latency_ms: probe(latency_ms, base_attempts).stopped, 0.0, top_ms, resolution_ms
    )
    high = next(p for p in reversed(probes) if p.latency_ms == high_ms)
    recover(user, journey, recovery_timeout_s)  # leave it as it was found
    return deadline("found", high, low_ms, top)


def _failure_faults(stack: Stack, edge: str) -> list[tuple[str, Fault]]:
    """503 to every request; connections closed with no answer (a reset, per request);
    503 with ``Retry-After`` (does the caller wait before trying again?); the edge down."""
    faults: list[tuple[str, Fault]] = []
    if stack.injector.supports(HttpStatus):
        faults.append((PLAIN_503, HttpStatus(edge=edge, status=503)))
    if stack.injector.supports(HttpAbort):
        faults.append(("http_abort", HttpAbort(edge=edge, at="before")))
    if stack.injector.supports(HttpStatus):
        faults.append(
            (RETRY_AFTER_503, HttpStatus(edge=edge, status=503, retry_after_s=RETRY_AFTER_S))
        )
    faults.append(("down", Down(edge=edge)))
    return faults


def _failure_probe(
    stack: Stack,
    user: JourneyClient,
    edge: str,
    journey: Journey,
    *,
    label: str,
    fault: Fault,
    calls: int,
    crossed: Sequence[str],
    background: Background,
    recovery_timeout_s: float,
) -> FailureProbe:
    topology = stack.topology
    caller = topology.edge(edge).source
    entry = topology.entry_edge.name
    live = stack.toxiproxy.counts_live_traffic()
    counting = live or stack.injector.supports(HttpDelay)
    into = [e.name for e in topology.edges if e.target == caller] if counting else []
    watched = into + ([entry] if counting and entry not in into else [])
    # Domino's server counts every edge's requests live; otherwise a 1 ms delay counts them.
    counters = [] if live else [HttpDelay(edge=e, delay_ms=_COUNTING_DELAY_MS) for e in watched]
    proxies = {name: stack.edges[name].proxy for name in topology.edge_names}
    recover(user, journey, recovery_timeout_s)
    before = stack.toxiproxy.traffic()
    with stack.inject(fault, *counters) as applied:
        started_s = time.monotonic()
        seen = [user.run(journey) for _ in range(calls)]
        wait_for_quiet(stack, proxies, background, 0.05)
        window_s = time.monotonic() - started_s
        after = stack.toxiproxy.traffic()
        attempts = _counted(stack, applied[0])
        if live:
            per_edge = {e: _requests_between(before, after, proxies[e]) for e in watched}
        else:
            per_edge = {e: _counted(stack, a) for e, a in zip(watched, applied[1:], strict=True)}
    grown = {
        e: (after[p].bytes if p in after else 0) - (before[p].bytes if p in before else 0)
        for e, p in proxies.items()
    }
    fallbacks = tuple(
        e
        for e in topology.edge_names
        if e != edge and e not in crossed and grown[e] > background.allowance_bytes(e, window_s)
    )
    into_counts = [per_edge[e] for e in into]
    return FailureProbe(
        edge=edge,
        journey=journey.name,
        fault=label,
        calls=len(seen),
        ok_calls=sum(1 for o in seen if o.ok),
        answers=dict(
            Counter(str(o.status) if o.status is not None else (o.code or "?") for o in seen)
        ),
        took_ms=max(o.latency_ms for o in seen),
        attempts=attempts,
        caller_requests=(
            None if not into or None in into_counts else sum(c or 0 for c in into_counts)
        ),
        user_requests=per_edge.get(entry),
        fallbacks=fallbacks,
        window_s=window_s,
    )


def _search_range(
    stack: Stack,
    edge: str,
    *,
    slo_ms: float,
    deadline_ms: float | None,
    declared: DeclaredDefences | None,
    max_ms: float | None,
) -> tuple[float, str]:
    """The top of ``edge``'s deadline search: the cliff's range over what the adapter
    knows, else over what domino.yaml declares (``timeout_ms`` x ``1 + retries``), else
    30 s. A declaration too short shows as a caller still waiting at the top: a mismatch."""
    limits = configured_limits(stack, edge)
    known = limits.deadline_ms or limits.worst_wait_ms or deadline_ms
    if max_ms is not None or known or declared is None or declared.timeout_ms is None:
        return search_range(slo_ms, limits, deadline_ms, max_ms)
    attempts = 1 + (declared.retries or 0)
    said = ConfiguredLimits(
        edge, deadline_ms=declared.timeout_ms, worst_wait_ms=declared.timeout_ms * attempts
    )
    top_ms, why = search_range(slo_ms, said, None, None)
    return top_ms, why.replace("from the adapter's settings", "declared in domino.yaml")


def _paths(stack: Stack) -> dict[str, tuple[str, ...]]:
    topology = stack.topology
    return {e: tuple(x.name for x in topology.path_to(e)) for e in topology.edge_names}


def _notes(edges: Sequence[EdgeDefences]) -> list[EdgeDefences]:
    """Say, on each edge no journey crosses, which edges' failures it is the fallback of."""
    fallback_of: dict[str, list[str]] = {}
    for edge in edges:
        for name in edge.fallbacks:
            fallback_of.setdefault(name, []).append(edge.edge)
    return [
        replace(
            edge,
            note=f"{edge.note}; a fallback: crossed while "
            + ", ".join(fallback_of[edge.edge])
            + " failed",
        )
        if not edge.journeys and edge.edge in fallback_of
        else edge
        for edge in edges
    ]


def measure_defences(
    stack: Stack,
    edges: Iterable[str] | None = None,
    *,
    resolution_ms: float = 50.0,
    max_ms: float | None = None,
    calls: int = 3,
    recovery_timeout_s: float = 30.0,
    progress: Callable[[str], None] | None = None,
) -> DefenceMap:
    """Every edge's defences (default: all) on the running ``stack``, and the findings.

    ``resolution_ms`` is the deadline search's resolution; ``max_ms`` the top
    of its range (default: the cliff's :func:`~harness.explore.cliff.search_range`,
    past the caller's deadline the adapter knows, else the one domino.yaml declares,
    else 30 s); ``calls`` how many times each
    journey is made under each failure (and when learning which edges each
    journey crosses). ``progress`` gets one line per probe.
    """
    if resolution_ms <= 0:
        raise ValueError(f"resolution_ms must be positive, got {resolution_ms}")
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}")
    started_s = time.monotonic()
    topology = stack.topology
    chosen = list(edges) if edges is not None else topology.edge_names
    for name in chosen:
        topology.edge(name)  # raises UnknownEdgeError listing the known edges

    def say(text: str) -> None:
        if progress is not None:
            progress(text)

    say(f"learning which edges each journey crosses ({calls} calls each)")
    graph = observe_dependencies(stack, calls_per_journey=calls, quiet_s=1.0)
    crossed = {o.journey: o.crossed for o in graph.journeys}
    deadlines_ms = stack.adapter.caller_deadlines_ms(topology, stack.settings)
    declared = topology.declared_defences(stack.profile)
    ranges: dict[str, tuple[float, str]] = {}
    for name in chosen:
        journeys = graph.journeys_crossing(name)
        if journeys and name != topology.entry_edge.name:
            slo_ms = topology.journey(journeys[0]).slo.p95_ms
            ranges[name] = _search_range(
                stack,
                name,
                slo_ms=slo_ms,
                deadline_ms=deadlines_ms.get(name),
                declared=declared.get(name),
                max_ms=max_ms,
            )
    longest_ms = max((top for top, _ in ranges.values()), default=0.0)
    slowest_slo_ms = max(j.slo.p95_ms for j in topology.journeys)
    # Long enough that the top probe is seen answered, not cut off by Domino's own client.
    client_timeout_s = (longest_ms + 2 * slowest_slo_ms) / 1000 + 5.0

    measured: list[EdgeDefences] = []
    virtual = next(iter(stack.adapter.users(topology)))
    with stack.client(user=virtual, timeout_s=client_timeout_s) as user:
        if any(j.session for j in topology.journeys):
            user.token()
        for n, name in enumerate(chosen, start=1):
            edge = topology.edge(name)
            journeys = graph.journeys_crossing(name)
            say(f"edge {n}/{len(chosen)}: {name}")
            if name == topology.entry_edge.name:
                measured.append(
                    EdgeDefences(
                        name, edge.source, edge.target, journeys, None, (),
                        "the client edge: its caller is the users' device, not the system",
                    )
                )  # fmt: skip
                continue
            if not journeys:
                measured.append(
                    EdgeDefences(
                        name, edge.source, edge.target, (), None, (),
                        f"no journey crosses it in {calls} calls with nothing failing",
                    )
                )  # fmt: skip
                continue

            def edge_say(text: str, name: str = name) -> None:
                say(f"{name}: {text}")

            edge_started_s = time.monotonic()
            top_ms, why = ranges[name]
            deadline = _find_deadline(
                stack,
                user,
                name,
                topology.journey(journeys[0]),
                top_ms=top_ms,
                why=why,
                resolution_ms=resolution_ms,
                recovery_timeout_s=recovery_timeout_s,
                say=edge_say,
            )
            failures = []
            for label, fault in _failure_faults(stack, name):
                for journey in journeys:
                    found = _failure_probe(
                        stack,
                        user,
                        name,
                        topology.journey(journey),
                        label=label,
                        fault=fault,
                        calls=calls,
                        crossed=crossed[journey],
                        background=graph.background,
                        recovery_timeout_s=recovery_timeout_s,
                    )
                    edge_say(found.describe())
                    failures.append(found)
            measured.append(
                EdgeDefences(
                    name,
                    edge.source,
                    edge.target,
                    journeys,
                    deadline,
                    tuple(failures),
                    measure_s=time.monotonic() - edge_started_s,
                )
            )
    unmeasured = DefenceMap(
        topology=topology.name,
        profile=stack.profile,
        entry=topology.entry_edge.name,
        edges=tuple(_notes(measured)),
        crossed=crossed,
        paths=_paths(stack),
        findings=(),
        search_s=time.monotonic() - started_s,
        toxiproxy_version=stack.toxiproxy_version,
        notes=_server_notes(stack),
        slo_p95_ms={j.name: j.slo.p95_ms for j in topology.journeys},
    )
    return _checked(unmeasured, stack)


def _checked(unmeasured: DefenceMap, stack: Stack) -> DefenceMap:
    """The map with its findings, and its declarations (domino.yaml) compared."""
    checked = replace(unmeasured, findings=check_defences(unmeasured))
    declared = stack.topology.declared_defences(stack.profile)
    if not declared:
        return checked
    return replace(checked, declared=compare_declared(checked, declared))


def _server_notes(stack: Stack) -> tuple[str, ...]:
    if stack.injector.supports(HttpDelay):
        return ()
    return (
        f"Toxiproxy {stack.toxiproxy_version} has no HTTP toxics: latency was added with the "
        "latency toxic and attempts were not counted (Domino's own server counts them: "
        "`domino toxiproxy install`)",
    )
