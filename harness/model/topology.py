"""The system under test described as data: services, dependency edges, journeys.

Every call between two services crosses one edge, and every edge is one
Toxiproxy proxy. Faults are addressed by edge name (``"card->pay"``), never by
port, so the same fault means the same thing on every backend.

A topology is read from a ``domino.yaml`` file (:mod:`harness.files.topology_file`);
the bank Domino ships is one (``harness/systems/bank/domino.yaml``). These are
values only: how a service is started lives in the backends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from harness.errors import UnknownEdgeError, UnknownServiceError, UsageError

__all__ = [
    "CLIENT",
    "EDGE_PROTOCOLS",
    "BodyExpectation",
    "BuildStep",
    "DeclaredDefences",
    "Edge",
    "EdgeProtocol",
    "FileKind",
    "Journey",
    "Profile",
    "Readiness",
    "Service",
    "ServiceFile",
    "Session",
    "Slo",
    "Topology",
    "User",
]


#: What an edge carries: HTTP/1.x (every fault kind) or other TCP traffic (no HTTP kinds).
EdgeProtocol = Literal["http", "tcp"]
EDGE_PROTOCOLS: tuple[EdgeProtocol, ...] = ("http", "tcp")


@dataclass(frozen=True, slots=True)
class Slo:
    """What a journey must achieve to count as healthy."""

    p95_ms: float
    success_rate: float = 0.99


@dataclass(frozen=True, slots=True)
class BodyExpectation:
    """What a good answer's body holds, beyond a successful status (``expect_body:``).

    ``json``: the body is a JSON document (implied by ``has`` and ``equals``);
    ``has``: JSON fields that are present and not null, as dotted paths
    (``order.id``; list items by index: ``products.0.sku``); ``equals``: JSON
    fields that must equal a value (numbers compare as numbers, ``true`` never
    equals ``1``); ``contains``: texts the body holds; ``min_bytes``: the
    body's least length in bytes (1: not empty). An answer the journey's
    status accepts but whose body fails one of these is a failure.
    """

    json: bool = False
    has: tuple[str, ...] = ()
    equals: Mapping[str, Any] = field(default_factory=dict)
    contains: tuple[str, ...] = ()
    min_bytes: int = 0

    @property
    def wants_json(self) -> bool:
        """True when the body must be JSON."""
        return self.json or bool(self.has) or bool(self.equals)


@dataclass(frozen=True, slots=True)
class Journey:
    """One user action through the system: an HTTP request and what it must achieve.

    ``hard_deps`` are edges the journey cannot succeed without; ``soft_deps``
    are edges whose loss should only degrade it (in a well-built system).
    ``session`` says whether it is made inside a user's session. ``expect``
    lists the statuses that count as success (empty: any 2xx). ``path``,
    ``headers`` and ``json_body`` may hold ``{uuid}``, ``{user.id}`` and
    ``{user.password}`` placeholders. ``expect_body`` says what a good
    answer's body holds (None: any body the status allows).
    """

    name: str
    method: str
    path: str
    slo: Slo
    hard_deps: tuple[str, ...] = ()
    soft_deps: tuple[str, ...] = ()
    session: bool = True
    json_body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: tuple[int, ...] = ()
    expect_body: BodyExpectation | None = None

    def accepts(self, status: int) -> bool:
        """True when ``status`` counts as this journey's success."""
        return status in self.expect if self.expect else 200 <= status < 300


#: The pseudo-service that stands for users' devices: journeys enter through it.
CLIENT = "client"


@dataclass(frozen=True, slots=True)
class Readiness:
    """How Domino knows a service is up: one explicit strategy with a deadline.

    ``kind`` is ``http`` (GET ``path`` answers ``status``, or any 2xx when
    ``status`` is None), ``tcp`` (the port accepts connections) or ``log``
    (``text`` appears in the service's output; local backend).
    """

    kind: Literal["http", "tcp", "log"] = "http"
    path: str = "/health"
    status: int | None = None
    text: str = ""
    timeout_s: float = 30.0

    def describe(self) -> str:
        if self.kind == "http":
            return f"GET {self.path} answering {self.status or '2xx'}"
        if self.kind == "tcp":
            return "its port accepting connections"
        return f"{self.text!r} in its output"


#: How a :class:`ServiceFile` makes its content.
FileKind = Literal["template", "dotenv", "json", "yaml", "ini", "toml", "properties"]


@dataclass(frozen=True, slots=True)
class ServiceFile:
    """A file Domino writes for one service before each start of its process (``files:``).

    ``path`` is where: relative to the service's ``{data_dir}`` (the run's
    own folder for it), or, with ``in_working_copy``, an absolute path to a
    file in the user's working copy under the topology's folder, which
    Domino puts back as it was when the run ends, however it ends. ``kind``
    says how the content is made:

    - ``template``: ``template`` rendered (its placeholders filled);
    - ``dotenv``: ``settings`` (``KEY: template``) as ``KEY=value`` lines,
      replacing those keys in ``source`` and keeping its other lines;
    - ``json`` / ``yaml``: ``source`` parsed and each dotted key of
      ``settings`` set to its value (strings rendered), then written back;
    - ``ini`` / ``toml`` / ``properties``: the lines of ``source`` setting
      these keys replaced, every other line kept
      (:mod:`harness.backends.settings_lines`).

    ``source`` is the file edited (None: the file at ``path`` as the user
    has it, or an empty one). ``container_path`` is where the docker backend
    copies the file into the service's container (an absolute path; None: in
    the container's ``{data_dir}``, for a file that goes there).
    """

    path: Path
    kind: FileKind
    in_working_copy: bool = False
    template: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = None
    container_path: PurePosixPath | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """One service and the ways it can run.

    ``command`` (local backend) is an argv whose items may hold placeholders
    (``{port}``, ``{bind_host}``, ``{dir}``, ``{data_dir}``, ``{python}``,
    ``{service}``); ``env`` is its environment, with the same placeholders;
    ``files`` are settings files written before each start (local backend) or
    copied into the container (docker backend).
    ``image`` / ``container_command`` / ``container_port`` run it on the
    docker backend (``container_healthcheck`` is an argv the engine runs
    inside the container for ``docker ps`` and Compose's ``depends_on``);
    ``url`` is where it already runs (external backend).
    """

    name: str
    command: tuple[str, ...] = ()
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None
    container_command: tuple[str, ...] | None = None
    container_port: int = 8080
    container_healthcheck: tuple[str, ...] | None = None
    url: str | None = None
    ready: Readiness = field(default_factory=Readiness)
    files: tuple[ServiceFile, ...] = ()


@dataclass(frozen=True, slots=True)
class DeclaredDefences:
    """How an edge's caller says it defends itself, for ``domino defences`` to compare
    with what it measures (``timeout_ms``, ``retries``, ``fallback`` on an edge in
    domino.yaml, or on a profile's ``edges``). None: not declared.

    ``timeout_ms`` is the caller's deadline per attempt; ``retries`` the attempts
    it makes after a failed one (0: none); ``fallback`` the edges it turns to when
    this one fails (``()``: declared to have none).
    """

    timeout_ms: float | None = None
    retries: int | None = None
    fallback: tuple[str, ...] | None = None

    @property
    def declared(self) -> bool:
        """True when any of the three is declared."""
        return (self.timeout_ms, self.retries, self.fallback) != (None, None, None)

    def over(self, base: DeclaredDefences) -> DeclaredDefences:
        """These declarations, the rest from ``base`` (a profile's over the edge's)."""
        return DeclaredDefences(
            timeout_ms=base.timeout_ms if self.timeout_ms is None else self.timeout_ms,
            retries=base.retries if self.retries is None else self.retries,
            fallback=base.fallback if self.fallback is None else self.fallback,
        )


@dataclass(frozen=True, slots=True)
class Edge:
    """A dependency from ``source`` to ``target``, carried by one Toxiproxy proxy.

    ``env`` is set on the source so it reaches the target through the edge's
    listener (templates with ``{host}``, ``{port}``, ``{edge}``); ``listen`` is
    a fixed listen address for the external backend; ``declared`` what the
    source says of its defences on the edge (checked by ``domino defences``).
    ``protocol`` is what the edge carries: ``http`` (HTTP/1.x, the default:
    every fault kind) or ``tcp`` (anything else: a database, a queue, TLS;
    the HTTP kinds are refused there).
    """

    source: str
    target: str
    env: Mapping[str, str] = field(default_factory=dict)
    listen: str | None = None
    declared: DeclaredDefences = field(default_factory=DeclaredDefences)
    protocol: EdgeProtocol = "http"

    @property
    def name(self) -> str:
        """The edge's name in faults, specs and reports, e.g. ``bank->card``."""
        return f"{self.source}->{self.target}"

    @property
    def proxy_name(self) -> str:
        """The Toxiproxy proxy name; the ``domino_`` prefix marks it as Domino's."""
        return f"domino_{self.source}_to_{self.target}"


@dataclass(frozen=True, slots=True)
class Profile:
    """A named way to configure the system: extra environment per service, and what it
    declares of the callers' defences per edge (over the edges' own declarations)."""

    name: str
    env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    edges: Mapping[str, DeclaredDefences] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class User:
    """A user journeys act as (``{user.id}``, ``{user.password}`` in templates)."""

    id: str
    password: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """The request that starts a user's session, and the headers its answer provides.

    ``provides`` maps a header to a template over the answer, e.g.
    ``{"Authorization": "Bearer {body.token}"}``.
    """

    method: str
    path: str
    json_body: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    provides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BuildStep:
    """A command the local backend runs once before starting services (e.g. ``go build``)."""

    command: tuple[str, ...]
    cwd: Path
    timeout_s: float = 300.0


@dataclass(frozen=True)
class Topology:
    """Services, the edges between them, and the journeys users take through them."""

    name: str
    services: tuple[Service, ...]
    edges: tuple[Edge, ...]
    journeys: tuple[Journey, ...] = field(default=())
    adapter: str = "http"
    profiles: tuple[Profile, ...] = field(default=(Profile("default"),))
    session: Session | None = None
    users: tuple[User, ...] = field(default=())
    build: BuildStep | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    path: Path | None = None

    def __post_init__(self) -> None:
        names = {s.name for s in self.services}
        for edge in self.edges:
            for end in (edge.source, edge.target):
                if end != CLIENT and end not in names:
                    raise UnknownServiceError(end, sorted(names))
        if not [e for e in self.edges if e.source == CLIENT]:
            raise UsageError(f"topology {self.name!r} has no client edge (client->SERVICE)")

    @property
    def edge_names(self) -> list[str]:
        return [e.name for e in self.edges]

    @property
    def service_names(self) -> list[str]:
        return [s.name for s in self.services]

    @property
    def profile_names(self) -> list[str]:
        return [p.name for p in self.profiles]

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

    def journey(self, name: str) -> Journey:
        """The journey called ``name``; UsageError listing the known ones."""
        for journey in self.journeys:
            if journey.name == name:
                return journey
        known = ", ".join(j.name for j in self.journeys)
        raise UsageError(f"unknown journey {name!r} in topology {self.name!r}; known: {known}")

    def profile(self, name: str) -> Profile:
        for profile in self.profiles:
            if profile.name == name:
                return profile
        raise UsageError(
            f"unknown profile {name!r} for topology {self.name!r}; "
            f"choose one of: {', '.join(self.profile_names)}"
        )

    def declared_defences(self, profile: str) -> dict[str, DeclaredDefences]:
        """Per edge, what its caller declares of its defences under ``profile`` (the
        profile's declarations over the edge's); edges declaring nothing are left out."""
        chosen = self.profile(profile) if profile in self.profile_names else Profile(profile)
        found = {}
        for edge in self.edges:
            declared = chosen.edges.get(edge.name, DeclaredDefences()).over(edge.declared)
            if declared.declared:
                found[edge.name] = declared
        return found

    def dependencies_of(self, service: str) -> list[Edge]:
        """The edges a service calls out on (its outgoing dependencies)."""
        return [e for e in self.edges if e.source == service]

    def path_to(self, edge: str) -> list[Edge]:
        """The shortest chain of edges from the client edge to ``edge`` (inclusive).

        An edge not reachable from the client edge is its own chain.
        """
        target = self.edge(edge)
        entry = self.entry_edge
        queue: deque[list[Edge]] = deque([[entry]])
        seen = {entry.target}
        while queue:
            path = queue.popleft()
            if path[-1].name == target.name:
                return path
            for nxt in self.dependencies_of(path[-1].target):
                if nxt.name == target.name:
                    return [*path, nxt]
                if nxt.target not in seen:
                    seen.add(nxt.target)
                    queue.append([*path, nxt])
        return [target]

    def dependency_cycles(self) -> list[list[str]]:
        """Groups of services that call each other in a cycle, each in topology order.

        Each group is a strongly connected set of the services' call graph
        (a service calling itself is a group of one). Domino runs such a
        system, but a fault in a cycle comes back to where it started, and
        a journey's inferred path (:meth:`path_to`) is the shortest of several.
        """
        calls: dict[str, list[str]] = {name: [] for name in self.service_names}
        for edge in self.edges:
            if edge.source in calls:
                calls[edge.source].append(edge.target)
        return _cycles(self.service_names, calls)

    @property
    def warnings(self) -> list[str]:
        """What Domino accepts in this topology but a user should know: one line each."""
        lines = []
        for group in self.dependency_cycles():
            members = set(group)
            edges = [e.name for e in self.edges if e.source in members and e.target in members]
            lines.append(
                f"dependency cycle: {', '.join(group)} call each other ({', '.join(edges)}); "
                "a fault in it can come back to where it started and a journey's inferred "
                "path is the shortest of several: break the cycle if it is not meant"
            )
        return lines

    @property
    def entry_edge(self) -> Edge:
        """The edge users' devices reach the system through."""
        return next(e for e in self.edges if e.source == CLIENT)

    @property
    def entry_service(self) -> str:
        return self.entry_edge.target

    @property
    def default_profile(self) -> str:
        return self.profiles[0].name


def _cycles(names: list[str], calls: Mapping[str, list[str]]) -> list[list[str]]:
    """The strongly connected groups of ``calls`` that hold a cycle, in ``names`` order.

    Tarjan's algorithm without recursion: a generated file may chain
    thousands of services.
    """
    order = {name: position for position, name in enumerate(names)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in names:
        work = [] if root in index else [(root, 0)]
        while work:
            node, next_call = work.pop()
            if next_call == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if next_call < len(calls[node]):
                work.append((node, next_call + 1))
                callee = calls[node][next_call]
                if callee not in index:
                    work.append((callee, 0))
                continue
            # Done with node: its callees still on the stack are in its group.
            low[node] = min([low[node]] + [low[c] for c in calls[node] if c in on_stack])
            if low[node] == index[node]:
                at = len(stack) - 1 - stack[::-1].index(node)
                group = stack[at:]
                del stack[at:]
                on_stack.difference_update(group)
                if len(group) > 1 or node in calls[node]:
                    groups.append(sorted(group, key=order.__getitem__))
    return sorted(groups, key=lambda group: order[group[0]])
