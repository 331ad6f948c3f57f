"""A flood with client retries applies every deposit and withdrawal exactly once.

Open-loop exchange deposits and withdrawals (harness/flood/) at up to
60/s, below bank's capacity so that nothing is told to wait, retried at once
with the same Idempotency-Key, while a limit_data toxic cuts a share of
bank's answers short: the request got through whole, so every cut answer is
an operation applied and its answer lost, and every retry is one. Afterwards every
action's key is sent again, by the same customer on the same route: each
must answer 201, the ones already applied as a replay; the books must then
hold exactly one operation per action, and at least every acknowledged
action must have been applied before (it is in the replays).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness import LimitData, Stack
from harness.errors import SessionError
from harness.experiment.flooding import FloodApplier
from harness.loadgen import RequestTemplate
from harness.loadgen.engine import scheduled_arrivals
from harness.model.faults import Flood
from tests.trust.books import admin_get

HOLD_S = 3.0


def _operations(stack: Stack) -> int:
    return int(admin_get(stack, "bank", "/admin/invariants")["operations"])


def test_a_retried_flood_applies_every_deposit_and_withdrawal_exactly_once(
    books_stack: Stack,
) -> None:
    flood = Flood(
        journeys=("exchange-deposit", "exchange-withdrawal"),
        # Poisson arrivals: at 80/s a burst of a dozen inside 0.1 s (more than the core's
        # 4 connections plus 8 waiting) happens now and then; at 60/s far less often.
        peak_per_s=60,
        base_per_s=30,
        users=10,
        retry="immediate",
        retries=2,
        timeout_s=0.3,
        max_requests=5_000,
    )
    before = _operations(books_stack)
    # A connection per request: Toxiproxy draws the toxic's 30% per connection.
    applier = FloodApplier(books_stack, lambda: 0.0, [(flood, HOLD_S)], connection="per-request")
    applier.log_in_crowd()
    with books_stack.inject(
        LimitData(edge="client->bank", stream="downstream", limit_bytes=64, toxicity=0.3)
    ):
        applier.apply(flood)
        (run,) = applier.finish()
    result, plan = run.result, run.plan
    assert result is not None, run.error
    assert plan is not None
    assert result.dropped == 0, result.summary()
    assert result.cancelled == 0, result.summary()
    assert result.rejected == 0, "flow control told some to wait: retries are not all cuts"
    assert result.attempts > result.actions, "no action was retried: the toxic never bit"

    actions = [(index, plan.templates[pick]) for index, _, pick in scheduled_arrivals(plan)][
        : result.actions
    ]
    sessions = plan.sessions
    assert sessions is not None

    def resend(item: tuple[int, RequestTemplate]) -> tuple[int, bool]:
        index, template = item
        headers = {
            **sessions.headers_for(index % sessions.users),
            "Idempotency-Key": f"{run.run_id}-{index}",
            "Content-Type": "application/json",
        }
        with httpx.Client(timeout=10) as client:
            answer = client.post(
                f"{books_stack.entry_url}{template.path}",
                content=template.encoded_body(),
                headers=headers,
            )
        return answer.status_code, answer.headers.get("Idempotent-Replayed") == "true"

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(resend, actions))
    statuses = {status for status, _ in answers}
    assert statuses == {201}, statuses
    replayed = sum(1 for _, was in answers if was)
    # Every action is in the books once: the flood's and the resends together.
    assert _operations(books_stack) - before == result.actions
    # Every acknowledged action had been applied (retried ones through a replay).
    assert replayed >= result.ok


def test_the_virtual_users_log_in_once_before_the_run_and_a_stopped_login_keeps_none(
    books_stack: Stack,
) -> None:
    # The run's virtual users log in while the stack settles (Observer.log_in), and
    # Observer.start must then use those sessions rather than log in again; a login
    # stopped by a failed settle leaves no client open and no half of a crowd behind.
    from harness.experiment.observe import Observer
    from harness.model.incident import JourneyLoad
    from harness.model.topology import Slo

    journey = books_stack.topology.journeys[0].name
    loads = [JourneyLoad(journey, users=3, think_ms=1000, slo=Slo(p95_ms=5000))]
    stopped = threading.Event()
    stopped.set()
    observer = Observer(books_stack, loads, client_timeout_s=5.0)
    with pytest.raises(SessionError, match="stopped while logging in"):
        observer.log_in(stopped)
    observer.log_in()
    clients = list(observer._clients)
    assert len(clients) == 3, "every virtual user once, nothing kept from the stopped try"
    observer.log_in()
    assert observer._clients == clients, "a second log_in is a no-op"
    observer.start()
    try:
        assert observer._clients == clients, "start uses the sessions made before"
    finally:
        observer.stop()
