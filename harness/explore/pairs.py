"""Two faults deep, only where it matters: the matrix's pair cells.

A single fault never exercises a fallback's own failure: with the primary
up, the fallback carries no traffic (its single cells say "never crossed — a
fallback path?" and stay inconclusive). After the single-fault cells, the
matrix therefore also holds two faults at once, but only on pairs {A, B}
where B is a fallback of A:

- **observed**: B carried traffic while A was ``down`` (its single cell; the
  bytes each proxy carried while the fault was held, beyond the quiet
  background measured before the matrix) and no journey crosses B when
  nothing fails (the observed dependencies); or
- **declared**: domino.yaml says B is A's ``fallback`` (the journey's primary
  and its fallback, whether or not it was seen).

A pair cell holds ``down`` on A together with each kind the matrix tries on
B (the kinds it plans for B alone), and is judged like any cell. Both edges
are among those the matrix faults (``--edges``) and neither is the client
edge; every other pair of them is counted as possible and not explored, and
the rule is stated in every report (:data:`PAIR_RULE`). A pair cell goes to
the shard of A's ``down`` cell (its evidence), so shards still add up.
Fallbacks are read only from the ``down`` cells: an edge some journey crosses
anyway is never seen as a fallback by its traffic (declare it).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.experiment.timeline import FaultWindow
from harness.explore.cells import Cell, plan_cells
from harness.explore.observed import Background
from harness.model.topology import CLIENT, Topology
from harness.stack.injection import Injector

__all__ = [
    "PAIR_RULE",
    "FallbackBaseline",
    "PairPlanner",
    "PairRecord",
]

PAIR_RULE = (
    "only {A, fallback-of-A}: B carried traffic while A was down and no journey crosses B "
    "when nothing fails, or domino.yaml declares B a fallback of A; held as down on A plus "
    "each kind the matrix tries on B"
)


@dataclass(frozen=True, slots=True)
class FallbackBaseline:
    """What the edges carry when nothing fails: the edges some journey crosses, and the
    services' own background (the observed dependencies, :mod:`.observed`)."""

    crossed: frozenset[str]
    background: Background

    def newly_crossed(self, window: FaultWindow, order: Sequence[str]) -> tuple[str, ...]:
        """The edges (in ``order``) that carried more than their background while the fault
        of ``window`` was held and that no journey crosses when nothing fails."""
        held_s = max(0.0, window.removed_s - window.applied_s)
        return tuple(
            edge
            for edge in order
            if edge not in self.crossed
            and window.bytes_by_edge.get(edge, 0) > self.background.allowance_bytes(edge, held_s)
        )


@dataclass
class PairRecord:
    """One pair explored: ``down`` on ``primary`` held with each kind on ``fallback``."""

    primary: str
    fallback: str
    why: str
    cells: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "fallback": self.fallback,
            "why": self.why,
            "cells": list(self.cells),
        }


class PairPlanner:
    """Which pairs the matrix explores, and their cells, as the single cells report."""

    def __init__(
        self,
        topology: Topology,
        planned: Sequence[Cell],
        injector: Injector,
        *,
        profile: str,
        edges: Sequence[str],
        deadlines_ms: Mapping[str, float] | None = None,
    ) -> None:
        """``planned``: the matrix's single cells (before sharding); a fallback's pair
        cells are its own. ``injector`` plans ``down`` for edges whose cells lack it."""
        self._topology = topology
        #: The edges pairs are made of: those the matrix faults, but the client edge.
        self.edges = tuple(e for e in edges if topology.edge(e).source != CLIENT)
        considered = set(self.edges)
        self.declared: dict[str, tuple[str, ...]] = {
            edge: tuple(b for b in said.fallback if b in considered and b != edge)
            for edge, said in topology.declared_defences(profile).items()
            if edge in considered and said.fallback
        }
        self._own = {edge: [c for c in planned if c.edge == edge] for edge in self.edges}
        self._down = {c.edge: c for c in planned if c.kind == "down" and c.edge in considered}
        missing = [edge for edge in self.edges if edge not in self._down]
        if missing:  # the matrix's kinds leave out down: a pair holds it all the same
            downs = plan_cells(
                topology, injector, deadlines_ms=deadlines_ms, edges=missing, kinds=["down"]
            )
            self._down.update((c.edge, c) for c in downs)
        self.records: dict[tuple[str, str], PairRecord] = {}

    @property
    def possible(self) -> int:
        """Every unordered pair of two distinct edges the pairs are made of."""
        count = len(self.edges)
        return count * (count - 1) // 2

    @property
    def explored(self) -> int:
        """The unordered pairs with at least one cell."""
        return len({frozenset(key) for key, record in self.records.items() if record.cells})

    def pairs_of(self, primary: str, seen: Collection[str]) -> list[Cell]:
        """The pair cells of ``primary``: its declared fallbacks, and ``seen`` (the edges
        newly crossed while it was down); empty when it has none or cannot be held down."""
        down = self._down.get(primary)
        if down is None:
            return []
        fallbacks = dict.fromkeys(self.declared.get(primary, ()), "declared in domino.yaml")
        for edge in seen:
            if edge in self._own and edge != primary:
                said = fallbacks.get(edge)
                observed = f"carried traffic while {primary} was down"
                fallbacks[edge] = f"{observed}; {said}" if said else observed
        cells = []
        for fallback, why in fallbacks.items():
            record = self.records.setdefault(
                (primary, fallback), PairRecord(primary, fallback, why)
            )
            for own in self._own[fallback]:
                cell = Cell(
                    own.edge,
                    own.kind,
                    own.fault,
                    (*own.edges, *down.edges),
                    own.depth,
                    own.min_hold_s,
                    own.bounds,
                    primary=down,
                )
                record.cells.append(cell.id)
                cells.append(cell)
        return cells

    def summary(self, enabled: bool, note: str = "") -> dict[str, Any]:
        """The pairs part of ``matrix.json``."""
        return {
            "enabled": enabled,
            "rule": PAIR_RULE,
            "edges": list(self.edges),
            "possible": self.possible,
            "explored": self.explored,
            "pairs": [r.as_dict() for r in self.records.values()],
            "note": note,
        }
