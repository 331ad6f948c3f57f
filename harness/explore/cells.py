"""The cells of a blast-radius matrix: every edge x every way it can fail, and which to run.

A cell is one fault on one place, held while every journey runs. Its kinds
(the names ``--faults`` takes):

- ``down`` (the proxy disabled), ``timeout`` (connections hang), ``reset-peer``
  (connections reset), ``bandwidth`` (1 KB/s), ``limit-data`` (answers cut
  after 64 bytes): Toxiproxy on the edge;
- ``latency-below`` / ``latency-above``: latency at half and 1.5x the
  caller's deadline when the adapter knows it (its ``caller_deadlines_ms``;
  the bank: its dependency timeout), else 300 ms and 20 s — beyond the
  10-15 s timeouts callers commonly use, so their timeouts and retries fire —
  or what ``latency_ms`` gives. On the client edge the caller is Domino's
  own user: 300 ms and 1.5x the user's own timeout. A latency cell holds its fault at least as
  long as the latency it adds, so a caller's deadline inside it can fire;
  :class:`LatencyBounds` says which values were used and why;
- ``status-500``, ``status-503``, ``status-429`` (with ``Retry-After: 1``),
  ``status-503-partial`` (30 % of requests, drawn per request), ``broken-body``
  (JSON cut short): HTTP answers on the edge itself, per request, where
  Toxiproxy is Domino's own server (any system, kept-alive connections included);
- ``http-500``, ``http-503``: the edge's target answers 5xx, where the
  system's adapter can apply application faults;
- ``crash``: the edge's target is killed (restarted when the cell ends),
  where the backend can apply process faults.

The client edge gets only the network kinds: its target is the entry
service, and crashing it is every journey's hard dependency by definition.
Cells are identified by ``EDGE|KIND`` and run shallow edges first (pruning
needs a parent's results before its children); ``--shard I/N`` assigns cells
by a hash of their id, so every machine cuts the same shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import UsageError
from harness.model.faults import (
    Bandwidth,
    Crash,
    Down,
    Fault,
    HttpBody,
    HttpError,
    HttpStatus,
    Latency,
    LimitData,
    ProcessFault,
    ResetPeer,
    ServiceFault,
    Timeout,
)
from harness.model.topology import CLIENT, Topology
from harness.stack.injection import Injector

__all__ = [
    "CELL_KINDS",
    "Cell",
    "LatencyBounds",
    "check_cell_choice",
    "edge_depths",
    "latency_bounds",
    "parse_shard",
    "plan_cells",
    "select_shard",
]

CELL_KINDS = (
    "down",
    "latency-below",
    "latency-above",
    "timeout",
    "reset-peer",
    "bandwidth",
    "limit-data",
    "status-500",
    "status-503",
    "status-429",
    "status-503-partial",
    "broken-body",
    "http-500",
    "http-503",
    "crash",
)
_NETWORK_KINDS = frozenset(CELL_KINDS) - {"http-500", "http-503", "crash"}
#: The kinds that act on an edge's HTTP requests (Domino's HTTP toxics).
_HTTP_EDGE_KINDS = frozenset(
    {"status-500", "status-503", "status-429", "status-503-partial", "broken-body"}
)
#: Latency without a known deadline: one value most SLOs absorb, and one beyond the
#: 10-15 s timeouts callers commonly use (a shorter one would never make them fire).
_LADDER_MS = (300, 20_000)
#: The most latency a cell adds (and so the longest it holds a latency fault).
_MAX_LATENCY_MS = 60_000


@dataclass(frozen=True, slots=True)
class LatencyBounds:
    """The latencies (ms) the latency kinds add on one edge, and why these."""

    edge: str
    below_ms: int
    above_ms: int
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "edge": self.edge,
            "below_ms": self.below_ms,
            "above_ms": self.above_ms,
            "why": self.why,
        }


@dataclass(frozen=True, slots=True)
class Cell:
    """One fault on one place of the topology.

    ``edges`` are the edges the fault acts on: the edge itself, or for a
    fault on the edge's target service, every edge into that service.
    """

    edge: str
    kind: str
    fault: Fault
    edges: tuple[str, ...]
    depth: int
    #: The least time (s) the fault must be held: a latency cell's own latency.
    min_hold_s: float = 0.0
    #: For a latency cell: the latencies the latency kinds add on its edge, and why.
    bounds: LatencyBounds | None = None
    #: For a pair cell (:mod:`.pairs`): the ``down`` cell on the edge whose fallback this
    #: cell's edge is, held at the same time; ``edges`` then also holds its edge, last.
    primary: Cell | None = None

    @property
    def id(self) -> str:
        own = f"{self.edge}|{self.kind}"
        return f"{self.primary.id}+{own}" if self.primary is not None else own

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults held at once: the primary's (a pair), then this cell's own."""
        return (self.primary.fault, self.fault) if self.primary is not None else (self.fault,)

    def describe(self) -> str:
        own = f"{self.kind} on {self.edge}: {self.fault.describe()}"
        return f"{self.primary.describe()} + {own}" if self.primary is not None else own


def edge_depths(topology: Topology) -> dict[str, int]:
    """Hops from the users to each edge (the client edge is 0); unreachable edges last."""
    depth = {topology.entry_edge.name: 0}
    frontier = [topology.entry_edge]
    while frontier:
        nxt = []
        for parent in frontier:
            for edge in topology.dependencies_of(parent.target):
                if edge.name not in depth:
                    depth[edge.name] = depth[parent.name] + 1
                    nxt.append(edge)
        frontier = nxt
    far = max(depth.values(), default=0) + 1
    return {e.name: depth.get(e.name, far) for e in topology.edges}


def latency_bounds(
    edge: str,
    deadline_ms: float | None,
    given_ms: tuple[int, int] | None = None,
    *,
    users_timeout_ms: float | None = None,
) -> LatencyBounds:
    """The latency kinds' values on ``edge``: ``given_ms`` (below, above) when given; on
    the client edge (``users_timeout_ms``: how long Domino's users wait), the ladder's
    low value and 1.5x the users' timeout; else half and 1.5x the caller's
    ``deadline_ms`` when known, else the default ladder."""
    if given_ms is not None:
        below, above = given_ms
        return LatencyBounds(edge, below, above, "given (--latency-ms)")
    if users_timeout_ms is not None:
        below, above = _LADDER_MS[0], min(_MAX_LATENCY_MS, round(users_timeout_ms * 1.5))
        return LatencyBounds(
            edge,
            below,
            above,
            f"the client edge: {below} ms most SLOs absorb, and 1.5x the users' own "
            f"{users_timeout_ms:g} ms timeout",
        )
    if deadline_ms is None or deadline_ms <= 0:
        below, above = _LADDER_MS
        return LatencyBounds(
            edge,
            below,
            above,
            f"no caller deadline known for {edge}: {below} ms most SLOs absorb, "
            f"{above} ms beyond the 10-15 s timeouts callers commonly use",
        )
    below = max(1, round(deadline_ms * 0.5))
    above = round(deadline_ms * 1.5)
    why = f"the caller's deadline on {edge} is {deadline_ms:g} ms (the adapter's settings)"
    if above > _MAX_LATENCY_MS:
        above = _MAX_LATENCY_MS
        why += f"; capped at {_MAX_LATENCY_MS} ms"
    return LatencyBounds(edge, below, above, f"{why}: half and 1.5x it")


def _fault(kind: str, edge: str, target: str, bounds: LatencyBounds) -> Fault:
    below, above = bounds.below_ms, bounds.above_ms
    builders: dict[str, Callable[[], Fault]] = {
        "down": lambda: Down(edge=edge),
        "latency-below": lambda: Latency(edge=edge, latency_ms=below),
        "latency-above": lambda: Latency(edge=edge, latency_ms=above),
        "timeout": lambda: Timeout(edge=edge, timeout_ms=0),
        "reset-peer": lambda: ResetPeer(edge=edge, timeout_ms=0),
        "bandwidth": lambda: Bandwidth(edge=edge, rate_kb_per_s=1),
        "limit-data": lambda: LimitData(edge=edge, limit_bytes=64),
        "status-500": lambda: HttpStatus(edge=edge, status=500),
        "status-503": lambda: HttpStatus(edge=edge, status=503),
        "status-429": lambda: HttpStatus(edge=edge, status=429, retry_after_s=1),
        "status-503-partial": lambda: HttpStatus(edge=edge, status=503, share=0.3),
        "broken-body": lambda: HttpBody(edge=edge, broken="malformed_json"),
        "http-500": lambda: HttpError(service=target, status=500),
        "http-503": lambda: HttpError(service=target, status=503),
        "crash": lambda: Crash(service=target),
    }
    return builders[kind]()


def check_cell_choice(
    topology: Topology, edges: Sequence[str] | None, kinds: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """The edges and kinds chosen (default: all); UsageError on an unknown one.

    Needs no stack: ``run_matrix`` calls it before any stack starts.
    """
    chosen_edges = list(edges) if edges else topology.edge_names
    for name in chosen_edges:
        topology.edge(name)  # UnknownEdgeError listing the known ones
    chosen_kinds = list(kinds) if kinds else list(CELL_KINDS)
    unknown = [k for k in chosen_kinds if k not in CELL_KINDS]
    if unknown:
        raise UsageError(
            f"unknown matrix fault {unknown[0]!r}; choose from: {', '.join(CELL_KINDS)}"
        )
    return chosen_edges, chosen_kinds


def plan_cells(
    topology: Topology,
    injector: Injector,
    *,
    deadlines_ms: Mapping[str, float] | None = None,
    edges: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    latency_ms: tuple[int, int] | None = None,
    users_timeout_ms: float | None = None,
) -> list[Cell]:
    """Every cell for ``edges`` x ``kinds`` (default: all) that this stack can apply.

    ``deadlines_ms`` is the caller's deadline per edge where the adapter
    knows it, ``users_timeout_ms`` how long the users wait (the client
    edge's caller); ``latency_ms`` (below, above) overrides the latency
    kinds' values (:func:`latency_bounds`). Kinds the stack cannot apply
    (no admin API, no process control) are left out, never run half-way.
    """
    chosen_edges, chosen_kinds = check_cell_choice(topology, edges, kinds)
    depths = edge_depths(topology)
    cells = []
    for name in chosen_edges:
        edge = topology.edge(name)
        for kind in chosen_kinds:
            if edge.source == CLIENT and kind not in _NETWORK_KINDS:
                continue
            if edge.protocol != "http" and kind in _HTTP_EDGE_KINDS:
                continue  # the HTTP kinds need HTTP/1.x; a `protocol: tcp` edge carries none
            if kind.startswith("http-") and not injector.supports(ServiceFault):
                continue
            if kind == "crash" and not injector.supports(ProcessFault):
                continue
            bounds = latency_bounds(
                name,
                (deadlines_ms or {}).get(name),
                latency_ms,
                users_timeout_ms=users_timeout_ms if edge.source == CLIENT else None,
            )
            fault = _fault(kind, name, edge.target, bounds)
            if not injector.supports(type(fault)):  # e.g. HTTP kinds on a stock Toxiproxy
                continue
            acts_on = (
                (name,)
                if kind in _NETWORK_KINDS
                else tuple(e.name for e in topology.edges if e.target == edge.target)
            )
            added_ms = {"latency-below": bounds.below_ms, "latency-above": bounds.above_ms}.get(
                kind, 0
            )
            cells.append(
                Cell(
                    name,
                    kind,
                    fault,
                    acts_on,
                    depths[name],
                    added_ms / 1000.0,
                    bounds if added_ms else None,
                )
            )
    # One fault on a service is one cell, whichever edge into it named it.
    seen: set[tuple[str, str]] = set()
    unique = []
    for cell in cells:
        key = (
            (cell.kind, ",".join(cell.edges))
            if cell.kind not in _NETWORK_KINDS
            else (
                cell.id,
                "",
            )
        )
        if key not in seen:
            seen.add(key)
            unique.append(cell)
    return sorted(unique, key=lambda c: (c.depth, c.edge, CELL_KINDS.index(c.kind)))


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` as (2, 3); UsageError unless 1 <= I <= N."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise UsageError(f"--shard takes I/N, e.g. 1/3, got {text!r}")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise UsageError(f"--shard {text}: I must be between 1 and N")
    return i, n


def select_shard(cells: Sequence[Cell], index: int, count: int) -> list[Cell]:
    """The cells of shard ``index`` of ``count``: the same on every machine, disjoint, complete.

    Cells go to shards by a hash of their id, so adding an edge moves few cells.
    """
    return [
        c for c in cells if int(hashlib.sha256(c.id.encode()).hexdigest(), 16) % count == index - 1
    ]
