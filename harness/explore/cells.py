"""The cells of a blast-radius matrix: every edge x every way it can fail, and which to run.

A cell is one fault on one place, held while every journey runs. Its kinds
(the names ``--faults`` takes):

- ``down`` (the proxy disabled), ``timeout`` (connections hang), ``reset-peer``
  (connections reset), ``bandwidth`` (1 KB/s), ``limit-data`` (answers cut
  after 64 bytes): Toxiproxy on the edge;
- ``latency-below`` / ``latency-above``: latency just below and just above
  the caller's deadline when the adapter knows it (the bank: its dependency
  timeout), else a fixed ladder of 300 ms and 3000 ms;
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.errors import UsageError
from harness.model.faults import (
    Bandwidth,
    Crash,
    Down,
    Fault,
    HttpError,
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
    "edge_depths",
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
    "http-500",
    "http-503",
    "crash",
)
_NETWORK_KINDS = frozenset(CELL_KINDS) - {"http-500", "http-503", "crash"}
#: Latency without a known deadline: one value most SLOs absorb, one few do.
_LADDER_MS = (300, 3000)


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

    @property
    def id(self) -> str:
        return f"{self.edge}|{self.kind}"

    def describe(self) -> str:
        return f"{self.kind} on {self.edge}: {self.fault.describe()}"


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


def _latency_values(deadline_ms: float | None) -> tuple[int, int]:
    if deadline_ms is None or deadline_ms <= 0:
        return _LADDER_MS
    return max(1, round(deadline_ms * 0.5)), min(8000, round(deadline_ms * 1.5))


def _fault(kind: str, edge: str, target: str, deadline_ms: float | None) -> Fault:
    below, above = _latency_values(deadline_ms)
    builders: dict[str, Callable[[], Fault]] = {
        "down": lambda: Down(edge=edge),
        "latency-below": lambda: Latency(edge=edge, latency_ms=below),
        "latency-above": lambda: Latency(edge=edge, latency_ms=above),
        "timeout": lambda: Timeout(edge=edge, timeout_ms=0),
        "reset-peer": lambda: ResetPeer(edge=edge, timeout_ms=0),
        "bandwidth": lambda: Bandwidth(edge=edge, rate_kb_per_s=1),
        "limit-data": lambda: LimitData(edge=edge, limit_bytes=64),
        "http-500": lambda: HttpError(service=target, status=500),
        "http-503": lambda: HttpError(service=target, status=503),
        "crash": lambda: Crash(service=target),
    }
    return builders[kind]()


def plan_cells(
    topology: Topology,
    injector: Injector,
    *,
    deadlines_ms: dict[str, float] | None = None,
    edges: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Cell]:
    """Every cell for ``edges`` x ``kinds`` (default: all) that this stack can apply.

    ``deadlines_ms`` is the caller's deadline per edge where the adapter
    knows it. Kinds the stack cannot apply (no admin API, no process
    control) are left out, never run half-way.
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
    depths = edge_depths(topology)
    cells = []
    for name in chosen_edges:
        edge = topology.edge(name)
        for kind in chosen_kinds:
            if edge.source == CLIENT and kind not in _NETWORK_KINDS:
                continue
            if kind.startswith("http-") and not injector.supports(ServiceFault):
                continue
            if kind == "crash" and not injector.supports(ProcessFault):
                continue
            fault = _fault(kind, name, edge.target, (deadlines_ms or {}).get(name))
            acts_on = (
                (name,)
                if kind in _NETWORK_KINDS
                else tuple(e.name for e in topology.edges if e.target == edge.target)
            )
            cells.append(Cell(name, kind, fault, acts_on, depths[name]))
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
