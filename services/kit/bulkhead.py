"""Bulkheads: a concurrency limit per feature, so one slow dependency cannot take every worker.

A full bulkhead rejects at once (OV002, naming the feature and the edge it
waits on) rather than queueing: a queue in front of a hung dependency only
turns a fast failure into a slow one. Without bulkheads (the fragile
profile) :meth:`Bulkheads.enter` only counts, so the admin stats still show
how many calls each feature had in flight.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.kit.errors import CauseLink, ServiceError

__all__ = ["Bulkheads", "FeatureLoad"]


@dataclass
class FeatureLoad:
    """Calls of one feature: in flight now, the most seen at once, and rejected."""

    in_flight: int = 0
    max_in_flight: int = 0
    rejected: int = 0


class Bulkheads:
    """Per-feature limits of ``limit`` concurrent calls; ``enforce`` False only counts."""

    def __init__(self, service: str, limit: int, *, enforce: bool) -> None:
        self._service = service
        self.limit = max(1, limit)
        self.enforce = enforce
        self.features: dict[str, FeatureLoad] = {}

    @asynccontextmanager
    async def enter(self, feature: str, edge: str | None = None) -> AsyncIterator[None]:
        """Hold one slot of ``feature`` while the block runs; OV002 when none is free."""
        load = self.features.setdefault(feature, FeatureLoad())
        if self.enforce and load.in_flight >= self.limit:
            load.rejected += 1
            raise ServiceError(
                "OV002",
                [
                    CauseLink(
                        self._service,
                        edge,
                        "bulkhead_full",
                        f"feature {feature}: {load.in_flight}/{self.limit} calls in flight",
                    )
                ],
                headers={"Retry-After": "1"},
            )
        load.in_flight += 1
        load.max_in_flight = max(load.max_in_flight, load.in_flight)
        try:
            yield
        finally:
            load.in_flight -= 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            name: {
                "in_flight": load.in_flight,
                "max_in_flight": load.max_in_flight,
                "rejected": load.rejected,
                "limit": self.limit if self.enforce else 0,
            }
            for name, load in self.features.items()
        }
