"""pay's request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.kit.models import RequestModel, Text

__all__ = [
    "AuthoriseIn",
    "LoginIn",
    "LoginOut",
    "Payment",
    "PaymentsOut",
    "PointsOut",
]

PaymentState = Literal["authorised", "captured", "voided"]


class LoginIn(RequestModel):
    customer_id: Text = Field(min_length=1, max_length=32)
    password: Text = Field(min_length=1, max_length=128)


class LoginOut(BaseModel):
    token: str
    customer_id: str
    expires_in_s: int


class PointsOut(BaseModel):
    customer_id: str
    points: int = Field(description="Card points, earned at 1 per 100 KRW captured.")


class AuthoriseIn(RequestModel):
    merchant: Text = Field(min_length=1, max_length=64)
    amount_krw: int = Field(ge=1, le=5_000_000)


class Payment(BaseModel):
    payment_id: str
    customer_id: str
    merchant: str
    amount_krw: int
    state: PaymentState
    points_earned: int
    available_credit_krw: int
    created_at: str


class PaymentsOut(BaseModel):
    customer_id: str
    payments: list[Payment]
