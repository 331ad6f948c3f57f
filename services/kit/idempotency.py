"""Idempotency keys: a retried request is answered from the first one's stored result.

A client sends ``Idempotency-Key`` with a money operation. The key, a
fingerprint of the request and the answer are written in the *same*
SQLite transaction as the money movement, so after a crash either both
happened or neither did; a retry, even after a restart, gets the stored
answer and the operation is applied exactly once. The same key with a
different request is refused (TX002) rather than silently replayed.

Keys are scoped per caller (a customer, or a partner service) and route.
Keys are optional: without one every request is a new operation, as in
most payment APIs.

A stored key is an applied operation: the record is written only by the
transaction that applied it (a refused or failed request stores nothing).
:func:`applied_keys` lists them by prefix, for the admin API: a load
generator that keys its actions ``{run}-{n}`` learns which it applied,
whatever its customers were told.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.kit.errors import ServiceError
from services.kit.storage import Database

__all__ = [
    "IDEMPOTENCY_SCHEMA",
    "KEY_PATTERN",
    "AppliedKey",
    "StoredAnswer",
    "applied_keys",
    "apply_once",
    "check_key",
    "fingerprint",
    "lookup",
    "replay_headers",
    "save",
]

#: What a key may look like: 1-128 visible ASCII characters (UUIDs, ULIDs, "order-42").
KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"
_KEY_RE = re.compile(KEY_PATTERN)

IDEMPOTENCY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS idempotency ("
    " caller TEXT NOT NULL, key TEXT NOT NULL, route TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, status INTEGER NOT NULL, answer TEXT NOT NULL,"
    " created_at REAL NOT NULL, PRIMARY KEY (caller, key))"
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer the first request with a key got."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AppliedKey:
    """One applied operation's key: the route it was applied on and the status it answered."""

    key: str
    route: str
    status: int


def applied_keys(
    conn: sqlite3.Connection, prefix: str, *, after: str = "", limit: int = 1000
) -> list[AppliedKey]:
    """Up to ``limit`` stored keys starting with ``prefix`` and sorting after ``after``,
    in key order (page on with the last key seen), whoever the caller was; a key two
    callers used is listed once (with one of their routes)."""
    rows = conn.execute(
        "SELECT key, route, status FROM idempotency"
        " WHERE substr(key, 1, ?) = ? AND key > ? GROUP BY key ORDER BY key LIMIT ?",
        (len(prefix), prefix, after, limit),
    ).fetchall()
    return [AppliedKey(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def fingerprint(route: str, payload: Any) -> str:
    """A stable digest of what was asked: the route and the canonical JSON of the body."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{route}\n{text}".encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    """The key if it is well formed; RQ001 otherwise (None passes: keys are optional)."""
    if key is not None and not _KEY_RE.match(key):
        raise ServiceError(
            "RQ001", message="Idempotency-Key must be 1-128 visible ASCII characters."
        )
    return key


def lookup(
    conn: sqlite3.Connection, caller: str, key: str | None, route: str, digest: str
) -> StoredAnswer | None:
    """The stored answer for ``key``; TX002 if it was used for a different request."""
    if key is None:
        return None
    row = conn.execute(
        "SELECT route, fingerprint, status, answer FROM idempotency WHERE caller = ? AND key = ?",
        (caller, key),
    ).fetchone()
    if row is None:
        return None
    if row[0] != route or row[1] != digest:
        raise ServiceError(
            "TX002",
            message=f"Idempotency-Key {key!r} was already used for a different request.",
        )
    return StoredAnswer(int(row[2]), json.loads(row[3]))


def save(
    conn: sqlite3.Connection,
    *,
    caller: str,
    key: str | None,
    route: str,
    digest: str,
    answer: StoredAnswer,
) -> None:
    """Store the answer inside the caller's open transaction (no-op without a key)."""
    if key is None:
        return
    conn.execute(
        "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?)",
        (caller, key, route, digest, answer.status, json.dumps(answer.body), time.time()),
    )


def apply_once(
    db: Database,
    *,
    caller: str,
    key: str | None,
    route: str,
    payload: Any,
    apply: Callable[[sqlite3.Connection], StoredAnswer],
) -> tuple[StoredAnswer, bool]:
    """Run ``apply`` in one transaction unless ``key`` already has an answer.

    Returns the answer and whether it was replayed. If ``apply`` raises, nothing
    is stored, so a retry with the same key is tried afresh.
    """
    digest = fingerprint(route, payload)
    with db.transaction() as conn:
        stored = lookup(conn, caller, key, route, digest)
        if stored is not None:
            return stored, True
        answer = apply(conn)
        save(conn, caller=caller, key=key, route=route, digest=digest, answer=answer)
    return answer, False


def replay_headers(replayed: bool) -> dict[str, str]:
    """``Idempotent-Replayed: true`` on answers served from a stored key."""
    return {"Idempotent-Replayed": "true"} if replayed else {}
