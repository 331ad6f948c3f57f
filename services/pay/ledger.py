"""pay's books: each customer's card credit line and card-point balance.

A payment is authorised (the amount is held against the credit line),
then captured (spent for good; it earns points) or voided (the hold is
released). So for every customer, at every moment::

    credit limit == available credit + authorised holds + captured spending

and the points in all balances are the seeded points plus the points every
captured payment earned. :func:`invariants` checks both.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from services.kit.auth import password_digest
from services.kit.clock import iso_utc
from services.kit.errors import ServiceError
from services.kit.idempotency import IDEMPOTENCY_SCHEMA
from services.kit.ids import new_id
from services.kit.seed import customer_ids, password_of

__all__ = ["CREDIT_LIMIT_KRW", "SCHEMA", "authorise", "capture", "invariants", "seed", "void"]

#: Every seeded customer's card credit limit.
CREDIT_LIMIT_KRW = 3_000_000
#: One point per this many KRW captured.
KRW_PER_POINT = 100

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS customers"
    " (customer_id TEXT PRIMARY KEY, password_digest TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS points (customer_id TEXT PRIMARY KEY,"
    " points INTEGER NOT NULL CHECK (points >= 0))",
    "CREATE TABLE IF NOT EXISTS credit (customer_id TEXT PRIMARY KEY,"
    " limit_krw INTEGER NOT NULL, available_krw INTEGER NOT NULL CHECK (available_krw >= 0))",
    "CREATE TABLE IF NOT EXISTS payments (payment_id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL, merchant TEXT NOT NULL, amount_krw INTEGER NOT NULL,"
    " state TEXT NOT NULL, points_earned INTEGER NOT NULL, created_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS payments_by_customer ON payments (customer_id, created_at)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    IDEMPOTENCY_SCHEMA,
)


def seed(conn: sqlite3.Connection) -> None:
    """Customers, their points and credit lines, once, on a fresh database."""
    if conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]:
        return
    ids = customer_ids()
    conn.executemany(
        "INSERT INTO customers VALUES (?, ?)",
        [(c, password_digest(c, password_of(c))) for c in ids],
    )
    points = [(c, 1000 + n * 70) for n, c in enumerate(ids)]
    conn.executemany("INSERT INTO points VALUES (?, ?)", points)
    conn.executemany(
        "INSERT INTO credit VALUES (?, ?, ?)",
        [(c, CREDIT_LIMIT_KRW, CREDIT_LIMIT_KRW) for c in ids],
    )
    conn.execute("INSERT INTO meta VALUES ('seeded_points', ?)", (str(sum(p for _, p in points)),))


def view(conn: sqlite3.Connection, payment_id: str, customer_id: str) -> dict[str, Any]:
    """A payment as the API shows it; RQ002 if it is not the customer's."""
    row = conn.execute(
        "SELECT * FROM payments WHERE payment_id = ? AND customer_id = ?",
        (payment_id, customer_id),
    ).fetchone()
    if row is None:
        raise ServiceError("RQ002", message=f"No payment {payment_id}.")
    available = conn.execute(
        "SELECT available_krw FROM credit WHERE customer_id = ?", (customer_id,)
    ).fetchone()
    return {
        "payment_id": row["payment_id"],
        "customer_id": row["customer_id"],
        "merchant": row["merchant"],
        "amount_krw": row["amount_krw"],
        "state": row["state"],
        "points_earned": row["points_earned"],
        "available_credit_krw": available[0] if available else 0,
        "created_at": iso_utc(row["created_at"]),
    }


def authorise(conn: sqlite3.Connection, customer_id: str, merchant: str, amount_krw: int) -> str:
    """Hold ``amount_krw`` on the credit line; the new payment's id (TX001 if too little)."""
    row = conn.execute(
        "SELECT available_krw FROM credit WHERE customer_id = ?", (customer_id,)
    ).fetchone()
    if row is None:
        raise ServiceError("RQ002", message=f"{customer_id} has no card credit line.")
    if row[0] < amount_krw:
        raise ServiceError(
            "TX001", message=f"Available credit is {row[0]} KRW; {amount_krw} KRW were asked."
        )
    payment_id = new_id("pm")
    conn.execute(
        "UPDATE credit SET available_krw = available_krw - ? WHERE customer_id = ?",
        (amount_krw, customer_id),
    )
    conn.execute(
        "INSERT INTO payments VALUES (?, ?, ?, ?, 'authorised', 0, ?)",
        (payment_id, customer_id, merchant, amount_krw, time.time()),
    )
    return payment_id


def _state(conn: sqlite3.Connection, payment_id: str, customer_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT state, amount_krw FROM payments WHERE payment_id = ? AND customer_id = ?",
        (payment_id, customer_id),
    ).fetchone()
    if row is None:
        raise ServiceError("RQ002", message=f"No payment {payment_id}.")
    return row


def capture(conn: sqlite3.Connection, payment_id: str, customer_id: str) -> None:
    """authorised -> captured, earning points; a captured payment stays as it is."""
    row = _state(conn, payment_id, customer_id)
    if row["state"] == "captured":
        return
    if row["state"] != "authorised":
        raise ServiceError("TX003", message=f"Payment {payment_id} is {row['state']}.")
    earned = int(row["amount_krw"]) // KRW_PER_POINT
    conn.execute(
        "UPDATE payments SET state = 'captured', points_earned = ? WHERE payment_id = ?",
        (earned, payment_id),
    )
    conn.execute(
        "UPDATE points SET points = points + ? WHERE customer_id = ?", (earned, customer_id)
    )


def void(conn: sqlite3.Connection, payment_id: str, customer_id: str) -> None:
    """authorised -> voided, releasing the hold; a voided payment stays as it is."""
    row = _state(conn, payment_id, customer_id)
    if row["state"] == "voided":
        return
    if row["state"] != "authorised":
        raise ServiceError("TX003", message=f"Payment {payment_id} is {row['state']}.")
    conn.execute("UPDATE payments SET state = 'voided' WHERE payment_id = ?", (payment_id,))
    conn.execute(
        "UPDATE credit SET available_krw = available_krw + ? WHERE customer_id = ?",
        (row["amount_krw"], customer_id),
    )


def invariants(conn: sqlite3.Connection) -> dict[str, Any]:
    """Credit lines and points add up; the counts of payments per state."""
    violations: list[str] = []
    drifted = conn.execute(
        "SELECT c.customer_id, c.limit_krw, c.available_krw,"
        " COALESCE(SUM(CASE WHEN p.state IN ('authorised', 'captured')"
        " THEN p.amount_krw END), 0) AS used"
        " FROM credit c LEFT JOIN payments p ON p.customer_id = c.customer_id"
        " GROUP BY c.customer_id HAVING c.limit_krw != c.available_krw + used LIMIT 5"
    ).fetchall()
    violations += [
        f"{r['customer_id']}: limit {r['limit_krw']} != available {r['available_krw']}"
        f" + used {r['used']}"
        for r in drifted
    ]
    seeded = int(conn.execute("SELECT value FROM meta WHERE key = 'seeded_points'").fetchone()[0])
    earned = conn.execute("SELECT COALESCE(SUM(points_earned), 0) FROM payments").fetchone()[0]
    total_points = conn.execute("SELECT COALESCE(SUM(points), 0) FROM points").fetchone()[0]
    if total_points != seeded + earned:
        violations.append(f"points: {total_points} held, {seeded} seeded + {earned} earned")
    states = {
        str(r[0]): {"count": int(r[1]), "amount_krw": int(r[2])}
        for r in conn.execute(
            "SELECT state, COUNT(*), COALESCE(SUM(amount_krw), 0) FROM payments GROUP BY state"
        )
    }
    credit = conn.execute(
        "SELECT COALESCE(SUM(limit_krw), 0), COALESCE(SUM(available_krw), 0) FROM credit"
    ).fetchone()
    return {
        "credit": {"limit_krw": int(credit[0]), "available_krw": int(credit[1])},
        "points": {"total": int(total_points), "seeded": seeded, "earned": int(earned)},
        "payments": states,
        "pending": {
            "authorised": states.get("authorised", {}).get("count", 0),
            "authorised_krw": states.get("authorised", {}).get("amount_krw", 0),
        },
        "idempotency_keys": conn.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0],
        "violations": violations,
    }
