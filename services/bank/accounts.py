"""Login, accounts and balances, transaction history, transfers between KRW accounts.

These are the features the KB Pay incident must not touch: none of them
needs card or pay, except login in the fragile design, which loads the
home screen's card widget before answering (``login_fetches_card``).
"""

from __future__ import annotations

import sqlite3

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from services.bank.context import bank_of
from services.bank.ledger import Leg, account_of
from services.bank.models import (
    Account,
    AccountsOut,
    Entry,
    LoginIn,
    LoginOut,
    TransactionsOut,
    TransferIn,
    TransferOut,
)
from services.card.models import CardSummary
from services.kit.auth import customer_of, password_digest
from services.kit.budget import RequestBudget
from services.kit.clock import iso_utc
from services.kit.errors import ServiceError
from services.kit.idempotency import StoredAnswer
from services.kit.models import IdempotencyKey, error_responses, notice

__all__ = ["router"]

router = APIRouter()

_TOKEN_TTL_S = 3600


@router.post(
    "/login",
    tags=["auth"],
    summary="Log in; the token authorises every other customer route",
    responses=error_responses(429),
)
async def login(body: LoginIn, request: Request) -> LoginOut:
    bank = bank_of(request)
    row = bank.db.conn.execute(
        "SELECT password_digest FROM customers WHERE customer_id = ?", (body.customer_id,)
    ).fetchone()
    if row is None or row[0] != password_digest(body.customer_id, body.password):
        raise ServiceError("AU002")
    token = bank.kit.signer.issue(body.customer_id)
    answer = LoginOut(token=token, customer_id=body.customer_id, expires_in_s=_TOKEN_TTL_S)
    if bank.knobs.login_fetches_card:
        # The fragile design: the home screen's card widget is loaded before login answers,
        # so login waits for card, and card for pay, however long they take.
        card = bank.kit.dep("card")
        try:
            async with bank.kit.bulkheads.enter("login-card", card.edge):
                summary = await card.call(
                    "GET",
                    "/cards/summary",
                    token=token,
                    budget=RequestBudget.for_request(bank.knobs),
                )
            answer.card = CardSummary.model_validate(summary)
        except ServiceError as failure:
            # The session is valid without the widget; say so only if codes are truthful.
            if bank.knobs.truthful_codes:
                answer.degraded = True
                answer.notice = notice(
                    "CD001", "Card information could not be loaded.", failure.cause
                )
    return answer


def _account_view(row: sqlite3.Row) -> Account:
    is_krw = row["currency"] == "KRW"
    return Account(
        account_id=row["account_id"],
        product=row["product"],
        currency=row["currency"],
        balance_minor=row["balance_minor"],
        balance_krw=row["balance_minor"] if is_krw else None,
    )


@router.get(
    "/accounts",
    tags=["accounts"],
    summary="The customer's accounts and balances (priority under flow control)",
    responses=error_responses(429),
)
async def accounts(request: Request) -> AccountsOut:
    customer = customer_of(request)
    bank = bank_of(request)
    async with bank.core.transaction(priority=True):
        rows = bank.db.conn.execute(
            "SELECT * FROM accounts WHERE customer_id = ? ORDER BY opened_at, account_id",
            (customer,),
        ).fetchall()
    return AccountsOut(customer_id=customer, accounts=[_account_view(r) for r in rows])


@router.get(
    "/accounts/{account_id}/transactions",
    tags=["accounts"],
    summary="The latest entries of one of the customer's accounts",
    responses=error_responses(404, 429),
)
async def transactions(
    account_id: str, request: Request, limit: int = Query(default=20, ge=1, le=200)
) -> TransactionsOut:
    customer = customer_of(request)
    conn = bank_of(request).db.conn
    owner = conn.execute(
        "SELECT customer_id FROM accounts WHERE account_id = ?", (account_id,)
    ).fetchone()
    if owner is None or owner[0] != customer:
        raise ServiceError("RQ002", message=f"No account {account_id}.")
    rows = conn.execute(
        "SELECT e.op_id, o.kind, e.amount_minor, e.currency, o.created_at FROM entries e"
        " JOIN operations o ON o.op_id = e.op_id WHERE e.account_id = ?"
        " ORDER BY e.entry_id DESC LIMIT ?",
        (account_id, limit),
    ).fetchall()
    return TransactionsOut(
        account_id=account_id,
        entries=[
            Entry(op_id=r[0], kind=r[1], amount_minor=r[2], currency=r[3], at=iso_utc(r[4]))
            for r in rows
        ],
    )


@router.post(
    "/transfers",
    tags=["accounts"],
    summary="Transfer KRW to another KRW account (exactly once per Idempotency-Key)",
    status_code=201,
    response_model=TransferOut,
    responses=error_responses(404, 409, 429),
)
async def transfer(
    body: TransferIn, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    customer = customer_of(request)
    bank = bank_of(request)
    source = account_of(customer, "krw")

    def apply(conn: sqlite3.Connection) -> StoredAnswer:
        target = bank.ledger.account(conn, body.to_account)
        if target is None:
            raise ServiceError("RQ002", message=f"No account {body.to_account}.")
        if target["product"] != "krw":
            raise ServiceError(
                "RQ001", message=f"{body.to_account} is not a KRW account; transfers go to one."
            )
        if body.to_account == source:
            raise ServiceError("RQ001", message="A transfer needs two different accounts.")
        op_id = bank.ledger.post(
            conn,
            "transfer",
            customer,
            [Leg(source, -body.amount_krw), Leg(body.to_account, body.amount_krw)],
            {"to": body.to_account, "memo": body.memo},
        )
        out = TransferOut(
            transfer_id=op_id,
            from_account=source,
            to_account=body.to_account,
            amount_krw=body.amount_krw,
            memo=body.memo,
            balance_krw=bank.ledger.balance(conn, source),
        )
        return StoredAnswer(201, out.model_dump(mode="json"))

    async with bank.core.transaction():
        return bank.once(customer, idempotency_key, "POST /transfers", body.model_dump(), apply)
