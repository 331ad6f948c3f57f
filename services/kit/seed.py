"""The seeded customers every service knows, so journeys work on a fresh stack.

``c0001`` ... ``c0100`` are for people and tests that pick a customer by name;
``c0101`` ... ``c0500`` belong to the harness's virtual users, which take them
in turn, so load never touches an account a test reasons about.
"""

from __future__ import annotations

__all__ = [
    "CUSTOMER_COUNT",
    "VIRTUAL_USER_COUNT",
    "customer_ids",
    "password_of",
    "virtual_user_ids",
]

CUSTOMER_COUNT = 100
VIRTUAL_USER_COUNT = 400
OPENING_BALANCE_KRW = 1_000_000


def customer_ids() -> list[str]:
    """Every seeded customer: the named ones, then the virtual users."""
    return [f"c{n:04d}" for n in range(1, CUSTOMER_COUNT + VIRTUAL_USER_COUNT + 1)]


def virtual_user_ids() -> list[str]:
    """The customers the harness's virtual users log in as."""
    return customer_ids()[CUSTOMER_COUNT:]


def password_of(customer_id: str) -> str:
    return f"domino-{customer_id}"
