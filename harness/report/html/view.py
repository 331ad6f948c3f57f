"""A run's data as several parts of the page read it: phases, journey order, fault bands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.report.model import held_window

__all__ = ["PHASES", "FaultBand", "fault_bands", "journey_names"]

#: (key in the verdict's journeys, name of the run's window) per phase, in order.
PHASES = (("steady", "steady"), ("during", "fault"), ("recovery", "recovery"))


@dataclass(frozen=True, slots=True)
class FaultBand:
    """A fault as drawn: when it was held, and what to call it."""

    number: int
    description: str
    kind: str
    target: str
    start_s: float
    end_s: float
    touched: bool


def fault_bands(run: Mapping[str, Any]) -> list[FaultBand]:
    """The run's faults, numbered F1, F2, ... in the order they were applied."""
    bands = []
    fault_end = float(run["windows"]["fault"][1])
    for number, fault in enumerate(run["faults"], start=1):
        # The same rule as the blast radius's windows, so the shading matches its cells.
        start, end = held_window(float(fault["applied_s"]), float(fault["removed_s"]), fault_end)
        bands.append(
            FaultBand(
                number,
                str(fault["description"]),
                str(fault["kind"]),
                str(fault["target"]),
                start,
                end,
                bool(fault["touched"]),
            )
        )
    return bands


def journey_names(run: Mapping[str, Any]) -> list[str]:
    """Journeys in the incident's order (the verdict's), then any only seen in the series."""
    names: list[str] = []
    for phase, _ in PHASES:
        for j in run["verdict"]["journeys"].get(phase, []):
            if j["journey"] not in names:
                names.append(j["journey"])
    names += [name for name in run["timeseries"] if name not in names]
    return names
