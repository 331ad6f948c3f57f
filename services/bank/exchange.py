"""KRW deposits to and withdrawals from a crypto exchange (the K Bank / Upbit flow).

A customer moves won between their KRW account and the exchange, whose
money at the bank sits in one omnibus account. These are the requests that
surged when Bitcoin moved (2024-11-25, 2024-12-02, 2024-12-03); under flow
control they are the first to be told to wait, never balance inquiry.
Each is applied exactly once per ``Idempotency-Key``, as one core-banking
transaction (:mod:`~services.bank.core`: bank's bounded capacity).
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.bank.context import Bank, bank_of
from services.bank.ledger import HOUSE, Leg, account_of
from services.bank.models import ExchangeIn, ExchangeOut
from services.kit.auth import customer_of
from services.kit.idempotency import StoredAnswer
from services.kit.models import IdempotencyKey, error_responses

__all__ = ["router"]

router = APIRouter(tags=["exchange"])


def _move(
    bank: Bank,
    customer: str,
    body: ExchangeIn,
    key: str | None,
    direction: Literal["to_exchange", "from_exchange"],
) -> JSONResponse:
    own = account_of(customer, "krw")
    sign = -1 if direction == "to_exchange" else 1

    def apply(conn: sqlite3.Connection) -> StoredAnswer:
        op_id = bank.ledger.post(
            conn,
            "exchange_deposit" if direction == "to_exchange" else "exchange_withdrawal",
            customer,
            [
                Leg(own, sign * body.amount_krw),
                Leg(HOUSE.exchange_omnibus, -sign * body.amount_krw),
            ],
            {"exchange": "upbit"},
        )
        out = ExchangeOut(
            op_id=op_id,
            direction=direction,
            amount_krw=body.amount_krw,
            balance_krw=bank.ledger.balance(conn, own),
        )
        return StoredAnswer(201, out.model_dump(mode="json"))

    route = f"POST /exchange/{direction}"
    return bank.once(customer, key, route, body.model_dump(), apply)


@router.post(
    "/exchange/deposits",
    summary="Move KRW from the customer's account to the exchange",
    status_code=201,
    response_model=ExchangeOut,
    responses=error_responses(409, 429),
)
async def deposit(
    body: ExchangeIn, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    bank = bank_of(request)
    async with bank.core.transaction():
        return _move(bank, customer_of(request), body, idempotency_key, "to_exchange")


@router.post(
    "/exchange/withdrawals",
    summary="Move KRW from the exchange back to the customer's account",
    status_code=201,
    response_model=ExchangeOut,
    responses=error_responses(409, 429),
)
async def withdraw(
    body: ExchangeIn, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    bank = bank_of(request)
    async with bank.core.transaction():
        return _move(bank, customer_of(request), body, idempotency_key, "from_exchange")
