"""Money under concurrency: nothing lost, nothing doubled, nothing overdrawn.

Requests are fired at once from many connections (asyncio + httpx), the way a
surge or an impatient app's retries arrive, and the ledgers are checked to the
won afterwards, both through the API and through the services' own invariants.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import httpx
import pytest

from harness import Stack
from tests.services.conftest import bearer, invariants, krw_balance, login

pytestmark = pytest.mark.domino_profile("hardened")


async def _fire(
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]],
) -> list[httpx.Response]:
    """Send every (method, url, json, headers) at once, each on its own connection.

    Flow control may tell some to wait (429 OV001: bank's core-banking ledger
    lets only a few transactions queue); like an app, those are sent again,
    unchanged, in the next round (each round ends when all its answers are in,
    so the core is idle again), until every request has its answer (at most
    50 rounds).
    """
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    answers: list[httpx.Response | None] = [None] * len(requests)
    todo = list(range(len(requests)))
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        for _ in range(50):
            sent = await asyncio.gather(
                *(
                    client.request(m, url, json=body, headers=h)
                    for m, url, body, h in (requests[i] for i in todo)
                )
            )
            waiting = []
            for index, answer in zip(todo, sent, strict=True):
                answers[index] = answer
                if answer.status_code == 429 and answer.json()["error"]["code"] == "OV001":
                    waiting.append(index)
            if not waiting:
                break
            todo = waiting  # the round is over, so the core's queue is empty again
    assert all(a is not None and a.status_code != 429 for a in answers), "still told to wait"
    return [a for a in answers if a is not None]


def test_concurrent_transfers_among_customers_conserve_their_money(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    customers = [f"c00{n}" for n in range(20, 26)]
    tokens = {c: login(bank, c) for c in customers}
    before = {c: krw_balance(bank, t) for c, t in tokens.items()}
    rng = random.Random(7)
    planned = []
    for _ in range(120):
        source, target = rng.sample(customers, 2)
        amount = rng.randint(1, 40_000)
        planned.append((source, target, amount))
    answers = asyncio.run(
        _fire(
            [
                (
                    "POST",
                    f"{bank}/transfers",
                    {"to_account": f"{target}-krw", "amount_krw": amount},
                    bearer(tokens[source]),
                )
                for source, target, amount in planned
            ]
        )
    )
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 60, statuses  # most go through; overdrafts are refused
    expected = dict(before)
    for (source, target, amount), answer in zip(planned, answers, strict=True):
        if answer.status_code == 201:
            expected[source] -= amount
            expected[target] += amount
    after = {c: krw_balance(bank, t) for c, t in tokens.items()}
    assert after == expected
    assert sum(after.values()) == sum(before.values())
    ids = [a.json()["transfer_id"] for a in answers if a.status_code == 201]
    assert len(set(ids)) == len(ids)


def test_one_key_sent_twenty_times_at_once_moves_money_once(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    token = login(bank, "c0030")
    before = krw_balance(bank, token)
    headers = bearer(token, **{"Idempotency-Key": "impatient-retry-1"})
    body = {"to_account": "c0031-krw", "amount_krw": 70_000}
    answers = asyncio.run(_fire([("POST", f"{bank}/transfers", body, headers)] * 20))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["transfer_id"] for a in answers}) == 1
    assert sum(1 for a in answers if a.headers.get("Idempotent-Replayed") == "true") == 19
    assert krw_balance(bank, token) == before - 70_000


def test_a_concurrent_rush_cannot_overdraw_an_account(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank = domino_stack.services["bank"]
    token = login(bank, "c0032")
    balance = krw_balance(bank, token)
    amount = balance // 10  # exactly ten fit
    answers = asyncio.run(
        _fire([("POST", f"{bank}/exchange/deposits", {"amount_krw": amount}, bearer(token))] * 25)
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses[201] == 10, statuses
    assert statuses[409] == 15, statuses
    assert all(a.json()["error"]["code"] == "TX001" for a in answers if a.status_code == 409)
    assert krw_balance(bank, token) == balance - 10 * amount


def test_concurrent_payments_never_exceed_the_credit_line(
    domino_stack: Stack, http: httpx.Client
) -> None:
    pay = domino_stack.services["pay"]
    token = login(pay, "c0033")
    answers = asyncio.run(
        _fire(
            [
                (
                    "POST",
                    f"{pay}/payments",
                    {"merchant": "rush", "amount_krw": 700_000},
                    bearer(token),
                )
                for _ in range(8)
            ]
        )
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == Counter({201: 4, 409: 4})  # 4 x 700,000 fit in 3,000,000
    report = invariants(pay, domino_stack.admin_token)
    assert report["ok"], report["violations"]


def test_concurrent_remittances_and_retries_reach_the_network_once_each(
    domino_stack: Stack, http: httpx.Client
) -> None:
    bank, remit = domino_stack.services["bank"], domino_stack.services["remit"]
    admin = domino_stack.admin_token
    token = login(bank, "c0034")
    before = krw_balance(bank, token)
    received_before = invariants(remit, admin)["by_sender"].get("svc-bank", {"count": 0})["count"]
    body = {
        "amount_krw": 20_000,
        "currency": "JPY",
        "beneficiary": {"name": "Sato", "account": "JP1234567", "country": "JP"},
    }
    # Ten remittances, each sent three times at once (an app retrying without waiting).
    requests = [
        ("POST", f"{bank}/remittances", body, bearer(token, **{"Idempotency-Key": f"r{n}"}))
        for n in range(10)
        for _ in range(3)
    ]
    answers = asyncio.run(_fire(requests))
    assert {a.status_code for a in answers} <= {201, 202}
    ids = {a.json()["remittance_id"] for a in answers}
    assert len(ids) == 10
    assert krw_balance(bank, token) == before - 10 * 20_000

    def all_sent() -> bool:
        views = [http.get(f"{bank}/remittances/{i}", headers=bearer(token)).json() for i in ids]
        return all(v["state"] == "sent" for v in views)

    from harness.infra.readiness import wait_until

    wait_until(all_sent, timeout_s=10, what="every remittance sent")
    report = invariants(remit, admin)
    assert report["by_sender"]["svc-bank"]["count"] == received_before + 10
    assert report["duplicate_remittance_ids"] == 0
