"""A running stack, whatever backend brought it up.

Everything after the backend (faults, journeys, verdicts, reports) talks to
a :class:`Stack` and never to processes or containers directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.faults import Fault
from harness.injection import FaultRemovalError, FaultScope, Injector
from harness.topology import Topology
from harness.toxiproxy.client import ToxiproxyClient

__all__ = ["EdgeEndpoint", "Stack"]


@dataclass(frozen=True, slots=True)
class EdgeEndpoint:
    """Where an edge's proxy listens, as reachable from the harness."""

    proxy: str
    listen: str
    upstream: str


@dataclass
class Stack:
    """Services and Toxiproxy, up and reachable; faults go through :meth:`inject`.

    ``services`` maps each service to its direct URL (for health and admin
    calls, never for journeys); journeys enter at :attr:`entry_url`, which
    crosses the ``client->bank`` edge.
    """

    backend: str
    topology: Topology
    profile: str
    toxiproxy: ToxiproxyClient
    toxiproxy_version: str
    services: dict[str, str]
    edges: dict[str, EdgeEndpoint]
    admin_token: str
    injector: Injector
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def entry_url(self) -> str:
        return "http://" + self.edges[self.topology.entry_edge.name].listen

    def inject(self, *faults: Fault) -> FaultScope:
        """Hold ``faults`` while the ``with`` / ``async with`` block runs."""
        return self.injector.scope(*faults)

    def reset(self) -> None:
        """Back to "no faults": raise FaultRemovalError if anything stays behind."""
        self.injector.clear()
        left = self.injector.leftovers()
        if left:
            raise FaultRemovalError("faults left after reset: " + "; ".join(left))

    def describe(self) -> dict[str, Any]:
        """Endpoints as plain data (``domino up --json``)."""
        return {
            "backend": self.backend,
            "profile": self.profile,
            "toxiproxy": self.toxiproxy.api_url,
            "toxiproxy_version": self.toxiproxy_version,
            "entry": self.entry_url,
            "services": dict(self.services),
            "edges": {
                name: {"proxy": e.proxy, "listen": e.listen, "upstream": e.upstream}
                for name, e in self.edges.items()
            },
        }
