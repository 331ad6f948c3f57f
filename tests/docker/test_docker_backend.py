"""The same journeys and faults on the docker backend as on the local one.

Each test runs once per backend on the session's shared stacks (the
``domino_stack`` fixture): the local variant always, the docker variant
where an engine and the images are present (see conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from harness import FaultRemovalError, Journey, JourneyClient, Latency, Stack
from harness.infra.readiness import http_ok
from harness.model.faults import Crash, Pause, ProcessFault

pytestmark = pytest.mark.chaos

BACKENDS = [
    pytest.param("local", marks=pytest.mark.domino_backend("local"), id="local"),
    pytest.param(
        "docker", marks=[pytest.mark.docker, pytest.mark.domino_backend("docker")], id="docker"
    ),
]


def _fastest_ms(client: JourneyClient, journey: Journey, samples: int) -> float:
    """The fastest of several calls: noise only adds time, so minimums differ by the delay."""
    observations = [client.run(journey) for _ in range(samples)]
    assert all(o.ok for o in observations), observations
    return min(o.latency_ms for o in observations)


@contextmanager
def _process_fault(stack: Stack, fault: ProcessFault) -> Iterator[None]:
    """Hold ``fault``; skip when the backend has no applier for process faults yet."""
    scope = stack.inject(fault)
    try:
        scope.__enter__()
    except FaultRemovalError as exc:
        if "no applier" in str(exc):
            pytest.skip(f"the {stack.backend} backend does not apply {fault.kind} faults yet")
        raise
    try:
        yield
    except BaseException as exc:
        scope.__exit__(type(exc), exc, exc.__traceback__)
        raise
    scope.__exit__(None, None, None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_latency_on_card_pay_slows_the_card_tab_and_not_the_balance(
    backend: str,
    domino_stack: Stack,
    journeys: JourneyClient,
    journey: Callable[[str], Journey],
) -> None:
    assert domino_stack.backend == backend
    card_tab, balance = journey("card-tab"), journey("balance")
    journeys.run(card_tab)  # warm-up: first calls pay for imports and connections
    card_before = _fastest_ms(journeys, card_tab, samples=4)
    balance_before = _fastest_ms(journeys, balance, samples=4)
    bytes_before = domino_stack.toxiproxy.proxy_bytes()["domino_card_to_pay"]

    with domino_stack.inject(Latency(edge="card->pay", latency_ms=600)):
        card_during = _fastest_ms(journeys, card_tab, samples=2)
        balance_during = _fastest_ms(journeys, balance, samples=4)

    assert domino_stack.toxiproxy.proxy_bytes()["domino_card_to_pay"] > bytes_before
    # The floor moves by the injected delay, give or take the baseline's own jitter.
    assert card_during - card_before >= 600 * 0.9
    assert balance_during - balance_before < 250
    assert _fastest_ms(journeys, card_tab, samples=2) - card_before < 250  # latency removed


@pytest.mark.parametrize("backend", BACKENDS)
def test_crashing_card_fails_the_card_tab_and_it_recovers_after_the_scope(
    backend: str,
    domino_stack: Stack,
    journeys: JourneyClient,
    journey: Callable[[str], Journey],
) -> None:
    assert domino_stack.backend == backend
    card_tab, balance = journey("card-tab"), journey("balance")
    assert journeys.run(card_tab).ok

    with _process_fault(domino_stack, Crash(service="card")):
        assert not http_ok(domino_stack.services["card"] + "/health")
        during = journeys.run(card_tab)
        assert not during.ok, during
        assert journeys.run(balance).ok

    # The scope restarted card and waited until it was healthy again.
    assert http_ok(domino_stack.services["card"] + "/health")
    after = journeys.run(card_tab)
    assert after.ok, after


@pytest.mark.docker
@pytest.mark.domino_backend("docker")
def test_pausing_a_container_freezes_it_until_the_scope_ends(domino_stack: Stack) -> None:
    health = domino_stack.services["remit"] + "/health"
    with domino_stack.inject(Pause(service="remit")):
        assert domino_stack.injector.leftovers() == ["container of remit is paused"]
        started = time.monotonic()
        assert not http_ok(health, timeout_s=0.5)  # frozen: the call times out, nothing answers
        assert time.monotonic() - started >= 0.5
    assert http_ok(health)
    assert domino_stack.injector.leftovers() == []
