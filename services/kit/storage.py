"""Durable storage per service: one SQLite file in the service's data folder.

SQLite is the embedded default because it is real, durable storage that
survives a killed and restarted process, with transactions strong enough to
apply each money movement exactly once. Calls are short and run on the event
loop's thread, and no handler awaits inside a transaction, so transactions
never interleave: one connection per service keeps writes serialised.

WAL with ``synchronous=NORMAL`` keeps every committed transaction across a
killed process (the OS holds the written pages); only a power loss could lose
the last commits, which a laptop or CI run does not simulate.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Database", "NestedTransactionError"]


class NestedTransactionError(RuntimeError):
    """A transaction was opened inside another one (a programming error)."""


class Database:
    """One SQLite file; ``transaction()`` for writes, ``conn`` for reads."""

    def __init__(self, path: Path, schema: Iterable[str] = ()) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._in_transaction = False
        with self.transaction() as conn:
            for statement in schema:
                conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        if self._in_transaction:
            raise NestedTransactionError("a transaction is already open on this connection")
        self._in_transaction = True
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            self._in_transaction = False

    def close(self) -> None:
        self.conn.close()
