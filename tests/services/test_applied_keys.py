"""``GET /admin/idempotency``: which keys with a prefix a service applied, behind the admin token.

A stored Idempotency-Key is an applied operation: a refused request stores
nothing, a replay adds nothing. The list pages in key order. Customer c0064
moves money here (no other test uses it).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from harness import Stack
from tests.services.conftest import bearer, login

CUSTOMER = "c0064"


@pytest.mark.domino_profile("hardened")
def test_the_admin_api_lists_the_applied_keys_with_a_prefix(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    token = login(bank, CUSTOMER)
    prefix = f"t-{uuid.uuid4().hex[:8]}-"

    def deposit(key: str, amount_krw: int) -> int:
        answer = http.post(
            f"{bank}/exchange/deposits",
            json={"amount_krw": amount_krw},
            headers=bearer(token, **{"Idempotency-Key": key}),
        )
        return answer.status_code

    assert deposit(f"{prefix}1", 1000) == 201
    assert deposit(f"{prefix}1", 1000) == 201  # a replay: still one operation
    assert deposit(f"{prefix}2", 1000) == 201
    assert deposit(f"{prefix}3", 100_000_000) == 409  # TX001: refused, nothing applied
    assert deposit(f"other-{prefix}4", 1000) == 201  # another prefix

    admin = {"X-Admin-Token": domino_stack.admin_token}
    listed = http.get(f"{bank}/admin/idempotency", params={"prefix": prefix}, headers=admin)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body == {
        "keys": [
            {"key": f"{prefix}1", "route": "POST /exchange/to_exchange", "status": 201},
            {"key": f"{prefix}2", "route": "POST /exchange/to_exchange", "status": 201},
        ],
        "next": None,
    }

    # One page at a time, in key order.
    first = http.get(
        f"{bank}/admin/idempotency", params={"prefix": prefix, "limit": 1}, headers=admin
    ).json()
    assert [k["key"] for k in first["keys"]] == [f"{prefix}1"]
    assert first["next"] == f"{prefix}1"
    second = http.get(
        f"{bank}/admin/idempotency",
        params={"prefix": prefix, "limit": 1, "after": first["next"]},
        headers=admin,
    ).json()
    assert [k["key"] for k in second["keys"]] == [f"{prefix}2"]

    # A service that keeps no idempotency records lists none.
    card = domino_stack.services["card"]
    none = http.get(f"{card}/admin/idempotency", params={"prefix": prefix}, headers=admin)
    assert none.json() == {"keys": [], "next": None}


@pytest.mark.domino_profile("hardened")
def test_the_applied_keys_need_the_admin_token_and_a_well_formed_prefix(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    customer = bearer(login(bank, CUSTOMER))
    for headers in ({}, {"X-Admin-Token": "wrong"}, customer):
        refused = http.get(f"{bank}/admin/idempotency", params={"prefix": "x"}, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "AU001"
    admin = {"X-Admin-Token": domino_stack.admin_token}
    for params in ({}, {"prefix": ""}, {"prefix": "a b"}, {"prefix": "x", "limit": 10**6}):
        bad = http.get(f"{bank}/admin/idempotency", params=params, headers=admin)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.json()["error"]["code"] == "RQ001"
