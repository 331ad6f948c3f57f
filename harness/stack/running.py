"""A running stack, whatever backend brought it up.

Everything after the backend (faults, journeys, verdicts, reports) talks to
a :class:`Stack` and never to processes or containers directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import FaultRemovalError
from harness.journeys import JourneyClient
from harness.model.faults import Fault
from harness.model.topology import Topology
from harness.stack.injection import FaultScope, Injector
from harness.toxiproxy.client import ToxiproxyClient

if TYPE_CHECKING:
    from harness.contracts import SystemAdapter
    from harness.model.topology import User

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
    crosses the topology's client edge. ``secrets`` (admin tokens) stay here
    and never reach a report. ``allowed_hosts`` are the backend's own hosts
    (containers on the project's network) that traffic may go to besides
    loopback. ``dependency_settings`` is, per service, the environment it must
    run with so its calls cross Toxiproxy, where the backend cannot set it
    itself (services someone else runs: ``--backend external``); empty elsewhere.
    ``extra`` is backend detail (a run folder, a network) for that backend's own use.
    """

    backend: str
    topology: Topology
    adapter: SystemAdapter
    profile: str
    toxiproxy: ToxiproxyClient
    toxiproxy_version: str
    services: dict[str, str]
    edges: dict[str, EdgeEndpoint]
    injector: Injector
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    allowed_hosts: tuple[str, ...] = ()
    dependency_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def entry_url(self) -> str:
        return "http://" + self.edges[self.topology.entry_edge.name].listen

    @property
    def admin_token(self) -> str:
        """The services' admin token, for systems that have an admin API (else empty)."""
        return self.secrets.get("admin_token", "")

    def inject(self, *faults: Fault) -> FaultScope:
        """Hold ``faults`` while the ``with`` / ``async with`` block runs."""
        return self.injector.scope(*faults)

    def client(
        self,
        *,
        user: User | None = None,
        timeout_s: float = 30.0,
        clock_origin_s: float | None = None,
        keepalive: bool = False,
    ) -> JourneyClient:
        """A :class:`JourneyClient` entering this stack, as ``user`` (default: the adapter's);
        ``keepalive`` keeps its connection between calls (default: a new one per call)."""
        return JourneyClient(
            self.entry_url,
            self.topology,
            self.adapter,
            user=user,
            timeout_s=timeout_s,
            clock_origin_s=clock_origin_s,
            allowed_hosts=self.allowed_hosts,
            keepalive=keepalive,
        )

    def reset(self) -> None:
        """Back to "no faults": raise FaultRemovalError if anything stays behind."""
        self.injector.clear()
        left = self.injector.leftovers()
        if left:
            raise FaultRemovalError("faults left after reset: " + "; ".join(left))

    def describe(self) -> dict[str, Any]:
        """Endpoints as plain data (``domino up --json``); no secrets."""
        return {
            "backend": self.backend,
            "topology": self.topology.name,
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
