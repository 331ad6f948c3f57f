"""Typed values the report is built from, turned into JSON-ready dicts only at the edge.

The renderers read plain data (``report.json`` is that data as written), but
what goes into it is computed here as frozen values, so a judgement is made
once, in :mod:`harness.report.data`, and never again inside a renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from harness.model.outcomes import verdict_label

__all__ = ["BlastBasis", "BlastCell", "BlastPlace", "BlastRadius", "held_window"]

#: How the cells were judged: ``fault_phase`` when one place was faulted (the fault
#: phase is that place's fault, so the run's own verdict is the cell), ``place_windows``
#: when several were (each journey judged over the calls that started while each
#: place was faulted).
BlastBasis = Literal["fault_phase", "place_windows"]


def held_window(applied_s: float, removed_s: float, fault_end_s: float) -> tuple[float, float]:
    """When a fault was held: from applied to removed, as the timeline recorded them.

    A fault never removed by the timeline (a run cut short) was held at least to the
    end of the fault phase, and the cleanup took it away after.
    """
    if removed_s <= applied_s:
        return applied_s, max(fault_end_s, applied_s)
    return applied_s, removed_s


@dataclass(frozen=True, slots=True)
class BlastCell:
    """One journey's verdict while one place was faulted, and the reason behind it.

    A failure says how it failed (``failure``: fast or slow) and how long its
    failing calls took (``failure_ms``, their p95); None otherwise.
    """

    journey: str
    #: healthy, degraded, failed or no_data (kept as text: it is shown, never branched on).
    verdict: str
    detail: str
    failure: str | None = None
    failure_ms: float | None = None

    @property
    def label(self) -> str:
        """``failed-fast``/``failed-slow`` for a failure that says how, else the verdict."""
        return verdict_label(self.verdict, self.failure)

    def as_dict(self) -> dict[str, Any]:
        """The cell as JSON-ready data (how a failure failed only where it is known)."""
        data: dict[str, Any] = {
            "journey": self.journey,
            "verdict": self.verdict,
            "detail": self.detail,
        }
        if self.failure is not None:
            data["failure"] = self.failure
            data["failure_ms"] = None if self.failure_ms is None else round(self.failure_ms, 2)
        return data


@dataclass(frozen=True, slots=True)
class BlastPlace:
    """One faulted place (an edge or a service): its faults and every journey's cell.

    ``window_s`` is the span the cells judge: the fault phase for a single faulted
    place, else from the first of its faults applied to the last removed.
    """

    target: str
    kinds: tuple[str, ...]
    touched: bool
    window_s: tuple[float, float]
    cells: tuple[BlastCell, ...]

    def as_dict(self) -> dict[str, Any]:
        """The place as JSON-ready data."""
        return {
            "target": self.target,
            "kinds": list(self.kinds),
            "touched": self.touched,
            "window_s": [round(self.window_s[0], 3), round(self.window_s[1], 3)],
            "cells": [c.as_dict() for c in self.cells],
        }


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """How far a run's failure spread: per faulted place, each journey's verdict.

    ``journeys`` is the row order (the incident's journeys, then any only observed);
    each place holds one cell per journey, in that order. No place: no fault was
    injected.
    """

    basis: BlastBasis
    journeys: tuple[str, ...]
    places: tuple[BlastPlace, ...]

    def as_dict(self) -> dict[str, Any]:
        """The blast radius as JSON-ready data (``run["blast_radius"]`` in the report)."""
        return {
            "basis": self.basis,
            "journeys": list(self.journeys),
            "places": [p.as_dict() for p in self.places],
        }
