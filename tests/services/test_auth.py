"""Without a token every customer route answers 401; admin routes need the admin token.

The routes come from each running service's own OpenAPI document, so a route
added later is covered without touching this test.
"""

from __future__ import annotations

import re

import httpx
import pytest

from harness import Stack
from tests.services.conftest import bearer, login

#: Routes anyone may call: health, documentation, the error table, and login.
PUBLIC = {"/health", "/error-codes", "/login"}


def _operations(http: httpx.Client, base_url: str) -> list[tuple[str, str]]:
    schema = http.get(f"{base_url}/openapi.json").json()
    found = []
    for path, operations in schema["paths"].items():
        for method in operations:
            found.append((method.upper(), re.sub(r"\{[^}]+\}", "x1", path)))
    return found


@pytest.mark.domino_profile("hardened")
def test_every_customer_route_answers_401_without_a_valid_token(
    domino_stack: Stack, http: httpx.Client
) -> None:
    expired = "Bearer c0001.1.0123456789abcdef0123456789abcdef"
    bad_tokens = [None, "Bearer", "Bearer not-a-token", "Basic Zm9vOmJhcg==", expired]
    checked = 0
    for service, base in domino_stack.services.items():
        for method, path in _operations(http, base):
            if path in PUBLIC or path.startswith("/admin"):
                continue
            for header in bad_tokens:
                headers = {"Authorization": header} if header else {}
                # A body that is not even JSON: auth must answer before validation does.
                response = http.request(method, base + path, headers=headers, content=b"{")
                assert response.status_code == 401, (service, method, path, header, response.text)
                error = response.json()["error"]
                assert error["code"] == "AU001"
                assert error["cause"][0]["service"] == service
                checked += 1
    assert checked >= 25 * len(bad_tokens)


@pytest.mark.domino_profile("hardened")
def test_admin_routes_need_the_admin_token(domino_stack: Stack, http: httpx.Client) -> None:
    customer_token = login(domino_stack.services["bank"], "c0099")
    for service, base in domino_stack.services.items():
        admin_routes = [(m, p) for m, p in _operations(http, base) if p.startswith("/admin")]
        assert ("GET", "/admin/invariants") in admin_routes
        assert ("DELETE", "/admin/faults") in admin_routes
        for method, path in admin_routes:
            for headers in (
                {},
                {"X-Admin-Token": "wrong"},
                bearer(customer_token),  # a customer is not an operator
            ):
                response = http.request(method, base + path, headers=headers)
                assert response.status_code == 401, (service, method, path, response.text)
                assert response.json()["error"]["code"] == "AU001"
        admin = {"X-Admin-Token": domino_stack.admin_token}
        assert http.get(f"{base}/admin/invariants", headers=admin).status_code == 200


@pytest.mark.domino_profile("hardened")
def test_public_routes_answer_without_a_token(domino_stack: Stack) -> None:
    bank = domino_stack.services["bank"]
    assert httpx.get(f"{bank}/health", timeout=10).status_code == 200
    codes = httpx.get(f"{bank}/error-codes", timeout=10).json()["codes"]
    assert {"NT003", "NT004", "DP001", "DP002", "OV001", "FS001", "MT001"} <= {
        c["code"] for c in codes
    }
    wrong = httpx.post(
        f"{bank}/login", json={"customer_id": "c0001", "password": "guess"}, timeout=10
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "AU002"
    # A token bank issued is good at card and pay too: auth adds no edge of its own.
    token = login(bank, "c0098")
    card = httpx.get(f"{domino_stack.services['card']}/cards", headers=bearer(token), timeout=10)
    assert card.status_code == 200
    assert card.json()["customer_id"] == "c0098"
