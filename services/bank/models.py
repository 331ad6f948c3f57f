"""bank's request and response bodies.

Amounts are integers: ``*_krw`` in won, ``*_minor`` in the currency's minor
unit (USD and EUR cents, JPY yen). Degraded answers carry ``degraded: true``
and a ``notice`` with the code and the cause chain of what is missing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.card.models import CardSummary
from services.kit.models import Notice, RequestModel, Text

__all__ = [
    "Account",
    "AccountsOut",
    "Beneficiary",
    "CardTabOut",
    "Entry",
    "ExchangeIn",
    "ExchangeOut",
    "FxOrderIn",
    "FxOrderOut",
    "FxPaymentIn",
    "FxPaymentOut",
    "FxRate",
    "FxRatesOut",
    "LoginIn",
    "LoginOut",
    "RecentPayment",
    "RemittanceIn",
    "RemittanceOut",
    "RemittancesOut",
    "SavingsIn",
    "SavingsOfferOut",
    "SavingsOut",
    "SwitchIn",
    "TransactionsOut",
    "TransferIn",
    "TransferOut",
]

Currency = Literal["USD", "EUR", "JPY"]
#: Account ids as bank issues them: ``c0001-krw``, ``house-fxdesk-usd``.
ACCOUNT_ID = r"^[a-z0-9][a-z0-9-]{0,47}$"


class LoginIn(RequestModel):
    customer_id: Text = Field(min_length=1, max_length=32)
    password: Text = Field(min_length=1, max_length=128)


class LoginOut(BaseModel):
    token: str
    customer_id: str
    expires_in_s: int
    card: CardSummary | None = Field(
        default=None, description="The home screen's card widget, when login fetches it."
    )
    degraded: bool = False
    notice: Notice | None = None


class Account(BaseModel):
    account_id: str
    product: Literal["krw", "fx", "savings"]
    currency: str
    balance_minor: int
    balance_krw: int | None = Field(description="The balance, for KRW accounts.")


class AccountsOut(BaseModel):
    customer_id: str
    accounts: list[Account]


class Entry(BaseModel):
    op_id: str
    kind: str
    amount_minor: int
    currency: str
    at: str


class TransactionsOut(BaseModel):
    account_id: str
    entries: list[Entry]


class TransferIn(RequestModel):
    to_account: str = Field(pattern=ACCOUNT_ID, description="A KRW account, e.g. c0002-krw.")
    amount_krw: int = Field(ge=1, le=50_000_000)
    memo: Text = Field(default="", max_length=100)


class TransferOut(BaseModel):
    transfer_id: str
    from_account: str
    to_account: str
    amount_krw: int
    memo: str
    balance_krw: int


class ExchangeIn(RequestModel):
    amount_krw: int = Field(ge=1, le=100_000_000)


class ExchangeOut(BaseModel):
    op_id: str
    direction: Literal["to_exchange", "from_exchange"]
    amount_krw: int
    balance_krw: int


class FxRate(BaseModel):
    currency: str
    minor_units: int
    mid_krw: str
    buy_krw: str = Field(description="What a customer pays in KRW for one unit.")
    sell_krw: str = Field(description="What a customer gets in KRW for one unit.")


class FxRatesOut(BaseModel):
    base: Literal["KRW"]
    rates: list[FxRate]


class FxOrderIn(RequestModel):
    side: Literal["buy", "sell"]
    currency: Currency
    amount_minor: int = Field(ge=1, le=1_000_000_000)


class FxOrderOut(BaseModel):
    order_id: str
    side: Literal["buy", "sell"]
    currency: str
    amount_minor: int
    krw_amount: int
    rate_krw: str
    balance_krw: int
    balance_minor: int
    automatic: bool = Field(default=False, description="An automatic shortfall exchange.")


class FxPaymentIn(RequestModel):
    currency: Currency
    amount_minor: int = Field(ge=1, le=1_000_000_000)
    merchant: Text = Field(min_length=1, max_length=64)
    auto_exchange: bool = Field(
        default=True, description="Buy a shortfall automatically from the KRW account."
    )


class FxPaymentOut(BaseModel):
    payment_id: str
    currency: str
    amount_minor: int
    merchant: str
    shortfall: FxOrderOut | None
    balance_minor: int


class Beneficiary(RequestModel):
    name: Text = Field(min_length=1, max_length=70)
    account: str = Field(pattern=r"^[A-Za-z0-9]{4,34}$")
    country: str = Field(pattern=r"^[A-Z]{2}$")


class RemittanceIn(RequestModel):
    amount_krw: int = Field(ge=10_000, le=50_000_000)
    currency: Currency
    beneficiary: Beneficiary


class RemittanceOut(BaseModel):
    remittance_id: str
    state: Literal["pending", "sent", "returned"]
    amount_krw: int
    currency: str
    amount_minor: int
    remit_ref: str | None
    created_at: str
    sent_at: str | None
    degraded: bool = False
    notice: Notice | None = None


class RemittancesOut(BaseModel):
    remittances: list[RemittanceOut]


class SavingsIn(RequestModel):
    monthly_amount_krw: int = Field(ge=10_000, le=1_000_000)
    months: Literal[6, 12, 24]


class SavingsOfferOut(BaseModel):
    rate_bp: int = Field(description="The rate enrolling now would give, in basis points.")
    points: int
    points_stale: bool
    degraded: bool = False
    notice: Notice | None = None


class SavingsOut(BaseModel):
    account_id: str
    monthly_amount_krw: int
    months: int
    rate_bp: int = Field(description="Interest in basis points; card points add a bonus.")
    points: int
    points_stale: bool
    balance_krw: int
    degraded: bool = False
    notice: Notice | None = None


class RecentPayment(BaseModel):
    payment_id: str
    merchant: str
    amount_krw: int
    state: str
    created_at: str


class CardTabOut(BaseModel):
    card: CardSummary | None
    payments: list[RecentPayment] | None
    degraded: bool = False
    notice: Notice | None = None


class SwitchIn(RequestModel):
    suspended: bool
    reason: Text = Field(default="operator", max_length=200)
    duration_s: float | None = Field(default=None, gt=0, le=7 * 86400)
