"""A service SIGKILLed in the middle of transfers and payments keeps the books.

Concurrent clients (threads: six for two customers, two when card is the
target) send keyed transfers through ``client->bank`` and keyed
payments (captured when the amount is even) through the ``bank->pay`` and
``card->pay`` proxies, plus a few remittances; while they do, ``Crash`` kills
bank, card or pay (SIGKILL: no shutdown hook runs) and restarts it on the
same port and data folder when its scope ends. Afterwards every operation the
clients never got an answer for is sent again with its key, and the books
are checked (:func:`tests.trust.books.audit`): money conserved on every
service, every acknowledged operation present exactly once (its key replays
the same answer and moves nothing; balances and credit lines equal the
opening ones moved by exactly the answered operations; each sender's ledger
lists each answered transfer once), none half-applied.

Card holds no money: killing it must leave transfers and payments alone, and a
savings enrolment (bank -> card -> pay for its rate) tried while card is down
fails with CD001 having moved nothing, and is applied once when retried.

Seeded customers used only here: c0071-c0073 (bank), c0074-c0076 (card),
c0077-c0079 (pay); the third of each set receives the transfers (for card,
all three also enrol, one per crash).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from harness import Crash, Stack
from harness.infra.readiness import wait_until
from tests.trust.books import Op, Workload, audit, background, resolve, snapshot

CUSTOMERS = {
    "bank": ("c0071", "c0072", "c0073"),
    "card": ("c0074", "c0075", "c0076"),
    "pay": ("c0077", "c0078", "c0079"),
}
#: The operations that cross each service (what its crash must visibly interrupt).
CROSSES = {"bank": {"transfer", "remittance"}, "card": {"enrol"}, "pay": {"payment", "capture"}}


SEEDS = {"bank": 71, "card": 74, "pay": 77}
#: Crashes per test, each in the middle of the clients' work.
CRASHES = 3


def _failed(kinds: set[str]) -> Callable[[Op], bool]:
    return lambda op: op.kind in kinds and bool(op.failures)


def _answered(workload: Workload) -> int:
    return workload.count(lambda op: op.acknowledged)


@pytest.mark.parametrize("service", ["bank", "card", "pay"])
def test_a_service_killed_under_load_keeps_the_books(books_stack: Stack, service: str) -> None:
    stack = books_stack
    customers = CUSTOMERS[service]
    workload = Workload(
        stack,
        senders=customers[:2],
        sink=customers[2],
        enrollers=customers if service == "card" else (),
        remit_share=0.04,
        max_attempts=3,
        backoff_s=0.05,
        threads_per_sender=1 if service == "card" else 3,
        seed=SEEDS[service],
    )
    before = snapshot(stack)
    with background(workload, ops_per_sender=500 if service == "card" else 250, timeout_s=25):
        for cycle in range(CRASHES):
            answered = _answered(workload)
            wait_until(
                lambda n=answered: _answered(workload) >= n + 15,
                timeout_s=10,
                what=f"15 operations answered before crash {cycle + 1}",
            )
            failed = workload.count(_failed(CROSSES[service]))
            with stack.inject(Crash(service=service)):
                if service == "card":
                    _enrol_while_card_is_down(stack, workload, customers[cycle])
                else:
                    wait_until(
                        lambda n=failed: workload.count(_failed(CROSSES[service])) >= n + 2,
                        timeout_s=10,
                        what=f"operations crossing {service} failing while it is down",
                    )
            # Restarted on the same port and data folder; the clients go on.
        answered = _answered(workload)
        wait_until(
            lambda: _answered(workload) >= answered + 15 or workload.finished.is_set(),
            timeout_s=10,
            what="15 more operations answered after the last restart",
        )
    resolve(workload.ops)
    result = audit(workload, before)
    print(f"crash {service} x{CRASHES}: {result.figures()}")
    assert result.problems == []
    assert result.duplicates == 0
    assert result.lost == 0
    assert result.refused == 0
    assert result.applied_once == sum(1 for op in workload.ops if op.key)
    hit = [op for op in workload.ops if op.kind in CROSSES[service] and op.failures]
    assert len(hit) >= CRASHES, f"the crashes of {service} touched {len(hit)} operations"
    if service == "card":
        assert {op.kind for op in workload.ops} >= {"transfer", "payment", "enrol"}
        assert all(not op.failures for op in workload.ops if op.kind != "enrol")


def _enrol_while_card_is_down(stack: Stack, workload: Workload, customer: str) -> None:
    """An enrolment needs card's points: it fails with CD001 and leaves nothing behind."""
    enrolment = workload.enrol(customer)
    assert not enrolment.acknowledged
    assert any(f.startswith("503 CD001") for f in enrolment.failures), dict(enrolment.failures)
    savings = httpx.get(
        f"{stack.services['bank']}/savings", headers=workload.auth[customer], timeout=10
    )
    assert savings.status_code == 404, savings.text  # not enrolled, nothing moved
