"""FX: buy and sell foreign currency on the FX account, and pay from it.

Orders trade against the bank's FX desk at the posted rates (a 1 % spread
around the mid rate; KRW amounts rounded in the bank's favour). Each order is
one ledger operation with a KRW pair and a foreign pair of legs, in one
SQLite transaction, so no order is ever left half-done.

The ``fx`` kill switch (Toss Bank, 2024-12-03) suspends orders when they
surge or when an operator says so. Its declared exception is the automatic
exchange of a shortfall: an FX payment larger than the FX balance buys the
missing amount from the KRW account first, and that keeps working while
orders are suspended.
"""

from __future__ import annotations

import math
import sqlite3
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.bank.context import Bank, bank_of
from services.bank.ledger import CURRENCIES, FX_CURRENCIES, HOUSE, Leg, account_of
from services.bank.models import (
    FxOrderIn,
    FxOrderOut,
    FxPaymentIn,
    FxPaymentOut,
    FxRate,
    FxRatesOut,
)
from services.kit.auth import customer_of
from services.kit.idempotency import StoredAnswer
from services.kit.models import IdempotencyKey, error_responses

__all__ = ["FX_EXCEPTIONS", "FX_FEATURE", "router"]

router = APIRouter(tags=["fx"])

#: The kill switch's feature, its guarded operation and its declared exception.
FX_FEATURE = "fx"
FX_ORDER = "fx.order"
FX_SHORTFALL = "fx.shortfall"
FX_EXCEPTIONS = frozenset({FX_SHORTFALL})

_MID_KRW: dict[str, Decimal] = {
    "USD": Decimal("1400.00"),
    "EUR": Decimal("1500.00"),
    "JPY": Decimal("9.50"),
}
_SPREAD = Decimal("0.01")


def _rate(currency: str, side: str) -> Decimal:
    mid = _MID_KRW[currency]
    return mid * (1 + _SPREAD) if side == "buy" else mid * (1 - _SPREAD)


def krw_for(currency: str, side: str, amount_minor: int) -> int:
    """Won the customer pays (buy, rounded up) or gets (sell, rounded down)."""
    exact = Decimal(amount_minor) / CURRENCIES[currency] * _rate(currency, side)
    return math.ceil(exact) if side == "buy" else math.floor(exact)


def _order(
    bank: Bank,
    conn: sqlite3.Connection,
    customer: str,
    order: FxOrderIn,
    *,
    automatic: bool,
) -> FxOrderOut:
    side, currency, amount_minor = order.side, order.currency, order.amount_minor
    krw_account = account_of(customer, "krw")
    fx_account = account_of(customer, currency.lower())
    krw = krw_for(currency, side, amount_minor)
    sign = 1 if side == "buy" else -1
    op_id = bank.ledger.post(
        conn,
        "fx_shortfall" if automatic else f"fx_{side}",
        customer,
        [
            Leg(krw_account, -sign * krw),
            Leg(HOUSE.desk("KRW"), sign * krw),
            Leg(fx_account, sign * amount_minor),
            Leg(HOUSE.desk(currency), -sign * amount_minor),
        ],
        {"side": side, "currency": currency, "amount_minor": amount_minor, "krw": krw},
    )
    return FxOrderOut(
        order_id=op_id,
        side="buy" if side == "buy" else "sell",
        currency=currency,
        amount_minor=amount_minor,
        krw_amount=krw,
        rate_krw=str(_rate(currency, side).quantize(Decimal("0.0001"))),
        balance_krw=bank.ledger.balance(conn, krw_account),
        balance_minor=bank.ledger.balance(conn, fx_account),
        automatic=automatic,
    )


@router.get("/fx/rates", summary="The posted FX rates", responses=error_responses(429))
async def rates() -> FxRatesOut:
    return FxRatesOut(
        base="KRW",
        rates=[
            FxRate(
                currency=c,
                minor_units=CURRENCIES[c],
                mid_krw=str(_MID_KRW[c]),
                buy_krw=str(_rate(c, "buy").quantize(Decimal("0.0001"))),
                sell_krw=str(_rate(c, "sell").quantize(Decimal("0.0001"))),
            )
            for c in FX_CURRENCIES
        ],
    )


@router.post(
    "/fx/orders",
    summary="Buy or sell foreign currency (suspended by the fx kill switch)",
    status_code=201,
    response_model=FxOrderOut,
    responses=error_responses(409, 429, 503),
)
async def place_order(
    body: FxOrderIn, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    customer = customer_of(request)
    bank = bank_of(request)
    bank.fx_switch.check(FX_ORDER)
    bank.fx_switch.record()

    def apply(conn: sqlite3.Connection) -> StoredAnswer:
        out = _order(bank, conn, customer, body, automatic=False)
        return StoredAnswer(201, out.model_dump(mode="json"))

    async with bank.core.transaction():
        return bank.once(customer, idempotency_key, "POST /fx/orders", body.model_dump(), apply)


@router.post(
    "/fx/payments",
    summary="Pay from the FX account; a shortfall is exchanged automatically",
    status_code=201,
    response_model=FxPaymentOut,
    responses=error_responses(409, 429, 503),
)
async def pay(
    body: FxPaymentIn, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    customer = customer_of(request)
    bank = bank_of(request)
    fx_account = account_of(customer, body.currency.lower())

    def apply(conn: sqlite3.Connection) -> StoredAnswer:
        held = bank.ledger.balance(conn, fx_account)
        shortfall = None
        if held < body.amount_minor and body.auto_exchange:
            bank.fx_switch.check(FX_SHORTFALL)  # the declared exception: passes when suspended
            missing = body.amount_minor - held
            buy = FxOrderIn(side="buy", currency=body.currency, amount_minor=missing)
            shortfall = _order(bank, conn, customer, buy, automatic=True)
        op_id = bank.ledger.post(
            conn,
            "fx_payment",
            customer,
            [
                Leg(fx_account, -body.amount_minor),
                Leg(HOUSE.settlement(body.currency), body.amount_minor),
            ],
            {"merchant": body.merchant, "shortfall": shortfall.order_id if shortfall else None},
        )
        out = FxPaymentOut(
            payment_id=op_id,
            currency=body.currency,
            amount_minor=body.amount_minor,
            merchant=body.merchant,
            shortfall=shortfall,
            balance_minor=bank.ledger.balance(conn, fx_account),
        )
        return StoredAnswer(201, out.model_dump(mode="json"))

    async with bank.core.transaction():
        return bank.once(customer, idempotency_key, "POST /fx/payments", body.model_dump(), apply)
