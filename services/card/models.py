"""card's response bodies (bank reads the same shapes)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.kit.models import Notice

__all__ = ["Card", "CardSummary", "CardsOut", "PointsOut"]


class Card(BaseModel):
    card_id: str
    brand: str
    last4: str
    product: str
    credit_limit_krw: int


class CardsOut(BaseModel):
    customer_id: str
    cards: list[Card]


class PointsOut(BaseModel):
    customer_id: str
    points: int
    points_stale: bool = Field(
        description="True when pay did not answer and this is the last value seen."
    )
    points_as_of: str = Field(description="When pay gave this value (ISO 8601, UTC).")
    degraded: bool = False
    notice: Notice | None = None


class CardSummary(BaseModel):
    customer_id: str
    cards: list[Card]
    points: int | None = Field(description="null when pay did not answer and nothing is cached.")
    points_stale: bool
    points_as_of: str | None = None
    degraded: bool = False
    notice: Notice | None = None
