"""Evidence that a fault touched traffic, from counters read before and after it was held.

A fault that no traffic crossed proves nothing: the run is inconclusive.
The counters are each proxy's traffic (every system): on Domino's Toxiproxy
server, the HTTP requests that crossed it and its bytes, counted as they pass
(kept-alive connections included); on a stock server its bytes, added when a
connection ends. Then the services' own outbound calls per edge where the
adapter can read them (the bank), and the client's own calls for the client
edge. A fault on a service (crash,
stop, pause, an application fault) counts traffic on every edge into it.

A fault that counts the traffic it met itself is judged on that count alone:
load counts the calls it sent, and a down edge on Domino's Toxiproxy server
counts the connections that tried to cross it (none: "never crossed — a
fallback path?", however busy the edge's caller was). On a stock server a
down edge refuses connections, which leave no count; there, traffic into the
edge's source is taken as evidence, and says it is inferred.

A stock Toxiproxy adds a connection's bytes to its counters only when the
connection ends, so a request held by a long latency or timeout toxic (or
sent on a connection kept alive) may leave no count until well after the
fault is gone. When the counters show
nothing and the run knows which edges each journey really crosses (the
matrix observes it first), a journey seen crossing the faulted place that
was in flight while the fault was held is evidence too, and says it is
inferred.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from harness.model.faults import Down, Fault
from harness.model.topology import CLIENT
from harness.stack import Stack

__all__ = ["Counters", "touched"]


@dataclass(frozen=True, slots=True)
class Counters:
    """Traffic counters at one moment."""

    proxy_bytes: dict[str, int]
    edge_calls: dict[str, int]
    #: HTTP requests that crossed each proxy, counted live; None where the server does
    #: not count them (a stock Toxiproxy).
    proxy_requests: dict[str, int] | None = None

    @classmethod
    def read(cls, stack: Stack) -> Counters:
        traffic = stack.toxiproxy.traffic()
        requests = {
            name: t.requests for name, t in traffic.items() if t.live and t.requests is not None
        }
        return cls(
            {name: t.bytes for name, t in traffic.items()},
            stack.injector.control.edge_calls(),
            requests if any(t.live for t in traffic.values()) else None,
        )

    def requests_grown(self, before: Counters, proxy: str) -> int | None:
        """Requests that crossed ``proxy`` since ``before``; None when not counted (a server
        restarted in between counts from 0 again: never less than 0)."""
        if self.proxy_requests is None or before.proxy_requests is None:
            return None
        return max(0, self.proxy_requests.get(proxy, 0) - before.proxy_requests.get(proxy, 0))


def touched(
    stack: Stack,
    fault: Fault,
    before: Counters,
    after: Counters,
    client_calls: int,
    *,
    active_calls: Mapping[str, int] | None = None,
    crossings: Mapping[str, Collection[str]] | None = None,
    own_traffic: tuple[int, str] | None = None,
) -> tuple[bool, str]:
    """Whether traffic crossed the faulted place between ``before`` and ``after``, and why.

    ``active_calls`` counts, per journey, the calls started while the fault
    was held; ``crossings`` names the edges each journey was observed to
    cross. Both are needed for the inferred evidence, which is used only for
    edges whose calls the system does not count itself, and never for a down
    edge (which has its own inference). ``own_traffic`` is what a fault that
    counts the traffic it met itself (load, a down edge on Domino's server)
    counted: that count is the evidence.
    """
    if own_traffic is not None:
        calls, what = own_traffic
        return calls > 0, what
    edges = list(fault.places(stack.topology))
    evidence = []
    for edge in edges:
        proxy = stack.edges[edge].proxy
        grew = after.proxy_bytes.get(proxy, 0) - before.proxy_bytes.get(proxy, 0)
        requests = after.requests_grown(before, proxy)
        calls = after.edge_calls.get(edge, 0) - before.edge_calls.get(edge, 0)
        if edge.startswith(f"{CLIENT}->"):
            calls = client_calls
        if grew > 0 or calls > 0 or (requests or 0) > 0:
            crossed = f"{grew} bytes" if not requests else f"{requests} requests ({grew} bytes)"
            evidence.append(f"{edge}: {crossed} through the proxy, {calls} calls")
    if evidence:
        return True, "; ".join(evidence)
    infer = _INFERENCES.get(fault.kind)
    if infer is not None and fault.faulted_edge is not None:
        return infer(stack, fault.faulted_edge, before, after, client_calls)
    # Only where the system counts no calls itself: a count of 0 is evidence of no traffic.
    uncounted = [e for e in edges if e not in after.edge_calls]
    if active_calls and crossings and uncounted:
        inferred = _crossing_inferred(uncounted, active_calls, crossings)
        if inferred:
            return True, inferred
    return False, f"no bytes and no calls crossed {', '.join(edges)} while it was held"


def _crossing_inferred(
    edges: list[str], active_calls: Mapping[str, int], crossings: Mapping[str, Collection[str]]
) -> str:
    """The journeys observed to cross ``edges`` that had calls in flight, as one line."""
    seen = []
    for journey, calls in active_calls.items():
        crossed = [e for e in edges if e in crossings.get(journey, ())]
        if calls > 0 and crossed:
            seen.append(f"{calls} {journey} call(s), observed to cross {', '.join(crossed)}")
    if not seen:
        return ""
    return (
        f"inferred: {'; '.join(seen)}, started while it was held (Toxiproxy counts "
        "a connection's bytes only when the connection ends)"
    )


def _down_inferred(
    stack: Stack, edge: str, before: Counters, after: Counters, client_calls: int
) -> tuple[bool, str]:
    """A down edge on a stock server refuses connections, which leave no bytes on its proxy.

    Without the system's own call counters, the evidence is that its caller
    was exercised while the edge was down: traffic reached the source service
    over the edges into it (for the client edge: the users' calls). This
    passes an edge that its caller crosses only sometimes (a fallback); on
    Domino's server the down edge counts its own attempts instead.
    """
    source = stack.topology.edge(edge).source
    if source == CLIENT:
        if client_calls > 0:
            return True, f"{client_calls} user calls were refused at {edge} (inferred)"
        return False, f"no user call was made while {edge} was down"
    into = [e.name for e in stack.topology.edges if e.target == source]
    grown = {
        name: after.proxy_bytes.get(stack.edges[name].proxy, 0)
        - before.proxy_bytes.get(stack.edges[name].proxy, 0)
        for name in into
    }
    reached = {name: n for name, n in grown.items() if n > 0}
    if reached:
        detail = ", ".join(f"{name}: {n} bytes" for name, n in reached.items())
        return True, (
            f"inferred: {source} was called while {edge} was down ({detail}); refused "
            "connections leave no bytes on the proxy itself"
        )
    return False, f"no bytes crossed {edge} or reached {source} while {edge} was down"


_Inference = Callable[[Stack, str, Counters, Counters, int], tuple[bool, str]]
#: Kinds whose lack of counted traffic is read another way (a refused connection leaves no bytes).
_INFERENCES: dict[str, _Inference] = {Down.kind: _down_inferred}
