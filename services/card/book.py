"""card's data: the customers' cards, and card points looked up from pay with a fallback cache.

Points live in pay; card asks pay on every lookup, which is the card->pay
edge of the KB Pay incident. With ``card_points_cache`` card keeps the last
value pay gave (in its own SQLite, so a restart keeps it) and answers with
it, marked stale, when pay does not answer.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from fastapi import Request

from services.card.models import Card
from services.kit.app import ServiceKit
from services.kit.auth import bearer_token
from services.kit.budget import RequestBudget
from services.kit.errors import ServiceError
from services.kit.seed import customer_ids
from services.kit.storage import Database

__all__ = ["SCHEMA", "CardBook", "Points", "callers_fault"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cards (card_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,"
    " brand TEXT NOT NULL, last4 TEXT NOT NULL, product TEXT NOT NULL,"
    " credit_limit_krw INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cards_by_customer ON cards (customer_id)",
    "CREATE TABLE IF NOT EXISTS points_cache (customer_id TEXT PRIMARY KEY,"
    " points INTEGER NOT NULL, as_of REAL NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class Points:
    """A point balance, when pay gave it, and why it is stale (``failure``) if it is."""

    points: int
    as_of_s: float
    stale: bool
    failure: ServiceError | None = None


def callers_fault(failure: ServiceError) -> bool:
    """A 4xx from pay (bad token, unknown customer) is not pay being down."""
    return failure.code.startswith(("AU", "RQ", "TX"))


def _seed(conn: sqlite3.Connection) -> None:
    if conn.execute("SELECT COUNT(*) FROM cards").fetchone()[0]:
        return
    rows = []
    for n, customer in enumerate(customer_ids(), start=1):
        rows.append((f"{customer}-1", customer, "domino", f"{n:04d}", "check", 0))
        if n % 2 == 0:
            rows.append(
                (f"{customer}-2", customer, "domino", f"{n + 5000:04d}", "credit", 3_000_000)
            )
    conn.executemany("INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?)", rows)


class CardBook:
    """Cards and points of card's customers, in card's SQLite database."""

    def __init__(self, db: Database, kit: ServiceKit) -> None:
        self.db = db
        self.kit = kit
        with db.transaction() as conn:
            _seed(conn)

    def cards_of(self, customer: str) -> list[Card]:
        rows = self.db.conn.execute(
            "SELECT card_id, brand, last4, product, credit_limit_krw FROM cards"
            " WHERE customer_id = ? ORDER BY card_id",
            (customer,),
        ).fetchall()
        return [Card(**dict(r)) for r in rows]

    async def live_points(self, request: Request, customer: str) -> Points:
        """Ask pay now (within the request's budget); remember the answer if caching."""
        knobs = self.kit.config.knobs
        pay = self.kit.dep("pay")
        budget = RequestBudget.for_request(knobs, request.headers)
        async with self.kit.bulkheads.enter("points", pay.edge):
            answer = await pay.call("GET", "/points", token=bearer_token(request), budget=budget)
        try:
            points = int(answer["points"])
        except (KeyError, TypeError, ValueError):
            raise ServiceError("DP002", [pay.link("error", "answer has no points")]) from None
        now_s = time.time()
        if knobs.card_points_cache:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO points_cache VALUES (?, ?, ?)",
                    (customer, points, now_s),
                )
        return Points(points, now_s, stale=False)

    async def points_of(self, request: Request, customer: str) -> Points:
        """Live points; with the cache, the last value seen when pay fails; else raise."""
        try:
            return await self.live_points(request, customer)
        except ServiceError as failure:
            if not self.kit.config.knobs.card_points_cache or callers_fault(failure):
                raise
            row = self.db.conn.execute(
                "SELECT points, as_of FROM points_cache WHERE customer_id = ?", (customer,)
            ).fetchone()
            if row is None:
                raise
            return Points(int(row[0]), float(row[1]), stale=True, failure=failure)

    def counts(self) -> dict[str, int]:
        conn = self.db.conn
        return {
            "cards": conn.execute("SELECT COUNT(*) FROM cards").fetchone()[0],
            "cached_points": conn.execute("SELECT COUNT(*) FROM points_cache").fetchone()[0],
        }
