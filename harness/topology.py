"""The system under test described as data: services, dependency edges, journeys.

Every call between two services crosses one edge, and every edge is one
Toxiproxy proxy. Faults are addressed by edge name (``"card->pay"``), never by
port, so the same fault means the same thing on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import UnknownEdgeError, UnknownServiceError
from harness.journeys import BANK_JOURNEYS, Journey

__all__ = ["BANK_TOPOLOGY", "CLIENT", "Edge", "Service", "Topology"]

#: The pseudo-service that stands for users' devices: journeys enter through it.
CLIENT = "client"


@dataclass(frozen=True, slots=True)
class Service:
    """One HTTP service of the reference system.

    ``module`` is the Python module that serves it (``python -m MODULE``).
    """

    name: str
    module: str
    health_path: str = "/health"


@dataclass(frozen=True, slots=True)
class Edge:
    """A dependency from ``source`` to ``target``, carried by one Toxiproxy proxy."""

    source: str
    target: str

    @property
    def name(self) -> str:
        """The edge's name in faults, specs and reports, e.g. ``bank->card``."""
        return f"{self.source}->{self.target}"

    @property
    def proxy_name(self) -> str:
        """The Toxiproxy proxy name; the ``domino_`` prefix marks it as Domino's."""
        return f"domino_{self.source}_to_{self.target}"


@dataclass(frozen=True)
class Topology:
    """Services, the edges between them, and the journeys users take through them."""

    name: str
    services: tuple[Service, ...]
    edges: tuple[Edge, ...]
    journeys: tuple[Journey, ...] = field(default=())
    entry_service: str = "bank"

    def __post_init__(self) -> None:
        names = {s.name for s in self.services}
        for edge in self.edges:
            for end in (edge.source, edge.target):
                if end != CLIENT and end not in names:
                    raise UnknownServiceError(end, sorted(names))

    @property
    def edge_names(self) -> list[str]:
        return [e.name for e in self.edges]

    @property
    def service_names(self) -> list[str]:
        return [s.name for s in self.services]

    def edge(self, name: str) -> Edge:
        """The edge called ``name``; raises UnknownEdgeError with the known names."""
        for edge in self.edges:
            if edge.name == name:
                return edge
        raise UnknownEdgeError(name, self.edge_names)

    def service(self, name: str) -> Service:
        """The service called ``name``; raises UnknownServiceError with the known names."""
        for service in self.services:
            if service.name == name:
                return service
        raise UnknownServiceError(name, self.service_names)

    def dependencies_of(self, service: str) -> list[Edge]:
        """The edges a service calls out on (its outgoing dependencies)."""
        return [e for e in self.edges if e.source == service]

    @property
    def entry_edge(self) -> Edge:
        """The edge users' devices reach the system through."""
        return self.edge(f"{CLIENT}->{self.entry_service}")


#: The built-in super-app: client -> bank -> card -> pay, bank -> pay, and
#: bank -> remit (the overseas remittance network, a party outside the group).
BANK_TOPOLOGY = Topology(
    name="bank",
    services=(
        Service("bank", "services.bank"),
        Service("card", "services.card"),
        Service("pay", "services.pay"),
        Service("remit", "services.remit"),
    ),
    edges=(
        Edge(CLIENT, "bank"),
        Edge("bank", "card"),
        Edge("bank", "pay"),
        Edge("card", "pay"),
        Edge("bank", "remit"),
    ),
    journeys=BANK_JOURNEYS,
)
