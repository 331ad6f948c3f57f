"""Observed dependencies: which edges each journey really crosses, from each proxy's counters.

Before exploring a system, Domino drives each journey alone (one user,
``calls_per_journey`` calls back to back) and reads how many bytes crossed
every edge's proxy meanwhile. On Domino's Toxiproxy server the bytes are
counted as they pass, kept-alive connections included, and so are the HTTP
requests, which the report gives per edge too; a stock Toxiproxy adds a
connection's bytes only when it closes, so a client that keeps connections
alive shows nothing there. Services also talk on their own (the bank's
remittance outbox asks remit for its maintenance schedule about once a
second), so an edge counts as *crossed* only when it grew by more than its
background allows:

- the background is measured first, over a quiet window with no journey
  running (``quiet_s``), sampled every ``sample_s``: its mean rate
  (bytes/s) and its largest burst (the most bytes seen in any
  ``_BURST_WINDOW_S`` of the window: one poll's request and answer);
- a window of ``d`` seconds may then hold ``rate * d + burst`` bytes of
  background on an edge (a periodic poller puts at most one more event in a
  window than its mean rate says); anything beyond is the journey's.

A journey's window lasts from its first call until the counters are quiet
again (an answer may set off work that continues after it, e.g. an outbox
send), polled with a deadline, so that work is counted as its own and never
as the next journey's.

What the topology declares for a journey is its ``hard_deps`` and
``soft_deps`` plus the client edge every journey enters by. An edge crossed
but not declared is **undeclared**; one declared but not crossed in the
calls made is **unused** — a soft dependency a cache answered for is
reported too (the report says how many calls were made).

Assumptions: a background poller slower than the quiet window is not seen
(its traffic would look like a journey's); the journeys are driven with no
fault held and nothing else driving the stack.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from harness.infra.readiness import wait_until

if TYPE_CHECKING:
    from harness.model.topology import Journey
    from harness.stack import Stack

__all__ = [
    "Background",
    "ObservedGraph",
    "ObservedJourney",
    "observe_dependencies",
    "wait_for_quiet",
]

#: The span a single background event (one poll: request and answer) fits in.
_BURST_WINDOW_S = 0.15
#: How long the counters must show only background before a journey's window ends.
_TAIL_S = 0.2
#: How long a journey's after-effects may take to die down before we stop waiting.
_TAIL_TIMEOUT_S = 5.0

_Sample = tuple[float, dict[str, int]]
_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Background:
    """Traffic on each edge with no journey running, from one quiet window.

    ``rate_bytes_per_s`` is the mean over the window; ``burst_bytes`` the
    most bytes seen in any ``_BURST_WINDOW_S`` (0.15 s) span of it.
    """

    quiet_s: float
    rate_bytes_per_s: Mapping[str, float]
    burst_bytes: Mapping[str, int]

    def allowance_bytes(self, edge: str, window_s: float) -> float:
        """Bytes of background ``edge`` may carry in a window of ``window_s`` seconds."""
        rate = self.rate_bytes_per_s.get(edge, 0.0)
        burst = self.burst_bytes.get(edge, 0)
        return rate * window_s + burst if rate > 0 or burst > 0 else 0.0


@dataclass(frozen=True)
class ObservedJourney:
    """One journey driven alone: the edges it crossed and how they compare with its declaration.

    ``bytes_by_edge`` is how many bytes each edge's proxy carried during the
    journey's window (``window_s`` seconds, both directions, background
    included); ``allowance_bytes`` the background each could hold in that
    window. ``crossed`` are the edges that grew beyond it, in topology order.
    """

    journey: str
    calls: int
    ok_calls: int
    window_s: float
    declared: tuple[str, ...]
    crossed: tuple[str, ...]
    undeclared: tuple[str, ...]
    unused: tuple[str, ...]
    bytes_by_edge: Mapping[str, int]
    allowance_bytes: Mapping[str, float]
    #: HTTP requests each edge carried in the window (background included); empty
    #: where the server does not count them (a stock Toxiproxy).
    requests_by_edge: Mapping[str, int] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        """True when what it crossed is exactly what it declares."""
        return not self.undeclared and not self.unused

    def crossed_bytes(self) -> dict[str, int]:
        """Bytes per crossed edge (background included)."""
        return {edge: self.bytes_by_edge.get(edge, 0) for edge in self.crossed}

    def as_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "calls": self.calls,
            "ok_calls": self.ok_calls,
            "window_s": round(self.window_s, 3),
            "declared": list(self.declared),
            "crossed": self.crossed_bytes(),
            "undeclared": list(self.undeclared),
            "unused": list(self.unused),
            "bytes_by_edge": dict(self.bytes_by_edge),
            "allowance_bytes": {k: round(v, 1) for k, v in self.allowance_bytes.items()},
            "requests_by_edge": dict(self.requests_by_edge),
        }


@dataclass(frozen=True)
class ObservedGraph:
    """Which edges each journey really crossed, against what the topology declares."""

    topology: str
    profile: str
    calls_per_journey: int
    edges: tuple[str, ...]
    background: Background
    journeys: tuple[ObservedJourney, ...]

    def journey(self, name: str) -> ObservedJourney:
        """The observation of journey ``name``; KeyError if it was not driven."""
        for observed in self.journeys:
            if observed.journey == name:
                return observed
        raise KeyError(f"journey {name!r} was not observed")

    def journeys_crossing(self, edge: str) -> tuple[str, ...]:
        """The journeys seen crossing ``edge``, in topology order."""
        return tuple(o.journey for o in self.journeys if edge in o.crossed)

    @property
    def agrees(self) -> bool:
        """True when every journey crossed exactly what it declares (``--strict`` passes)."""
        return all(o.agrees for o in self.journeys)

    @property
    def mismatches(self) -> tuple[str, ...]:
        """One line per undeclared or unused edge, for reports and ``--strict``."""
        lines: list[str] = []
        for o in self.journeys:
            lines += [
                f"{o.journey}: crosses {edge} ({o.bytes_by_edge.get(edge, 0)} bytes) "
                "but does not declare it"
                for edge in o.undeclared
            ]
            lines += [
                f"{o.journey}: declares {edge} but did not cross it in {o.calls} calls"
                for edge in o.unused
            ]
        return tuple(lines)

    def describe(self) -> str:
        """The graph for humans: one line per journey, then the mismatches."""
        lines = [
            f"observed dependencies of {self.topology} ({self.profile}), "
            f"{self.calls_per_journey} calls per journey, background measured over "
            f"{self.background.quiet_s:g} s"
        ]
        for o in self.journeys:
            crossed = (
                ", ".join(
                    f"{e} ({o.requests_by_edge[e]} requests, {n} B)"
                    if e in o.requests_by_edge
                    else f"{e} ({n} B)"
                    for e, n in o.crossed_bytes().items()
                )
                or "nothing"
            )
            lines.append(f"  {o.journey}: {o.ok_calls}/{o.calls} ok; crosses {crossed}")
        noisy = {
            e: r for e, r in self.background.rate_bytes_per_s.items() if r > 0 and e in self.edges
        }
        if noisy:
            lines.append(
                "  background: " + ", ".join(f"{e} {r:.0f} B/s" for e, r in sorted(noisy.items()))
            )
        mismatches = self.mismatches
        if mismatches:
            lines.append("  differs from the topology:")
            lines += [f"    {line}" for line in mismatches]
        else:
            lines.append("  every journey crosses exactly the edges it declares")
        return "\n".join(lines)

    def to_record(self) -> dict[str, Any]:
        """Plain data, every number exact, for keeping the graph (:mod:`.observed_cache`);
        :meth:`from_record` reads it back equal."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> ObservedGraph:
        """The graph :meth:`to_record` made; KeyError, TypeError or ValueError when ``raw``
        is not one."""
        background = raw["background"]
        return cls(
            topology=str(raw["topology"]),
            profile=str(raw["profile"]),
            calls_per_journey=int(raw["calls_per_journey"]),
            edges=tuple(str(e) for e in raw["edges"]),
            background=Background(
                quiet_s=float(background["quiet_s"]),
                rate_bytes_per_s=_numbers(background["rate_bytes_per_s"], float),
                burst_bytes=_numbers(background["burst_bytes"], int),
            ),
            journeys=tuple(
                ObservedJourney(
                    journey=str(j["journey"]),
                    calls=int(j["calls"]),
                    ok_calls=int(j["ok_calls"]),
                    window_s=float(j["window_s"]),
                    declared=tuple(str(e) for e in j["declared"]),
                    crossed=tuple(str(e) for e in j["crossed"]),
                    undeclared=tuple(str(e) for e in j["undeclared"]),
                    unused=tuple(str(e) for e in j["unused"]),
                    bytes_by_edge=_numbers(j["bytes_by_edge"], int),
                    allowance_bytes=_numbers(j["allowance_bytes"], float),
                    requests_by_edge=_numbers(j["requests_by_edge"], int),
                )
                for j in raw["journeys"]
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for report.json."""
        return {
            "topology": self.topology,
            "profile": self.profile,
            "calls_per_journey": self.calls_per_journey,
            "edges": list(self.edges),
            "background": {
                "quiet_s": self.background.quiet_s,
                "rate_bytes_per_s": {
                    k: round(v, 1) for k, v in self.background.rate_bytes_per_s.items()
                },
                "burst_bytes": dict(self.background.burst_bytes),
            },
            "agrees": self.agrees,
            "mismatches": list(self.mismatches),
            "journeys": [o.as_dict() for o in self.journeys],
        }


def _numbers(raw: Mapping[str, Any], kind: type[_N]) -> dict[str, _N]:
    """``raw`` as edge -> number; TypeError when it is not a mapping of numbers."""
    if not isinstance(raw, Mapping) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw.values()
    ):
        raise TypeError(f"not a mapping of numbers: {raw!r:.80}")
    return {str(k): kind(v) for k, v in raw.items()}


def _read(stack: Stack, proxies: Mapping[str, str]) -> dict[str, int]:
    """Cumulative bytes per edge, now."""
    totals = stack.toxiproxy.proxy_bytes()
    return {edge: totals.get(proxy, 0) for edge, proxy in proxies.items()}


def _read_requests(stack: Stack, proxies: Mapping[str, str]) -> dict[str, int]:
    """Cumulative HTTP requests per edge, now; {} where the server does not count them."""
    traffic = stack.toxiproxy.traffic()
    return {
        edge: counted
        for edge, proxy in proxies.items()
        if proxy in traffic and (counted := traffic[proxy].requests) is not None
    }


def _grown(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {edge: after[edge] - before.get(edge, 0) for edge in after}


def _sample_window(
    stack: Stack, proxies: Mapping[str, str], duration_s: float, step_s: float
) -> list[_Sample]:
    """The counters read every ``step_s`` seconds for ``duration_s`` seconds."""
    samples: list[_Sample] = [(time.monotonic(), _read(stack, proxies))]
    end_s = samples[0][0] + duration_s

    def sampled_to_the_end() -> bool:
        samples.append((time.monotonic(), _read(stack, proxies)))
        return samples[-1][0] >= end_s

    wait_until(
        sampled_to_the_end,
        timeout_s=duration_s + 10.0,
        interval_s=step_s,
        what="sampling the quiet window",
    )
    return samples


def _max_growth(samples: list[_Sample], edge: str, span_s: float) -> int:
    """The most bytes ``edge`` grew by in any span of at most ``span_s`` (a sliding window)."""
    best = 0
    start = 0
    for end in range(len(samples)):
        while samples[end][0] - samples[start][0] > span_s:
            start += 1
        best = max(best, samples[end][1][edge] - samples[start][1][edge])
    return best


def measure_background(stack: Stack, *, quiet_s: float = 2.0, sample_s: float = 0.05) -> Background:
    """Bytes each edge carries with no journey running, over ``quiet_s`` seconds."""
    proxies = {name: endpoint.proxy for name, endpoint in stack.edges.items()}
    samples = _sample_window(stack, proxies, quiet_s, sample_s)
    elapsed_s = samples[-1][0] - samples[0][0]
    grown = _grown(samples[0][1], samples[-1][1])
    return Background(
        quiet_s=round(elapsed_s, 3),
        rate_bytes_per_s={e: n / elapsed_s if elapsed_s > 0 else 0.0 for e, n in grown.items()},
        burst_bytes={e: _max_growth(samples, e, _BURST_WINDOW_S) for e in proxies},
    )


def wait_for_quiet(
    stack: Stack, proxies: Mapping[str, str], background: Background, sample_s: float
) -> None:
    """Poll until no edge grows beyond its background for ``_TAIL_S`` seconds (with a deadline)."""
    samples: list[_Sample] = [(time.monotonic(), _read(stack, proxies))]

    def quiet() -> bool:
        now = time.monotonic()
        samples.append((now, _read(stack, proxies)))
        if now - samples[0][0] < _TAIL_S:
            return False
        first = next(s for s in reversed(samples) if now - s[0] >= _TAIL_S)
        span_s = now - first[0]
        return all(
            samples[-1][1][e] - first[1][e] <= background.allowance_bytes(e, span_s)
            for e in proxies
        )

    wait_until(
        quiet,
        timeout_s=_TAIL_TIMEOUT_S,
        interval_s=sample_s,
        what="traffic to die down after a journey",
    )


def _declared(stack: Stack, journey: Journey) -> tuple[str, ...]:
    wanted = {stack.topology.entry_edge.name, *journey.hard_deps, *journey.soft_deps}
    return tuple(e for e in stack.topology.edge_names if e in wanted)


def observe_dependencies(
    stack: Stack,
    *,
    calls_per_journey: int = 8,
    quiet_s: float = 2.0,
    sample_s: float = 0.05,
    timeout_s: float = 10.0,
) -> ObservedGraph:
    """Drive each journey alone and learn which edges it really crosses.

    One virtual user (the adapter's next) starts its session first; the background
    is then measured over ``quiet_s`` seconds (counters read every
    ``sample_s`` seconds); each journey is then made ``calls_per_journey``
    times back to back (each call waiting at most ``timeout_s`` seconds),
    and its window ends once the counters are quiet again. Run it with no
    fault held and nothing else driving the stack.
    """
    if calls_per_journey < 1:
        raise ValueError(f"calls_per_journey must be at least 1, got {calls_per_journey}")
    topology = stack.topology
    proxies = {name: stack.edges[name].proxy for name in topology.edge_names}
    observed: list[ObservedJourney] = []
    virtual = next(iter(stack.adapter.users(topology)))
    with stack.client(user=virtual, timeout_s=timeout_s) as user:
        user.token()  # the session's own traffic stays out of every window
        background = measure_background(stack, quiet_s=quiet_s, sample_s=sample_s)
        for journey in topology.journeys:
            started_s = time.monotonic()
            before = _read(stack, proxies)
            requests_before = _read_requests(stack, proxies)
            seen = [user.run(journey) for _ in range(calls_per_journey)]
            wait_for_quiet(stack, proxies, background, sample_s)
            grown = _grown(before, _read(stack, proxies))
            requests = _grown(requests_before, _read_requests(stack, proxies))
            window_s = time.monotonic() - started_s
            allowance = {e: background.allowance_bytes(e, window_s) for e in proxies}
            crossed = tuple(e for e in topology.edge_names if grown[e] > allowance[e])
            declared = _declared(stack, journey)
            observed.append(
                ObservedJourney(
                    journey=journey.name,
                    calls=len(seen),
                    ok_calls=sum(1 for o in seen if o.ok),
                    window_s=window_s,
                    declared=declared,
                    crossed=crossed,
                    undeclared=tuple(e for e in crossed if e not in declared),
                    unused=tuple(e for e in declared if e not in crossed),
                    bytes_by_edge=grown,
                    allowance_bytes=allowance,
                    requests_by_edge=requests,
                )
            )
    return ObservedGraph(
        topology=topology.name,
        profile=stack.profile,
        calls_per_journey=calls_per_journey,
        edges=tuple(topology.edge_names),
        background=background,
        journeys=tuple(observed),
    )
