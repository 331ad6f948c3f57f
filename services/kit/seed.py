"""The seeded customers every service knows, so journeys work on a fresh stack."""

from __future__ import annotations

__all__ = ["CUSTOMER_COUNT", "customer_ids", "password_of"]

CUSTOMER_COUNT = 100
OPENING_BALANCE_KRW = 1_000_000


def customer_ids() -> list[str]:
    return [f"c{n:04d}" for n in range(1, CUSTOMER_COUNT + 1)]


def password_of(customer_id: str) -> str:
    return f"domino-{customer_id}"
