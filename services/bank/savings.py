"""Enrolment in the bank-card combined savings product (온국민 건강적금's role).

The product's rate depends on the customer's card points, so enrolment asks
card (which asks pay): bank -> card -> pay. In the KB Pay incident this is
the feature that failed with NT004 after a long wait. With
``degrade_card_features`` a points failure answers CD001 at once, naming the
edge that failed; with ``card_points_cache`` card answers the last points it
saw and the enrolment goes ahead, marked degraded.

Enrolment opens the savings account and moves the first monthly amount into
it, in one transaction, exactly once per ``Idempotency-Key``. A replay is
answered from the stored result without asking card again.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.bank.context import bank_of
from services.bank.ledger import Leg, account_of
from services.bank.models import SavingsIn, SavingsOfferOut, SavingsOut
from services.kit.auth import bearer_token, customer_of
from services.kit.budget import RequestBudget
from services.kit.errors import CauseLink, ServiceError
from services.kit.idempotency import StoredAnswer, check_key, fingerprint, lookup, replay_headers
from services.kit.models import IdempotencyKey, Notice, error_responses, notice

__all__ = ["SCHEMA", "rate_bp_for", "router"]

router = APIRouter(tags=["savings"])

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS savings (customer_id TEXT PRIMARY KEY,"
    " account_id TEXT NOT NULL, monthly_amount_krw INTEGER NOT NULL, months INTEGER NOT NULL,"
    " rate_bp INTEGER NOT NULL, points INTEGER NOT NULL, points_stale INTEGER NOT NULL,"
    " enrolled_at REAL NOT NULL)",
)

_BASE_RATE_BP = 300
_ROUTE = "POST /savings/enrol"


def rate_bp_for(points: int) -> int:
    """The product's rate: 3.00 %, plus 0.50 % from 1,000 points and 1.00 % from 5,000."""
    if points >= 5000:
        return _BASE_RATE_BP + 100
    if points >= 1000:
        return _BASE_RATE_BP + 50
    return _BASE_RATE_BP


def _view(conn: sqlite3.Connection, customer: str) -> SavingsOut | None:
    row = conn.execute("SELECT * FROM savings WHERE customer_id = ?", (customer,)).fetchone()
    if row is None:
        return None
    balance = conn.execute(
        "SELECT balance_minor FROM accounts WHERE account_id = ?", (row["account_id"],)
    ).fetchone()
    return SavingsOut(
        account_id=row["account_id"],
        monthly_amount_krw=row["monthly_amount_krw"],
        months=row["months"],
        rate_bp=row["rate_bp"],
        points=row["points"],
        points_stale=bool(row["points_stale"]),
        balance_krw=balance[0] if balance else 0,
    )


@dataclass(frozen=True, slots=True)
class _CardPoints:
    """Points as card gave them; ``stale_chain`` says why when they are the last seen."""

    points: int
    stale: bool
    stale_chain: list[CauseLink]

    def stale_notice(self) -> Notice:
        return notice(
            "CD001",
            "Your rate uses the card points last seen; pay did not answer.",
            self.stale_chain,
        )


async def _card_points(request: Request, feature: str) -> _CardPoints:
    """The customer's card points (bank -> card -> pay), within the request's budget.

    With ``degrade_card_features`` a failure becomes CD001 at once, its chain
    starting where the failure did.
    """
    bank = bank_of(request)
    card = bank.kit.dep("card")
    try:
        async with bank.kit.bulkheads.enter("savings", card.edge):
            answer = await card.call(
                "GET",
                "/cards/points",
                token=bearer_token(request),
                budget=RequestBudget.for_request(bank.knobs, request.headers),
            )
        card_notice = answer.get("notice") or {}
        return _CardPoints(
            int(answer["points"]),
            bool(answer.get("points_stale", False)),
            [CauseLink(**link) for link in card_notice.get("cause", [])]
            or [CauseLink("bank", card.edge, "stale_points")],
        )
    except ServiceError as failure:
        if not bank.knobs.degrade_card_features or failure.code.startswith(("AU", "RQ")):
            raise
        raise ServiceError(
            "CD001",
            [*failure.cause, CauseLink("bank", card.edge, "feature_unavailable", feature)],
            message="The savings product needs your card points, which are unavailable right "
            "now. Your accounts are not affected.",
        ) from None
    except (KeyError, TypeError, ValueError):
        raise ServiceError("DP002", [card.link("error", "answer has no points")]) from None


@router.get(
    "/savings/offer",
    summary="The rate the customer would get today (reads card points: bank -> card -> pay)",
    responses=error_responses(429, 502, 503, 504),
)
async def offer(request: Request) -> SavingsOfferOut:
    customer_of(request)
    found = await _card_points(request, "savings offer")
    answer = SavingsOfferOut(
        rate_bp=rate_bp_for(found.points), points=found.points, points_stale=found.stale
    )
    if found.stale:
        answer.degraded = True
        answer.notice = found.stale_notice()
    return answer


@router.get(
    "/savings",
    summary="The customer's combined savings enrolment",
    responses=error_responses(404, 429),
)
async def get_savings(request: Request) -> SavingsOut:
    customer = customer_of(request)
    found = _view(bank_of(request).db.conn, customer)
    if found is None:
        raise ServiceError("RQ002", message=f"{customer} is not enrolled.")
    return found


@router.post(
    "/savings/enrol",
    summary="Enrol in the combined savings product (needs card points: bank -> card -> pay)",
    status_code=201,
    response_model=SavingsOut,
    responses=error_responses(409, 429, 502, 503, 504),
)
async def enrol(
    body: SavingsIn, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    customer = customer_of(request)
    bank = bank_of(request)
    key = check_key(idempotency_key)
    stored = lookup(bank.db.conn, customer, key, _ROUTE, fingerprint(_ROUTE, body.model_dump()))
    if stored is not None:
        return JSONResponse(stored.body, stored.status, headers=replay_headers(True))
    if _view(bank.db.conn, customer) is not None:
        raise ServiceError("TX003", message=f"{customer} is already enrolled.")

    found = await _card_points(request, "savings enrol")
    points, stale = found.points, found.stale

    def apply(conn: sqlite3.Connection) -> StoredAnswer:
        if _view(conn, customer) is not None:
            raise ServiceError("TX003", message=f"{customer} is already enrolled.")
        account_id = account_of(customer, "sav")
        if bank.ledger.account(conn, account_id) is None:
            bank.ledger.open_account(conn, account_id, customer, "savings")
        bank.ledger.post(
            conn,
            "savings_deposit",
            customer,
            [
                Leg(account_of(customer, "krw"), -body.monthly_amount_krw),
                Leg(account_id, body.monthly_amount_krw),
            ],
            {"first_deposit": True},
        )
        conn.execute(
            "INSERT INTO savings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                account_id,
                body.monthly_amount_krw,
                body.months,
                rate_bp_for(points),
                points,
                int(stale),
                time.time(),
            ),
        )
        out = _view(conn, customer)
        assert out is not None
        if stale:
            out.degraded = True
            out.notice = found.stale_notice()
        return StoredAnswer(201, out.model_dump(mode="json"))

    return bank.once(customer, key, _ROUTE, body.model_dump(), apply)
