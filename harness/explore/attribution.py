"""Attribution: for a cascade violation, the path from the faulted place to the journey that broke.

Two sources, and the report says which one each attribution rests on:

- **shown**: the system's own cause chains (the bank's error bodies name
  the edges a failure crossed, first link first): the path is read from the
  answers the broken journey got during the fault;
- **inferred**: no cause chain (a generic system): the path is the shortest
  chain of edges in the topology from the journey's entry to the faulted edge.

The first place that should have contained the failure is the caller of the
faulted edge on that path — the service that waited on the fault and passed
it up instead of answering within its deadline, breaking the circuit, or
degrading — with what the adapter's settings say about it, when known, and what
domino.yaml declares of the callers' defences along the path (``timeout_ms``,
``retries``, ``fallback``), for any system.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from harness.model.topology import Journey, Topology

if TYPE_CHECKING:
    from harness.experiment import ExperimentResult
    from harness.explore.cells import Cell
    from harness.stack import Stack

__all__ = ["Attribution", "attribute", "declared_line", "path_through"]

#: Settings that say how a caller contains a failing dependency (the bank's knobs).
_CONTAINMENT_SETTINGS = (
    "dependency_timeout_s",
    "request_budget_s",
    "retries",
    "circuit_breaker",
    "card_points_cache",
    "degrade_card_features",
    "login_fetches_card",
    "bulkheads",
)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Why one journey broke in one cell."""

    journey: str
    faulted: str
    path: tuple[str, ...]
    basis: Literal["shown", "inferred"]
    container: str
    detail: str

    def describe(self) -> str:
        path = " -> ".join(self.path) if self.path else "(no path found)"
        return (
            f"{self.journey} broke by {self.faulted}: path {path} ({self.basis}); first place "
            f"that should have contained it: {self.container} ({self.detail})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "faulted": self.faulted,
            "path": list(self.path),
            "basis": self.basis,
            "container": self.container,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Attribution:
        return cls(
            str(raw["journey"]),
            str(raw["faulted"]),
            tuple(raw.get("path", ())),
            raw.get("basis", "inferred"),
            str(raw.get("container", "")),
            str(raw.get("detail", "")),
        )


def path_through(topology: Topology, target_edge: str) -> tuple[str, ...]:
    """The shortest chain of edges from the entry to ``target_edge`` (empty if unreachable)."""
    entry = topology.entry_edge.name
    paths: dict[str, tuple[str, ...]] = {entry: (entry,)}
    frontier = [entry]
    while frontier:
        nxt = []
        for name in frontier:
            if name == target_edge:
                return paths[name]
            for edge in topology.dependencies_of(topology.edge(name).target):
                if edge.name not in paths:
                    paths[edge.name] = (*paths[name], edge.name)
                    nxt.append(edge.name)
        frontier = nxt
    return ()


def _shown_path(run: ExperimentResult, journey: str, cell: Cell) -> tuple[str, ...] | None:
    """The most common cause chain of the journey's answers during the fault, entry first."""
    start, end = run.fault_window_s
    chains: Counter[tuple[str, ...]] = Counter()
    for o in run.observations:
        if o.journey != journey or not start <= o.at_s < end or not o.cause:
            continue
        edges = tuple(str(link["edge"]) for link in o.cause if link.get("edge"))
        if edges and edges[0] in cell.edges:
            # Links run from where it started outwards; a path reads from the user inwards.
            chains[tuple(dict.fromkeys(reversed(edges)))] += 1
    if not chains:
        return None
    return chains.most_common(1)[0][0]


def declared_line(topology: Topology, profile: str, path: tuple[str, ...]) -> str:
    """What domino.yaml declares of the callers' defences along ``path`` under ``profile``
    ("gateway->profile: timeout_ms 400, fallback none; ..."), or ""."""
    declared = topology.declared_defences(profile)
    parts = []
    for edge in path:
        said = declared.get(edge)
        if said is None:
            continue
        values = []
        if said.timeout_ms is not None:
            values.append(f"timeout_ms {said.timeout_ms:g}")
        if said.retries is not None:
            values.append(f"retries {said.retries}")
        if said.fallback is not None:
            values.append(f"fallback {', '.join(said.fallback) or 'none'}")
        parts.append(f"{edge}: {', '.join(values)}")
    return "; ".join(parts)


def _settings_line(stack: Stack, path: tuple[str, ...]) -> str:
    """The adapter's settings that contain a failure, and what domino.yaml declares along
    ``path``; a generic system with neither is told how to give Domino numbers."""
    known = [f"{k}={stack.settings[k]}" for k in _CONTAINMENT_SETTINGS if k in stack.settings]
    declared = declared_line(stack.topology, stack.profile, path)
    if declared:
        known.append(f"declared in domino.yaml: {declared}")
    if known:
        return ", ".join(known)
    return (
        "no settings known to Domino for this system (declare timeout_ms, retries and "
        "fallback on its edges in domino.yaml, or measure them: domino defences)"
    )


def attribute(stack: Stack, cell: Cell, journey: Journey, run: ExperimentResult) -> Attribution:
    """The path and the first container for ``journey`` breaking in ``cell``."""
    topology = stack.topology
    entry = topology.entry_edge.name
    shown = _shown_path(run, journey.name, cell)
    if shown is not None:
        path = shown if shown[0] == entry else (entry, *shown)
        basis: Literal["shown", "inferred"] = "shown"
    else:
        path = path_through(topology, cell.edges[0])
        basis = "inferred"
    faulted_edge = topology.edge(path[-1] if path else cell.edges[0])
    container = faulted_edge.source
    detail = (
        f"calls {faulted_edge.target} over {faulted_edge.name} and passed the failure up; "
        + _settings_line(stack, tuple(path))
    )
    return Attribution(journey.name, cell.id, tuple(path), basis, container, detail)
