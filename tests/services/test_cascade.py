"""The KB Pay cascade (2023-01-25): a card->pay timeout, fragile versus hardened.

Journeys enter through the client->bank edge as the app would; the fault is a
real Toxiproxy ``timeout`` toxic on card->pay (connections open, no answer).

- fragile: login pulls card data on its critical path, so it waits for card,
  which waits for pay: login blows its SLO; the card tab fails with NT004 after
  the long timeouts, blaming bank->card; a refused pay connection is shown as
  NT003, the text that blamed the bank server.
- hardened: login, balances and transfers keep their SLOs; the card tab answers
  fast, degraded, with a CD001 notice whose cause chain starts at card->pay.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness import Down, Journey, JourneyClient, Observation, Stack, Timeout
from harness.infra.readiness import wait_until
from tests.services.conftest import bearer, krw_balance, login, stats

#: The transfer journey's SLO, as proposed for the harness's journey list.
TRANSFER_SLO_P95_MS = 500.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@pytest.mark.domino_profile("fragile")
def test_fragile_a_hanging_pay_pushes_login_past_its_slo(
    domino_stack: Stack,
    journeys: JourneyClient,
    journey: Callable[[str], Journey],
    inject: Callable[..., object],
) -> None:
    login_journey, card_tab, balance = journey("login"), journey("card-tab"), journey("balance")
    journeys.token()  # log in before the fault, as a user already in the app
    baseline = journeys.run(login_journey)
    assert baseline.ok
    assert baseline.latency_ms < login_journey.slo.p95_ms

    with (
        ThreadPoolExecutor(max_workers=2) as pool,
        domino_stack.client() as second,
        domino_stack.client() as third,
    ):
        second.token()
        third.token()
        inject(Timeout(edge="card->pay", timeout_ms=0))
        slow_login = pool.submit(journeys.run, login_journey)
        slow_tab = pool.submit(second.run, card_tab)
        balances: list[Observation] = []
        while not (slow_login.done() and slow_tab.done()):
            balances.append(third.run(balance))
        logged_in, tab = slow_login.result(), slow_tab.result()

    # Login still succeeds, but only after card gave up on pay: far beyond its SLO.
    assert logged_in.ok
    assert logged_in.latency_ms > login_journey.slo.p95_ms
    assert logged_in.latency_ms > 4_000
    # The card tab fails with NT004 after the long wait, and its chain blames card.
    assert not tab.ok
    assert tab.code == "NT004"
    assert tab.latency_ms > 4_000
    assert tab.cause[0]["edge"] == "bank->card"
    # Balance inquiry needs neither card nor pay: it stays fast throughout.
    assert balances
    assert all(o.ok for o in balances)
    assert statistics.median(o.latency_ms for o in balances) < balance.slo.p95_ms


@pytest.mark.domino_profile("fragile")
def test_fragile_shows_nt003_blaming_the_bank_server_when_pay_refuses(
    domino_stack: Stack,
    journeys: JourneyClient,
    journey: Callable[[str], Journey],
    inject: Callable[..., object],
    http: httpx.Client,
) -> None:
    journeys.token()
    inject(Down(edge="card->pay"))
    tab = journeys.run(journey("card-tab"))
    assert tab.status == 503
    assert tab.code == "NT003"
    assert tab.cause[0]["edge"] == "card->pay"  # the log knows; the user is told otherwise
    assert tab.cause[-1]["kind"] == "reported_as_server_error"
    body = http.get(f"{domino_stack.entry_url}/card-tab", headers=bearer(journeys.token())).json()[
        "error"
    ]
    assert "bank server" in body["message"]


@pytest.mark.domino_profile("hardened")
def test_hardened_a_hanging_pay_leaves_login_balances_and_transfers_in_their_slos(
    domino_stack: Stack,
    journeys: JourneyClient,
    journey: Callable[[str], Journey],
    inject: Callable[..., object],
    http: httpx.Client,
) -> None:
    login_journey, card_tab, balance = journey("login"), journey("card-tab"), journey("balance")
    entry = domino_stack.entry_url
    sender = login(entry, "c0050")
    enrolling = login(entry, "c0051")
    money_before = krw_balance(entry, enrolling)
    journeys.token()

    hanging_pay = domino_stack.inject(Timeout(edge="card->pay", timeout_ms=0))
    hanging_pay.__enter__()  # left by the end of the test; on failure the fixture resets
    observed: dict[str, list[Observation]] = {"login": [], "balance": [], "card-tab": []}
    transfer_ms: list[float] = []
    deadline_s = time.monotonic() + 3.0
    while time.monotonic() < deadline_s:
        for name, chosen in (
            ("login", login_journey),
            ("balance", balance),
            ("card-tab", card_tab),
        ):
            observed[name].append(journeys.run(chosen))
        started_s = time.monotonic()
        moved = http.post(
            f"{entry}/transfers",
            json={"to_account": "c0052-krw", "amount_krw": 100},
            headers=bearer(sender),
        )
        transfer_ms.append((time.monotonic() - started_s) * 1000)
        assert moved.status_code == 201, moved.text

    for name, chosen in (("login", login_journey), ("balance", balance)):
        assert all(o.ok and not o.degraded for o in observed[name]), observed[name]
        assert _p95([o.latency_ms for o in observed[name]]) <= chosen.slo.p95_ms, name
    assert _p95(transfer_ms) <= TRANSFER_SLO_P95_MS
    for tab in observed["card-tab"]:
        assert tab.latency_ms < card_tab.slo.p95_ms, tab
        assert tab.ok, tab
        assert tab.degraded
        assert tab.code == "CD001"
    body = http.get(f"{entry}/card-tab", headers=bearer(journeys.token())).json()
    assert body["card"]["cards"], "the cards are still shown"
    assert body["notice"]["cause"][0]["edge"] == "card->pay"

    started_s = time.monotonic()
    enrol = http.post(
        f"{entry}/savings/enrol",
        json={"monthly_amount_krw": 10_000, "months": 6},
        headers=bearer(enrolling),
    )
    assert (time.monotonic() - started_s) * 1000 < card_tab.slo.p95_ms
    assert enrol.status_code == 503
    error = enrol.json()["error"]
    assert error["code"] == "CD001"
    assert error["cause"][0]["edge"] == "card->pay"
    assert krw_balance(entry, enrolling) == money_before
    started_s = time.monotonic()
    offer = http.get(f"{entry}/savings/offer", headers=bearer(enrolling))
    assert (time.monotonic() - started_s) * 1000 < card_tab.slo.p95_ms
    assert offer.json()["error"]["code"] == "CD001"
    assert offer.json()["error"]["cause"][0]["edge"] == "card->pay"

    bank_deps = stats(domino_stack.services["bank"], domino_stack.admin_token)["dependencies"]
    limit = domino_stack.settings["bulkhead_limit"]
    assert bank_deps["card"]["max_in_flight"] <= limit  # no pool or worker taken over
    card_deps = stats(domino_stack.services["card"], domino_stack.admin_token)["dependencies"]
    assert card_deps["pay"]["breaker_opened"] >= 1  # card stopped waiting for pay

    # Leave the stack as found: once pay answers again, card's breaker closes.
    hanging_pay.__exit__(None, None, None)
    wait_until(
        lambda: not journeys.run(card_tab).degraded,
        timeout_s=15,
        interval_s=0.2,
        what="card's breaker to close after pay answers again",
    )
