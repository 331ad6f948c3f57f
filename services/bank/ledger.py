"""Bank's double-entry ledger: every money movement is an operation whose legs sum to zero.

Money never appears or disappears: an operation moves amounts between
accounts, and per currency its legs sum to zero (an FX order has a KRW pair
of legs and a USD pair). Customers' money moves to and from the bank's own
*house* accounts: the FX desk, the FX card-settlement account, the crypto
exchange's omnibus account, the remittance suspense (accepted, not yet sent)
and nostro (sent to the network) accounts. So the total per currency is the
same as on the day the ledger was opened, which is what the invariants check
(see :meth:`Ledger.invariants`).

Balances are kept on the account rows for fast reads and re-derived from the
entries by the invariant check. All amounts are integers in minor units
(KRW has none; USD and EUR cents; JPY yen).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.kit.auth import password_digest
from services.kit.errors import ServiceError
from services.kit.idempotency import IDEMPOTENCY_SCHEMA
from services.kit.ids import new_id
from services.kit.seed import OPENING_BALANCE_KRW, customer_ids, password_of

__all__ = [
    "CURRENCIES",
    "FX_CURRENCIES",
    "HOUSE",
    "SCHEMA",
    "Ledger",
    "Leg",
    "account_of",
]

#: Minor units per major unit.
CURRENCIES: dict[str, int] = {"KRW": 1, "USD": 100, "EUR": 100, "JPY": 1}
FX_CURRENCIES = ("USD", "EUR", "JPY")

#: Opening FX balance of every customer's USD account: 100 dollars.
OPENING_USD_CENTS = 10_000


@dataclass(frozen=True, slots=True)
class _House:
    """The bank's own accounts, by role."""

    fx_desk: str = "house-fxdesk"
    fx_settlement: str = "house-fxsettle"
    exchange_omnibus: str = "house-upbit-omnibus-krw"
    remit_suspense: str = "house-remit-suspense-krw"
    remit_nostro: str = "house-remit-nostro-krw"

    def desk(self, currency: str) -> str:
        return f"{self.fx_desk}-{currency.lower()}"

    def settlement(self, currency: str) -> str:
        return f"{self.fx_settlement}-{currency.lower()}"


HOUSE = _House()

_HOUSE_OPENING: dict[str, tuple[str, int]] = {
    **{HOUSE.desk(c): (c, 10**12 if c in ("KRW", "JPY") else 10**10) for c in CURRENCIES},
    **{HOUSE.settlement(c): (c, 0) for c in FX_CURRENCIES},
    HOUSE.exchange_omnibus: ("KRW", 10**12),
    HOUSE.remit_suspense: ("KRW", 0),
    HOUSE.remit_nostro: ("KRW", 0),
}

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS customers"
    " (customer_id TEXT PRIMARY KEY, password_digest TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, customer_id TEXT,"
    " product TEXT NOT NULL, currency TEXT NOT NULL, opening_minor INTEGER NOT NULL,"
    " balance_minor INTEGER NOT NULL CHECK (balance_minor >= 0), opened_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS accounts_by_customer ON accounts (customer_id)",
    "CREATE TABLE IF NOT EXISTS operations (op_id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
    " customer_id TEXT, created_at REAL NOT NULL, details TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries (entry_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " op_id TEXT NOT NULL REFERENCES operations (op_id),"
    " account_id TEXT NOT NULL REFERENCES accounts (account_id),"
    " currency TEXT NOT NULL, amount_minor INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS entries_by_account ON entries (account_id, entry_id)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    IDEMPOTENCY_SCHEMA,
)


def account_of(customer_id: str, product: str) -> str:
    """A customer's account id: ``c0001-krw``, ``c0001-usd``, ``c0001-sav``."""
    return f"{customer_id}-{product}"


@dataclass(frozen=True, slots=True)
class Leg:
    """``amount_minor`` into (positive) or out of (negative) ``account_id``."""

    account_id: str
    amount_minor: int


class Ledger:
    """Accounts and operations in bank's SQLite database."""

    def seed(self, conn: sqlite3.Connection) -> None:
        """Open the seeded customers' and the house accounts once, on a fresh database."""
        if conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]:
            return
        now = time.time()
        ids = customer_ids()
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?)",
            [(c, password_digest(c, password_of(c))) for c in ids],
        )
        rows: list[tuple[Any, ...]] = []
        for c in ids:
            rows.append((account_of(c, "krw"), c, "krw", "KRW", OPENING_BALANCE_KRW))
            rows.append((account_of(c, "usd"), c, "fx", "USD", OPENING_USD_CENTS))
            rows.append((account_of(c, "eur"), c, "fx", "EUR", 0))
            rows.append((account_of(c, "jpy"), c, "fx", "JPY", 0))
        rows += [(a, None, "house", cur, amount) for a, (cur, amount) in _HOUSE_OPENING.items()]
        conn.executemany(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, row[4], now) for row in rows],
        )
        totals: dict[str, int] = defaultdict(int)
        for row in rows:
            totals[row[3]] += row[4]
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [(f"opening_total:{cur}", str(total)) for cur, total in totals.items()],
        )

    def open_account(
        self, conn: sqlite3.Connection, account_id: str, customer_id: str, product: str
    ) -> None:
        """A new KRW account with a zero balance (savings)."""
        conn.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, 'KRW', 0, 0, ?)",
            (account_id, customer_id, product, time.time()),
        )

    def account(self, conn: sqlite3.Connection, account_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM accounts WHERE account_id = ?", (account_id,)
        ).fetchone()
        return row

    def balance(self, conn: sqlite3.Connection, account_id: str) -> int:
        row = self.account(conn, account_id)
        if row is None:
            raise ServiceError("RQ002", message=f"No account {account_id}.")
        return int(row["balance_minor"])

    def post(
        self,
        conn: sqlite3.Connection,
        kind: str,
        customer_id: str | None,
        legs: Iterable[Leg],
        details: dict[str, Any] | None = None,
        *,
        op_id: str | None = None,
    ) -> str:
        """Apply one operation inside the caller's transaction; its id.

        Raises TX001 (nothing applied: the caller's transaction rolls back) when a
        leg would overdraw an account, and RQ002 for an unknown account.
        """
        legs = [leg for leg in legs if leg.amount_minor != 0]
        op_id = op_id or new_id(kind)
        sums: dict[str, int] = defaultdict(int)
        resolved: list[tuple[Leg, str]] = []
        for leg in legs:
            row = self.account(conn, leg.account_id)
            if row is None:
                raise ServiceError("RQ002", message=f"No account {leg.account_id}.")
            currency = str(row["currency"])
            if row["balance_minor"] + leg.amount_minor < 0:
                raise ServiceError(
                    "TX001",
                    message=f"Account {leg.account_id} holds {row['balance_minor']} {currency}"
                    f" (minor units); {-leg.amount_minor} are needed.",
                )
            sums[currency] += leg.amount_minor
            resolved.append((leg, currency))
        unbalanced = {cur: total for cur, total in sums.items() if total}
        if unbalanced:  # a programming error, never a customer's
            raise ValueError(f"operation {kind} does not balance: {unbalanced}")
        conn.execute(
            "INSERT INTO operations VALUES (?, ?, ?, ?, ?)",
            (op_id, kind, customer_id, time.time(), json.dumps(details or {})),
        )
        for leg, currency in resolved:
            conn.execute(
                "UPDATE accounts SET balance_minor = balance_minor + ? WHERE account_id = ?",
                (leg.amount_minor, leg.account_id),
            )
            conn.execute(
                "INSERT INTO entries (op_id, account_id, currency, amount_minor)"
                " VALUES (?, ?, ?, ?)",
                (op_id, leg.account_id, currency, leg.amount_minor),
            )
        return op_id

    def invariants(self, conn: sqlite3.Connection) -> dict[str, Any]:
        """Conservation per currency, balanced operations, balances that match their entries."""
        violations: list[str] = []
        money: dict[str, dict[str, int]] = {}
        expected = {
            key.split(":", 1)[1]: int(value)
            for key, value in conn.execute(
                "SELECT key, value FROM meta WHERE key LIKE 'opening_total:%'"
            )
        }
        for row in conn.execute(
            "SELECT currency,"
            " SUM(balance_minor) AS total,"
            " SUM(CASE WHEN customer_id IS NULL THEN 0 ELSE balance_minor END) AS customers,"
            " SUM(opening_minor) AS opening"
            " FROM accounts GROUP BY currency"
        ):
            currency = str(row["currency"])
            money[currency] = {
                "total_minor": int(row["total"]),
                "expected_minor": expected.get(currency, 0),
                "customers_minor": int(row["customers"]),
                "house_minor": int(row["total"]) - int(row["customers"]),
            }
            if int(row["total"]) != expected.get(currency, 0):
                violations.append(
                    f"{currency}: accounts hold {row['total']}, "
                    f"{expected.get(currency, 0)} were opened"
                )
        unbalanced = conn.execute(
            "SELECT op_id, currency, SUM(amount_minor) AS total FROM entries"
            " GROUP BY op_id, currency HAVING total != 0 LIMIT 5"
        ).fetchall()
        violations += [
            f"operation {r['op_id']} leaves {r['total']} {r['currency']}" for r in unbalanced
        ]
        drifted = conn.execute(
            "SELECT a.account_id, a.balance_minor,"
            " a.opening_minor + COALESCE(SUM(e.amount_minor), 0) AS derived"
            " FROM accounts a LEFT JOIN entries e ON e.account_id = a.account_id"
            " GROUP BY a.account_id HAVING a.balance_minor != derived LIMIT 5"
        ).fetchall()
        violations += [
            f"account {r['account_id']} shows {r['balance_minor']}, entries give {r['derived']}"
            for r in drifted
        ]
        negative = conn.execute("SELECT COUNT(*) FROM accounts WHERE balance_minor < 0").fetchone()
        if negative[0]:
            violations.append(f"{negative[0]} accounts are overdrawn")
        return {
            "money": money,
            "operations": conn.execute("SELECT COUNT(*) FROM operations").fetchone()[0],
            "accounts": conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0],
            "idempotency_keys": conn.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0],
            "violations": violations,
        }
