"""A feature kill switch with declared exceptions (Toss Bank's FX suspension).

A switch guards one feature (``fx``). While it is suspended every operation
of the feature answers FS001 at once, except the operations declared as
exceptions (``fx.shortfall``: the automatic exchange of a shortfall amount),
which keep working. It is suspended

- by an operator, through the admin API, until the operator resumes it; or
- automatically, when the feature's own traffic surges past
  ``surge_per_s`` operations per second over a 2-second window; an automatic
  trip resumes by itself after ``suspend_s``.

An unarmed switch (the fragile profile) never trips and cannot be set: the
feature simply has no kill switch.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.kit.clock import iso_utc
from services.kit.errors import CauseLink, ServiceError

__all__ = ["FeatureSwitch", "Suspension"]

_SURGE_WINDOW_S = 2.0
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Suspension:
    """Why and until when a feature is suspended (``until_s`` None: until resumed)."""

    id: str
    reason: str
    since_s: float
    until_s: float | None
    automatic: bool


class FeatureSwitch:
    """The kill switch of ``feature``; ``exceptions`` are operations that keep working."""

    def __init__(
        self,
        service: str,
        feature: str,
        exceptions: frozenset[str],
        *,
        armed: bool,
        surge_per_s: float,
        suspend_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.feature = feature
        self.exceptions = exceptions
        self.armed = armed
        self.surge_per_s = surge_per_s
        self.suspend_s = suspend_s
        self.clock = clock
        self.suspension: Suspension | None = None
        self.trips = 0
        self.refused = 0
        self._recent: deque[float] = deque()

    def active(self) -> Suspension | None:
        """The suspension in force now, if any (an expired automatic one is lifted)."""
        held = self.suspension
        if held is not None and held.until_s is not None and self.clock() >= held.until_s:
            self.suspension = None
            return None
        return held

    def suspend(self, reason: str, *, duration_s: float | None = None) -> Suspension:
        """Suspend now (operator); ``duration_s`` None holds until :meth:`resume`."""
        if not self.armed:
            raise ServiceError(
                "TX003",
                message=f"{self.feature} has no kill switch in this profile (knob is off).",
            )
        now_s = self.clock()
        until_s = None if duration_s is None else now_s + duration_s
        self.suspension = Suspension(f"s{next(_ids)}", reason, now_s, until_s, automatic=False)
        return self.suspension

    def resume(self) -> bool:
        """Lift any suspension; True if one was in force."""
        was = self.active() is not None
        self.suspension = None
        self._recent.clear()
        return was

    def check(self, operation: str) -> None:
        """Raise FS001 when the feature is suspended and ``operation`` is not an exception."""
        held = self.active()
        if held is None or operation in self.exceptions:
            return
        self.refused += 1
        until = iso_utc(held.until_s) if held.until_s is not None else None
        headers = {}
        if held.until_s is not None:
            headers["Retry-After"] = str(max(1, int(held.until_s - self.clock()) + 1))
        raise ServiceError(
            "FS001",
            [CauseLink(self.service, None, "suspended", f"{self.feature}: {held.reason}")],
            headers=headers,
            extra={
                "suspended": {
                    "feature": self.feature,
                    "since": iso_utc(held.since_s),
                    "until": until,
                    "exceptions": sorted(self.exceptions),
                }
            },
        )

    def record(self) -> None:
        """Count one operation of the feature; trip the switch when they surge."""
        if not self.armed:
            return
        now_s = self.clock()
        recent = self._recent
        recent.append(now_s)
        while recent and now_s - recent[0] > _SURGE_WINDOW_S:
            recent.popleft()
        limit = self.surge_per_s * _SURGE_WINDOW_S
        if len(recent) > limit and self.active() is None:
            self.trips += 1
            self.suspension = Suspension(
                f"s{next(_ids)}",
                f"surge: {len(recent)} operations in {_SURGE_WINDOW_S:g} s (limit {limit:g})",
                now_s,
                now_s + self.suspend_s,
                automatic=True,
            )
            recent.clear()

    def describe(self) -> dict[str, Any]:
        held = self.active()
        return {
            "feature": self.feature,
            "armed": self.armed,
            "suspended": held is not None,
            "reason": held.reason if held else None,
            "automatic": held.automatic if held else None,
            "since": iso_utc(held.since_s) if held else None,
            "until": iso_utc(held.until_s) if held and held.until_s is not None else None,
            "exceptions": sorted(self.exceptions),
            "surge_per_s": self.surge_per_s,
            "trips": self.trips,
            "refused": self.refused,
        }
