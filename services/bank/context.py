"""What bank's handlers share: its database, ledger, kill switch, outbox and kit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from services.bank.core import CoreLedger
from services.bank.ledger import Ledger
from services.bank.outbox import Outbox
from services.kit.app import ServiceKit
from services.kit.idempotency import StoredAnswer, apply_once, check_key, replay_headers
from services.kit.killswitch import FeatureSwitch
from services.kit.profiles import Knobs
from services.kit.storage import Database

if TYPE_CHECKING:
    import sqlite3

__all__ = ["Bank", "bank_of"]


@dataclass
class Bank:
    """bank's state, kept in ``app.state.bank`` once the app has started."""

    kit: ServiceKit
    db: Database
    ledger: Ledger
    fx_switch: FeatureSwitch
    core: CoreLedger
    outbox: Outbox | None = field(default=None)

    @property
    def knobs(self) -> Knobs:
        return self.kit.config.knobs

    def once(
        self,
        caller: str,
        key: str | None,
        route: str,
        payload: Any,
        apply: Callable[[sqlite3.Connection], StoredAnswer],
    ) -> JSONResponse:
        """Apply a money operation exactly once per Idempotency-Key; its JSON answer."""
        answer, replayed = apply_once(
            self.db, caller=caller, key=check_key(key), route=route, payload=payload, apply=apply
        )
        return JSONResponse(answer.body, answer.status, headers=replay_headers(replayed))


def bank_of(request: Request) -> Bank:
    """The bank serving ``request``."""
    bank: Bank = request.app.state.bank
    return bank
