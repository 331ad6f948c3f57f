"""A fault on one edge changes what a journey sees, through a real Toxiproxy server."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness import (
    Bandwidth,
    Crash,
    Down,
    Journey,
    JourneyClient,
    Latency,
    LimitData,
    Pause,
    ResetPeer,
    Restart,
    Slicer,
    SlowClose,
    Stack,
    Stop,
    Timeout,
    UnknownEdgeError,
)
from harness.model.faults import ToxicFault
from services.kit.errors import ERROR_CODES

pytestmark = pytest.mark.chaos


def _median_ms(client: JourneyClient, journey: Journey, samples: int = 3) -> float:
    observations = [client.run(journey) for _ in range(samples)]
    assert all(o.ok for o in observations), observations
    return statistics.median(o.latency_ms for o in observations)


def test_latency_on_card_pay_slows_every_card_tab_call_by_the_whole_second_not_the_balance(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    card_tab, balance = journey("card-tab"), journey("balance")
    card_before = _median_ms(journeys, card_tab, samples=5)
    balance_before = _median_ms(journeys, balance)
    bytes_before = domino_stack.toxiproxy.proxy_bytes()["domino_card_to_pay"]

    with domino_stack.inject(Latency(edge="card->pay", latency_ms=1000)):
        during = [journeys.run(card_tab) for _ in range(3)]
        balance_during = _median_ms(journeys, balance)

    # The fault reached traffic: requests crossed card->pay while it was held.
    assert domino_stack.toxiproxy.proxy_bytes()["domino_card_to_pay"] > bytes_before
    assert card_before < 250  # a normal card tab is fast, so the second below is the fault's
    assert all(o.ok and o.latency_ms >= 1000 for o in during), during
    assert balance_during - balance_before < 250


def test_bank_card_down_fails_the_card_tab_with_a_documented_code_and_spares_the_balance(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    with domino_stack.inject(Down(edge="bank->card")):
        card = journeys.run(journey("card-tab"))
        balance = journeys.run(journey("balance"))
    assert not card.ok
    assert card.code in ERROR_CODES
    assert balance.ok
    assert journeys.run(journey("card-tab")).ok  # the edge is back after the scope


@pytest.mark.domino_profile("hardened")
def test_hardened_bank_names_the_downed_edge_in_the_cause_chain(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    with domino_stack.inject(Down(edge="bank->card")):
        card = journeys.run(journey("card-tab"))
    # Hardened bank answers the card tab without card (degraded) or fails it, fast.
    assert card.degraded or not card.ok, card
    assert card.latency_ms < 1000
    assert card.code is not None
    assert card.cause, card
    assert card.cause[0]["edge"] == "bank->card"
    assert card.cause[0]["kind"] in ("refused", "reset")


def _open_connections_to(listen: str) -> set[int]:
    """Local ports of the established IPv4 TCP connections to ``listen`` (host:port), from
    /proc/net/tcp: the connections the proxy's callers hold open."""
    port = int(listen.rsplit(":", 1)[1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            ports.add(int(local.split(":")[1], 16))
    return ports


@pytest.mark.domino_profile("hardened")
@pytest.mark.parametrize(
    "fault",
    [Timeout(edge="card->pay", timeout_ms=0), Down(edge="card->pay")],
    ids=["timeout", "down"],
)
def test_a_fault_added_while_card_keeps_its_connection_to_pay_open_reaches_the_next_call(
    domino_stack: Stack,
    journeys: JourneyClient,
    journey: Callable[[str], Journey],
    fault: ToxicFault,
) -> None:
    """Card keeps its connection to pay alive between calls; a toxic added (or the edge
    downed) while it is open acts on the very next call over it."""
    card_tab = journey("card-tab")
    listen = domino_stack.edges["card->pay"].listen
    assert journeys.run(card_tab).ok
    kept = _open_connections_to(listen)
    assert journeys.run(card_tab).ok
    assert kept
    assert _open_connections_to(listen) == kept  # the same connection(s), reused
    with domino_stack.inject(fault):
        faulted = journeys.run(card_tab)
    # Hardened card answers at once without pay (degraded), naming the faulted edge first.
    assert faulted.degraded or not faulted.ok, faulted
    assert faulted.cause, faulted
    assert faulted.cause[0]["edge"] == "card->pay", faulted
    assert journeys.run(card_tab).ok  # a new connection after the fault: answers again


class _BoomError(Exception):
    pass


def test_an_exception_inside_a_fault_scope_leaves_no_toxic_and_every_proxy_enabled(
    domino_stack: Stack,
) -> None:
    with (
        pytest.raises(_BoomError),
        domino_stack.inject(
            Latency(edge="card->pay", latency_ms=100),
            Timeout(edge="bank->pay", timeout_ms=0),
            Down(edge="bank->card"),
        ),
    ):
        held = domino_stack.toxiproxy.proxies()
        card = held["domino_bank_to_card"]
        # Down is a disabled proxy on a stock server, a refusing toxic on Domino's.
        assert not card.enabled or [t.type for t in card.toxics] == ["domino_refuse"]
        assert held["domino_card_to_pay"].toxics
        raise _BoomError
    for name, proxy in domino_stack.toxiproxy.proxies().items():
        assert proxy.enabled, name
        assert proxy.toxics == (), name


def test_async_scope_applies_and_removes(domino_stack: Stack) -> None:
    async def scenario() -> tuple[int, int]:
        async with domino_stack.inject(Latency(edge="card->pay", latency_ms=50)):
            during = len(domino_stack.toxiproxy.toxics("domino_card_to_pay"))
        return during, len(domino_stack.toxiproxy.toxics("domino_card_to_pay"))

    assert asyncio.run(scenario()) == (1, 0)


@pytest.mark.parametrize(
    "fault",
    [
        Latency(edge="card->pay", latency_ms=10, jitter_ms=5, stream="upstream", toxicity=0.5),
        Timeout(edge="card->pay", timeout_ms=100),
        ResetPeer(edge="card->pay", timeout_ms=10),
        Bandwidth(edge="card->pay", rate_kb_per_s=64),
        SlowClose(edge="card->pay", delay_ms=20),
        Slicer(edge="card->pay", average_size_bytes=64, size_variation_bytes=8, delay_us=10),
        LimitData(edge="card->pay", limit_bytes=4096),
    ],
    ids=lambda f: f.kind,
)
def test_every_toxic_reads_back_as_applied_and_is_removed(
    domino_stack: Stack, fault: ToxicFault
) -> None:
    with domino_stack.inject(fault) as applied:
        (toxic,) = domino_stack.toxiproxy.toxics("domino_card_to_pay")
        assert toxic.name == applied[0].handle
        assert toxic.type == fault.toxic_for(domino_stack.injector.server_toxics)
        assert toxic.stream == fault.stream
        assert toxic.toxicity == pytest.approx(fault.toxicity)
        assert dict(toxic.attributes) == fault.toxiproxy_attributes()
    assert domino_stack.toxiproxy.toxics("domino_card_to_pay") == []


def test_unknown_edge_is_refused_before_touching_toxiproxy(domino_stack: Stack) -> None:
    with pytest.raises(UnknownEdgeError, match=r"unknown edge 'card->bank'; known edges: "):  # noqa: SIM117
        with domino_stack.inject(Latency(edge="card->bank", latency_ms=5)):
            pass
    assert domino_stack.injector.leftovers() == []


def test_timeout_on_card_pay_is_seen_by_the_card_tab(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    # A timeout toxic with timeout 0 holds data forever: the fault surely reaches traffic.
    with domino_stack.inject(Timeout(edge="card->pay", timeout_ms=0)):
        observation = journeys.run(journey("card-tab"))
    assert not observation.ok
    assert observation.latency_ms >= 1000


def test_one_card_tab_journey_crosses_every_edge_it_depends_on(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    journeys.token()
    before = domino_stack.toxiproxy.proxy_bytes()
    assert journeys.run(journey("card-tab")).ok
    after = domino_stack.toxiproxy.proxy_bytes()
    for edge in ("client->bank", "bank->card", "bank->pay", "card->pay"):
        proxy = domino_stack.edges[edge].proxy
        assert after.get(proxy, 0) > before.get(proxy, 0), f"no traffic crossed {edge}"


def test_a_crashed_pay_fails_the_card_tab_and_comes_back_with_its_data(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    points_before = journeys.run(journey("card-tab"))
    assert points_before.ok
    with domino_stack.inject(Crash(service="pay")):
        crashed = journeys.run(journey("card-tab"))
        balance = journeys.run(journey("balance"))
    assert not crashed.ok or crashed.degraded, crashed
    assert balance.ok
    # Restarted on the same port and the same data folder: the journey works again.
    assert journeys.run(journey("card-tab")).ok


def test_a_paused_card_hangs_the_card_tab_until_resumed(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    with domino_stack.inject(Pause(service="card")):
        paused = journeys.run(journey("card-tab"))
        balance = journeys.run(journey("balance"))
    assert not paused.ok or paused.latency_ms >= 1000, paused
    assert balance.ok
    assert journeys.run(journey("card-tab")).ok


def test_a_stopped_card_fails_the_card_tab_fast_and_restarts_when_the_scope_ends(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    with domino_stack.inject(Stop(service="card")) as applied:
        assert applied[0].handle == "stop"
        stopped = journeys.run(journey("card-tab"))
        assert journeys.run(journey("balance")).ok
    assert not stopped.ok or stopped.degraded, stopped
    assert journeys.run(journey("card-tab")).ok


def test_a_restarted_pay_answers_again_with_the_same_points(
    domino_stack: Stack, journeys: JourneyClient, journey: Callable[[str], Journey]
) -> None:
    def points() -> object:
        answer = journeys.run(journey("card-tab"))
        assert answer.ok
        pay = domino_stack.services["pay"]
        token = journeys.token()
        return httpx.get(f"{pay}/points", headers={"Authorization": f"Bearer {token}"}).json()

    before = points()
    with domino_stack.inject(Restart(service="pay")):
        pass
    assert points() == before  # durable storage survived the restart
