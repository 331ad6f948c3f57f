"""The importer's values: the topology it returns, and the services and edges it builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.files.yamldoc import FieldPath

__all__ = ["CLIENT", "DEFAULT_PORT", "Edge", "ImportedTopology", "Service"]

#: The pseudo-service users' devices are (harness.topology.CLIENT); a Compose
#: service may not take this name in the topology.
CLIENT = "client"
#: The container port of a service that declares none and whose callers name none.
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class ImportedTopology:
    """The result of importing a Compose file.

    ``yaml_text`` is the ``domino.yaml`` to write; ``edges`` are its edge names
    in file order (the client edge first); ``notes`` are one line each about
    what the user should check before running it.
    """

    name: str
    yaml_text: str
    edges: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass
class Service:
    """A Compose service (``compose_name``, at ``path``) as the topology's service ``name``.

    ``port_known`` is False while ``container_port`` is only the default;
    ``published`` is True when Compose publishes a port of it to the host.
    """

    compose_name: str
    name: str
    path: FieldPath
    image: str = ""
    container_port: int = DEFAULT_PORT
    port_known: bool = False
    container_command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    ready: dict[str, Any] = field(default_factory=lambda: {"tcp": True})
    published: bool = False


@dataclass
class Edge:
    """The edge ``source->target`` (topology names) and the caller's variables that follow it."""

    source: str
    target: str
    env: dict[str, str] = field(default_factory=dict)
    #: (variable, port the value named) for comparison with the target's port.
    ports: list[tuple[str, int]] = field(default_factory=list)
    #: What it carries: ``http``, or ``tcp`` when a variable names it by a non-HTTP URL.
    protocol: str = "http"

    @property
    def name(self) -> str:
        """The edge's name in the topology, ``source->target``."""
        return f"{self.source}->{self.target}"
