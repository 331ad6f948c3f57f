"""Maintenance windows of the remittance network (KakaoBank's 2024-12-04 suspension).

A window has a start and an end (wall-clock epoch seconds, stored in remit's
SQLite so a restart keeps the schedule). While one is active the network
refuses new remittances with MT001, the window's end in the body and the
seconds left in ``Retry-After``; when it ends, the network takes
remittances again by itself. Windows are scheduled by an operator through
the admin API and are listed among the service's faults, so the harness
removes them like any other fault.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.kit.clock import iso_utc
from services.kit.errors import CauseLink, ServiceError
from services.kit.ids import new_id
from services.kit.storage import Database

__all__ = ["SCHEMA", "MaintenanceSchedule", "Window"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS maintenance (window_id TEXT PRIMARY KEY,"
    " starts_at REAL NOT NULL, ends_at REAL NOT NULL, reason TEXT NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class Window:
    """A maintenance window from ``starts_s`` to ``ends_s`` (epoch seconds)."""

    id: str
    starts_s: float
    ends_s: float
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "starts_at": iso_utc(self.starts_s),
            "ends_at": iso_utc(self.ends_s),
            "reason": self.reason,
        }


class MaintenanceSchedule:
    """The windows in remit's database; also the admin API's holds of kind ``maintenance``."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def windows(self) -> list[Window]:
        """Windows that have not ended yet, soonest first."""
        rows = self._db.conn.execute(
            "SELECT window_id, starts_at, ends_at, reason FROM maintenance"
            " WHERE ends_at > ? ORDER BY starts_at",
            (self._clock(),),
        ).fetchall()
        return [Window(r[0], r[1], r[2], r[3]) for r in rows]

    def active(self) -> Window | None:
        now_s = self._clock()
        for window in self.windows():
            if window.starts_s <= now_s < window.ends_s:
                return window
        return None

    def schedule(self, starts_in_s: float, duration_s: float, reason: str) -> Window:
        starts_s = self._clock() + starts_in_s
        window = Window(new_id("mw"), starts_s, starts_s + duration_s, reason)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO maintenance VALUES (?, ?, ?, ?)",
                (window.id, window.starts_s, window.ends_s, window.reason),
            )
        return window

    def refuse_if_active(self, service: str) -> None:
        """MT001 with the window's end while a window is active."""
        window = self.active()
        if window is None:
            return
        left_s = max(1, math.ceil(window.ends_s - self._clock()))
        raise ServiceError(
            "MT001",
            [
                CauseLink(
                    service,
                    None,
                    "maintenance",
                    f"window {window.id} until {iso_utc(window.ends_s)}",
                )
            ],
            message=f"Overseas remittance is under maintenance until {iso_utc(window.ends_s)}.",
            headers={"Retry-After": str(left_s)},
            extra={"maintenance": window.as_json()},
        )

    # The admin API's Holds protocol.

    def list_holds(self) -> list[dict[str, Any]]:
        return [{"kind": "maintenance", **w.as_json()} for w in self.windows()]

    def release_hold(self, hold_id: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM maintenance WHERE window_id = ? AND ends_at > ?",
                (hold_id, self._clock()),
            )
        return cursor.rowcount > 0

    def release_all(self) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM maintenance WHERE ends_at > ?", (self._clock(),))
        return cursor.rowcount
