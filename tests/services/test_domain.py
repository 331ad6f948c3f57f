"""The domain: transfers, FX, savings, payments, points, the exchange flow, remittances.

Every test runs against the hardened stack (real processes, SQLite, Toxiproxy)
with its own customers, and every service's invariants are checked after it
(see conftest). Amounts are checked to the won.
"""

from __future__ import annotations

import math

import httpx
import pytest

from harness import Stack
from tests.services.conftest import bearer, invariants, krw_balance, login, stats

pytestmark = pytest.mark.domino_profile("hardened")


def test_a_transfer_is_applied_once_per_key_and_never_overdraws(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    sender, receiver = login(bank, "c0010"), login(bank, "c0011")
    before_sender, before_receiver = krw_balance(bank, sender), krw_balance(bank, receiver)
    body = {"to_account": "c0011-krw", "amount_krw": 12_345, "memo": "rent"}

    first = http.post(
        f"{bank}/transfers", json=body, headers=bearer(sender, **{"Idempotency-Key": "rent-1"})
    )
    again = http.post(
        f"{bank}/transfers", json=body, headers=bearer(sender, **{"Idempotency-Key": "rent-1"})
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert krw_balance(bank, sender) == before_sender - 12_345
    assert krw_balance(bank, receiver) == before_receiver + 12_345

    reused = http.post(
        f"{bank}/transfers",
        json={**body, "amount_krw": 1},
        headers=bearer(sender, **{"Idempotency-Key": "rent-1"}),
    )
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "TX002"

    too_much = http.post(
        f"{bank}/transfers", json={**body, "amount_krw": 50_000_000}, headers=bearer(sender)
    )
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "TX001"
    assert krw_balance(bank, sender) == before_sender - 12_345

    history = http.get(f"{bank}/accounts/c0010-krw/transactions", headers=bearer(sender)).json()
    assert [e["amount_minor"] for e in history["entries"] if e["kind"] == "transfer"][:1] == [
        -12_345
    ]
    not_mine = http.get(f"{bank}/accounts/c0011-krw/transactions", headers=bearer(sender))
    assert not_mine.status_code == 404


def test_fx_orders_round_in_the_banks_favour_and_a_payment_buys_its_shortfall(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    token = login(bank, "c0012")
    rates = {
        r["currency"]: r
        for r in http.get(f"{bank}/fx/rates", headers=bearer(token)).json()["rates"]
    }
    buy_rate = float(rates["USD"]["buy_krw"])
    krw_before = krw_balance(bank, token)

    bought = http.post(
        f"{bank}/fx/orders",
        json={"side": "buy", "currency": "USD", "amount_minor": 1_001},
        headers=bearer(token),
    ).json()
    assert bought["krw_amount"] == math.ceil(10.01 * buy_rate)  # rounded up for the customer
    assert bought["balance_minor"] == 10_000 + 1_001
    sold = http.post(
        f"{bank}/fx/orders",
        json={"side": "sell", "currency": "USD", "amount_minor": 1_001},
        headers=bearer(token),
    ).json()
    assert sold["krw_amount"] == math.floor(10.01 * float(rates["USD"]["sell_krw"]))
    assert krw_balance(bank, token) == krw_before - bought["krw_amount"] + sold["krw_amount"]

    # The FX account holds 100 dollars; a 150-dollar payment buys the missing 50 first.
    paid = http.post(
        f"{bank}/fx/payments",
        json={"currency": "USD", "amount_minor": 15_000, "merchant": "hotel"},
        headers=bearer(token),
    )
    assert paid.status_code == 201, paid.text
    shortfall = paid.json()["shortfall"]
    assert shortfall["automatic"] is True
    assert shortfall["amount_minor"] == 5_000
    assert paid.json()["balance_minor"] == 0
    refused = http.post(
        f"{bank}/fx/payments",
        json={"currency": "USD", "amount_minor": 1, "merchant": "cafe", "auto_exchange": False},
        headers=bearer(token),
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "TX001"

    report = invariants(bank, domino_stack.admin_token)
    assert report["money"]["USD"]["total_minor"] == report["money"]["USD"]["expected_minor"]


def test_savings_enrolment_reads_card_points_and_happens_once(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    token = login(bank, "c0013")
    points = http.get(f"{domino_stack.services['pay']}/points", headers=bearer(token)).json()[
        "points"
    ]
    body = {"monthly_amount_krw": 100_000, "months": 12}
    key = bearer(token, **{"Idempotency-Key": "enrol-c0013"})
    before = krw_balance(bank, token)

    enrolled = http.post(f"{bank}/savings/enrol", json=body, headers=key)
    assert enrolled.status_code == 201, enrolled.text
    out = enrolled.json()
    assert out["points"] == points
    assert out["rate_bp"] == (400 if points >= 5000 else 350 if points >= 1000 else 300)
    assert out["balance_krw"] == 100_000
    assert krw_balance(bank, token) == before - 100_000

    offer = http.get(f"{bank}/savings/offer", headers=bearer(token)).json()
    assert (offer["rate_bp"], offer["points"], offer["degraded"]) == (out["rate_bp"], points, False)

    card_calls = stats(bank, domino_stack.admin_token)["dependencies"]["card"]["calls"]
    replay = http.post(f"{bank}/savings/enrol", json=body, headers=key)
    assert replay.status_code == 201
    assert replay.json() == out
    # Answered from the stored result: card was not asked again, nothing moved again.
    assert stats(bank, domino_stack.admin_token)["dependencies"]["card"]["calls"] == card_calls
    assert krw_balance(bank, token) == before - 100_000

    twice = http.post(f"{bank}/savings/enrol", json=body, headers=bearer(token))
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "TX003"
    assert http.get(f"{bank}/savings", headers=bearer(token)).json()["account_id"] == "c0013-sav"


def test_payments_hold_capture_void_and_earn_points_the_card_tab_shows(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank, pay, card = (domino_stack.services[s] for s in ("bank", "pay", "card"))
    token = login(pay, "c0014")
    points_before = http.get(f"{card}/cards/points", headers=bearer(token)).json()["points"]

    key = bearer(token, **{"Idempotency-Key": "pm-c0014-1"})
    held = http.post(
        f"{pay}/payments", json={"merchant": "books", "amount_krw": 25_000}, headers=key
    )
    replay = http.post(
        f"{pay}/payments", json={"merchant": "books", "amount_krw": 25_000}, headers=key
    )
    assert held.status_code == replay.status_code == 201
    assert replay.json()["payment_id"] == held.json()["payment_id"]
    payment = held.json()
    assert payment["state"] == "authorised"
    assert payment["available_credit_krw"] == 3_000_000 - 25_000

    captured = http.post(
        f"{pay}/payments/{payment['payment_id']}/capture", headers=bearer(token)
    ).json()
    assert captured["state"] == "captured"
    assert captured["points_earned"] == 250
    again = http.post(
        f"{pay}/payments/{payment['payment_id']}/capture", headers=bearer(token)
    ).json()
    assert again == captured  # capture is idempotent by state
    late_void = http.post(f"{pay}/payments/{payment['payment_id']}/void", headers=bearer(token))
    assert late_void.status_code == 409
    assert late_void.json()["error"]["code"] == "TX003"

    assert (
        http.get(f"{card}/cards/points", headers=bearer(token)).json()["points"]
        == points_before + 250
    )
    tab = http.get(f"{bank}/card-tab", headers=bearer(token)).json()
    assert tab["degraded"] is False
    assert tab["card"]["points"] == points_before + 250
    assert [p["payment_id"] for p in tab["payments"]] == [payment["payment_id"]]

    second = http.post(
        f"{pay}/payments", json={"merchant": "tv", "amount_krw": 2_000_000}, headers=bearer(token)
    ).json()
    over = http.post(
        f"{pay}/payments", json={"merchant": "car", "amount_krw": 1_000_000}, headers=bearer(token)
    )
    assert over.status_code == 409
    assert over.json()["error"]["code"] == "TX001"
    voided = http.post(f"{pay}/payments/{second['payment_id']}/void", headers=bearer(token)).json()
    assert voided["state"] == "voided"
    assert voided["available_credit_krw"] == 3_000_000 - 25_000
    other = login(pay, "c0015")
    assert (
        http.get(f"{pay}/payments/{second['payment_id']}", headers=bearer(other)).status_code == 404
    )


def test_exchange_deposits_and_withdrawals_move_won_to_and_from_the_exchange(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    token = login(bank, "c0016")
    before = krw_balance(bank, token)
    omnibus_before = invariants(bank, domino_stack.admin_token)["money"]["KRW"]["house_minor"]
    out = http.post(
        f"{bank}/exchange/deposits", json={"amount_krw": 300_000}, headers=bearer(token)
    )
    assert out.status_code == 201
    assert out.json()["balance_krw"] == before - 300_000
    back = http.post(
        f"{bank}/exchange/withdrawals", json={"amount_krw": 100_000}, headers=bearer(token)
    )
    assert back.json()["balance_krw"] == before - 200_000
    report = invariants(bank, domino_stack.admin_token)
    assert report["money"]["KRW"]["house_minor"] == omnibus_before + 200_000
    assert report["money"]["KRW"]["total_minor"] == report["money"]["KRW"]["expected_minor"]
    empty = http.post(
        f"{bank}/exchange/deposits", json={"amount_krw": 100_000_000}, headers=bearer(token)
    )
    assert empty.status_code == 409


def test_a_remittance_is_sent_once_and_both_ledgers_agree(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank, remit = domino_stack.services["bank"], domino_stack.services["remit"]
    admin = domino_stack.admin_token
    token = login(bank, "c0017")
    before = krw_balance(bank, token)
    sent_before = invariants(remit, admin)["by_sender"].get(
        "svc-bank", {"count": 0, "amount_krw": 0}
    )
    body = {
        "amount_krw": 500_000,
        "currency": "EUR",
        "beneficiary": {"name": "Anna Berg", "account": "DE89370400440532013000", "country": "DE"},
    }
    key = bearer(token, **{"Idempotency-Key": "remit-c0017"})
    first = http.post(f"{bank}/remittances", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert first.json()["state"] == "sent"
    assert first.json()["amount_minor"] == int(500_000 / 1515 * 100)
    replay = http.post(f"{bank}/remittances", json=body, headers=key)
    assert replay.json()["remittance_id"] == first.json()["remittance_id"]
    assert krw_balance(bank, token) == before - 500_000

    received = invariants(remit, admin)["by_sender"]["svc-bank"]
    assert received["count"] == sent_before["count"] + 1
    assert received["amount_krw"] == sent_before["amount_krw"] + 500_000
    assert invariants(bank, admin)["remittances"]["sent"]["amount_krw"] == received["amount_krw"]


def test_bad_input_gets_a_4xx_that_names_the_problem(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    token = login(bank, "c0018")
    cases = [
        ({"to_account": "c0019-krw", "amount_krw": True}, "amount_krw"),
        ({"to_account": "c0019-krw", "amount_krw": -5}, "amount_krw"),
        ({"to_account": "c0019-krw", "amount_krw": "100"}, "amount_krw"),
        ({"to_account": "C0019 KRW", "amount_krw": 1}, "to_account"),
        ({"to_account": "c0019-krw", "amount_krw": 1, "extra": 1}, "extra"),
        ({"amount_krw": 1}, "to_account"),
    ]
    for body, field in cases:
        answer = http.post(f"{bank}/transfers", json=body, headers=bearer(token))
        assert answer.status_code == 422, (body, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "RQ001"
        assert field in error["message"], (body, error["message"])
        assert error["cause"] == [
            {"service": "bank", "edge": None, "kind": "invalid_request", "detail": ""}
        ]
    not_json = http.post(f"{bank}/transfers", content=b"\xff{", headers=bearer(token))
    assert not_json.status_code == 422
    bad_key = http.post(
        f"{bank}/transfers",
        json={"to_account": "c0019-krw", "amount_krw": 1},
        headers=bearer(token, **{"Idempotency-Key": "has space"}),
    )
    assert bad_key.status_code == 422
    assert "Idempotency-Key" in bad_key.json()["error"]["message"]
    to_fx = http.post(
        f"{bank}/transfers",
        json={"to_account": "c0019-usd", "amount_krw": 1},
        headers=bearer(token),
    )
    assert to_fx.status_code == 422
    assert "not a KRW account" in to_fx.json()["error"]["message"]
