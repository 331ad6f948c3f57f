"""A killed service keeps its data, its idempotency keys and its unsent remittances.

The services are started here as their own processes (``python -m
services.NAME`` on ``DOMINO_PORT``) so that the test can SIGKILL one and start
it again on the same data folder, the way a crashed pod comes back.
"""

from __future__ import annotations

from typing import Any

import httpx

from harness.infra.readiness import wait_until
from tests.services.conftest import ADMIN_TOKEN, bearer, invariants, krw_balance, login

REMITTANCE = {
    "amount_krw": 250_000,
    "currency": "USD",
    "beneficiary": {"name": "Jo Park", "account": "US99887766", "country": "US"},
}


def test_a_killed_bank_keeps_balances_and_answers_retries_from_its_keys(
    own_service: Any, http: httpx.Client
) -> None:
    bank = own_service("bank")
    token = login(bank.url, "c0040")
    keyed = bearer(token, **{"Idempotency-Key": "before-the-crash"})
    body = {"to_account": "c0041-krw", "amount_krw": 40_000}
    first = http.post(f"{bank.url}/transfers", json=body, headers=keyed)
    assert first.status_code == 201
    order = http.post(
        f"{bank.url}/fx/orders",
        json={"side": "buy", "currency": "EUR", "amount_minor": 5_000},
        headers=bearer(token, **{"Idempotency-Key": "fx-before-the-crash"}),
    )
    assert order.status_code == 201
    balance = krw_balance(bank.url, token)

    bank.kill()
    bank.start()

    assert krw_balance(bank.url, token) == balance
    retried = http.post(f"{bank.url}/transfers", json=body, headers=keyed)
    assert retried.status_code == 201
    assert retried.json() == first.json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    retried_order = http.post(
        f"{bank.url}/fx/orders",
        json={"side": "buy", "currency": "EUR", "amount_minor": 5_000},
        headers=bearer(token, **{"Idempotency-Key": "fx-before-the-crash"}),
    )
    assert retried_order.json() == order.json()
    assert krw_balance(bank.url, token) == balance
    report = invariants(bank.url, ADMIN_TOKEN)
    assert report["ok"], report["violations"]
    assert report["money"]["KRW"]["total_minor"] == report["money"]["KRW"]["expected_minor"]


def test_a_remittance_accepted_before_a_crash_is_sent_once_after_it(
    own_service: Any, http: httpx.Client
) -> None:
    remit = own_service("remit")
    bank = own_service("bank", deps={"remit": remit.url})
    token = login(bank.url, "c0042")
    before = krw_balance(bank.url, token)

    remit.kill()  # the network is unreachable: the remittance is accepted and waits
    accepted = http.post(
        f"{bank.url}/remittances",
        json=REMITTANCE,
        headers=bearer(token, **{"Idempotency-Key": "abroad-1"}),
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["state"] == "pending"
    assert accepted.json()["notice"]["cause"][0]["edge"] == "bank->remit"
    remittance_id = accepted.json()["remittance_id"]
    assert krw_balance(bank.url, token) == before - 250_000
    pending = invariants(bank.url, ADMIN_TOKEN)["pending"]
    assert pending == {"remittances": 1, "remittances_krw": 250_000}

    bank.kill()  # and bank crashes with it still pending
    remit.start()
    bank.deps["remit"] = remit.url
    bank.start()

    def sent() -> bool:
        view = http.get(f"{bank.url}/remittances/{remittance_id}", headers=bearer(token))
        return bool(view.json()["state"] == "sent")

    wait_until(sent, timeout_s=15, what="the remittance sent after the restart")
    received = invariants(remit.url, ADMIN_TOKEN)
    assert received["accepted"] == {"count": 1, "amount_krw": 250_000}
    assert received["duplicate_remittance_ids"] == 0
    report = invariants(bank.url, ADMIN_TOKEN)
    assert report["ok"], report["violations"]
    assert report["pending"] == {"remittances": 0, "remittances_krw": 0}
    assert krw_balance(bank.url, token) == before - 250_000
    replay = http.post(
        f"{bank.url}/remittances",
        json=REMITTANCE,
        headers=bearer(token, **{"Idempotency-Key": "abroad-1"}),
    )
    assert replay.status_code == 201
    assert replay.json()["remittance_id"] == remittance_id
