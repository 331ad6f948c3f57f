"""Evidence that a fault touched traffic, from counters read before and after it was held.

A fault that no traffic crossed proves nothing: the run is inconclusive.
The counters are Toxiproxy's bytes per proxy (every system), the services'
own outbound calls per edge where the adapter can read them (the bank), and
the client's own calls for the client edge. A fault on a service (crash,
stop, pause, an application fault) counts traffic on every edge into it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.faults import EdgeFault, Fault, Surge
from harness.stack import Stack
from harness.topology import CLIENT

__all__ = ["Counters", "touched"]


@dataclass(frozen=True, slots=True)
class Counters:
    """Traffic counters at one moment."""

    proxy_bytes: dict[str, int]
    edge_calls: dict[str, int]

    @classmethod
    def read(cls, stack: Stack) -> Counters:
        return cls(stack.toxiproxy.proxy_bytes(), stack.injector.control.edge_calls())


def touched(
    stack: Stack, fault: Fault, before: Counters, after: Counters, client_calls: int
) -> tuple[bool, str]:
    """Whether traffic crossed the faulted place between ``before`` and ``after``, and why."""
    if isinstance(fault, Surge):
        return client_calls > 0, f"{client_calls} surge calls entered through the client edge"
    if isinstance(fault, EdgeFault):
        edges = [fault.edge]
    else:
        service = str(getattr(fault, "service", ""))
        edges = [e.name for e in stack.topology.edges if e.target == service]
    evidence = []
    for edge in edges:
        proxy = stack.edges[edge].proxy
        grew = after.proxy_bytes.get(proxy, 0) - before.proxy_bytes.get(proxy, 0)
        calls = after.edge_calls.get(edge, 0) - before.edge_calls.get(edge, 0)
        if edge.startswith(f"{CLIENT}->"):
            calls = client_calls
        if grew > 0 or calls > 0:
            evidence.append(f"{edge}: {grew} bytes through the proxy, {calls} calls")
    if evidence:
        return True, "; ".join(evidence)
    return False, f"no bytes and no calls crossed {', '.join(edges)} while it was held"
