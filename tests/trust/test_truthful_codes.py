"""``codes_truthful`` for every fault kind, against every place an error can blame.

The invariant (:func:`harness.verdict.truthful_codes`, docs/incidents.md): an
error answer that claims a dependency failed names where it started (the
first link of its cause chain: the edge it crossed, or the service itself
when the link crossed none), and that place was faulted. For each kind in
:data:`harness.faults.FAULT_KINDS` the table below says, by hand, which places
of the bank's topology count as faulted:

- an edge fault (``down`` and every toxic): that edge, and nothing else — not
  the services at either end;
- a process or application fault of service X (``crash``, ``stop``,
  ``pause``, ``restart``, ``http_error``, ``slow_handler``, ``maintenance``,
  ``suspend``): X itself (a link inside X) and every edge into X — never an
  edge out of X, whose target was not broken;
- load (``surge``, ``flood``): no place; load breaks nothing by itself, so a
  dependency code blaming any place during a surge alone is untruthful.

Faulted places are computed as a run computes them (an :class:`IncidentSpec`
holding the fault), and every error is a real :class:`Observation` as the
journey client records it, for every one of the bank adapter's dependency
codes. A kind added to FAULT_KINDS without a row here fails
``test_every_fault_kind_has_a_row_saying_what_it_faults``. One end-to-end
check on the real hardened bank closes the loop: a crashed pay makes the card
tab answer CD001 with a chain starting at ``card->pay``, which is truthful.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from harness import Stack, find_topology
from harness.adapters.http import HttpAdapter
from harness.model.faults import (
    FAULT_KINDS,
    Bandwidth,
    Crash,
    Down,
    Fault,
    HttpAbort,
    HttpBody,
    HttpDelay,
    HttpError,
    HttpStatus,
    Latency,
    LimitData,
    Maintenance,
    Pause,
    ResetPeer,
    Restart,
    Slicer,
    SlowClose,
    SlowHandler,
    Stop,
    Surge,
    Suspend,
    Timeout,
)
from harness.model.incident import FaultStep, IncidentSpec
from harness.model.outcomes import Observation
from harness.systems.bank.adapter import BankAdapter
from harness.verdict import truthful_codes
from tests.specs_made import incident_spec

BANK = find_topology("bank")
ADAPTER = BankAdapter()
EDGES = tuple(BANK.edge_names)
SERVICES = tuple(BANK.service_names)


def _flood() -> Fault:
    # Flood is a newer load kind; built by name so this file does not depend on its class.
    return FAULT_KINDS["flood"](journeys=("balance",), peak_per_s=50.0)  # type: ignore[call-arg]


@dataclass(frozen=True)
class Row:
    """What one fault kind faults: the places a chain may truthfully start at.

    ``fault`` is built on a non-entry place; ``on_entry`` is the same kind on the
    client edge or the entry service (None: the kind has no place).
    """

    fault: Fault
    edges: frozenset[str]
    services: frozenset[str]
    on_entry: Fault | None


def _edge_row(make: Any) -> Row:
    return Row(make("card->pay"), frozenset({"card->pay"}), frozenset(), make("client->bank"))


def _service_row(make: Any, service: str = "card") -> Row:
    into = frozenset(e.name for e in BANK.edges if e.target == service)
    return Row(make(service), into, frozenset({service}), make("bank"))


#: By hand, from docs/incidents.md: which places each kind faults on the bank.
ROWS: dict[str, Row] = {
    "down": _edge_row(lambda e: Down(edge=e)),
    "latency": _edge_row(lambda e: Latency(edge=e, latency_ms=1000)),
    "timeout": _edge_row(lambda e: Timeout(edge=e, timeout_ms=0)),
    "reset_peer": _edge_row(lambda e: ResetPeer(edge=e)),
    "bandwidth": _edge_row(lambda e: Bandwidth(edge=e, rate_kb_per_s=1)),
    "slow_close": _edge_row(lambda e: SlowClose(edge=e, delay_ms=500)),
    "slicer": _edge_row(lambda e: Slicer(edge=e, average_size_bytes=8)),
    "limit_data": _edge_row(lambda e: LimitData(edge=e, limit_bytes=64)),
    # HTTP faults answer, cut, hold or break a request on its edge: the edge is the place.
    "http_status": _edge_row(lambda e: HttpStatus(edge=e, status=503)),
    "http_abort": _edge_row(lambda e: HttpAbort(edge=e)),
    "http_delay": _edge_row(lambda e: HttpDelay(edge=e, delay_ms=500)),
    "http_body": _edge_row(lambda e: HttpBody(edge=e, broken="truncate")),
    "http_error": _service_row(lambda s: HttpError(service=s, status=503)),
    "slow_handler": _service_row(lambda s: SlowHandler(service=s, delay_ms=500)),
    "maintenance": _service_row(lambda s: Maintenance(service=s, window_s=5), "remit"),
    "suspend": _service_row(lambda s: Suspend(service=s, feature="fx"), "bank"),
    "crash": _service_row(lambda s: Crash(service=s)),
    "stop": _service_row(lambda s: Stop(service=s)),
    "pause": _service_row(lambda s: Pause(service=s)),
    "restart": _service_row(lambda s: Restart(service=s)),
    "surge": Row(Surge(journey="fx-order", users=4), frozenset(), frozenset(), None),
}
if "flood" in FAULT_KINDS:
    ROWS["flood"] = Row(_flood(), frozenset(), frozenset(), None)


def _spec(*faults: Fault) -> IncidentSpec:
    """A spec holding ``faults``: what a run reads its faulted places from."""
    return incident_spec(
        id="truthful-codes",
        timeline=tuple(FaultStep(fault, 0.0, 1.0) for fault in faults),
        topology=BANK,
    )


def _judge(fault: Fault, observations: list[Observation], adapter: Any = ADAPTER) -> bool:
    spec = _spec(fault)
    verdict = truthful_codes(
        observations,
        adapter,
        faulted_edges=spec.faulted_edges,
        faulted_services=spec.faulted_services,
        topology=BANK,
    )
    assert verdict.name == "codes_truthful"
    return verdict.holds


#: HTTP status each of the bank's dependency codes is sent with (docs/error-codes.md).
STATUS = {"NT004": 504, "DP001": 502, "DP002": 502, "DP003": 503, "CD001": 503}


def _answers(link: Mapping[str, Any]) -> Iterator[Observation]:
    """Every dependency code, as an error and (CD001) as a degraded success's notice."""
    assert set(STATUS) == set(ADAPTER.dependency_codes)
    for code, status in sorted(STATUS.items()):
        yield Observation("card-tab", 1.0, 120.0, False, status, code, (dict(link),))
    notice = Observation("card-tab", 1.0, 80.0, True, 200, "CD001", (dict(link),), degraded=True)
    yield notice


def _link(place: str) -> dict[str, Any]:
    """The first link of a chain that starts at ``place`` (an edge, or inside a service)."""
    if "->" in place:
        source = place.split("->", maxsplit=1)[0]
        return {"service": source, "edge": place, "kind": "timeout", "detail": ""}
    return {"service": place, "edge": None, "kind": "injected_http_503", "detail": ""}


def _cases(truthful: bool) -> list[Any]:
    cases = []
    for kind in sorted(FAULT_KINDS):
        row = ROWS.get(kind)
        if row is None:
            cases.append(pytest.param(kind, "", id=f"{kind}-has-no-row"))
            continue
        faulted = row.edges | row.services
        for place in (*EDGES, *SERVICES):
            if (place in faulted) == truthful:
                cases.append(pytest.param(kind, place, id=f"{kind}-{place}"))
    return cases


def test_every_fault_kind_has_a_row_saying_what_it_faults() -> None:
    assert set(ROWS) == set(FAULT_KINDS), (
        f"add a row to ROWS for {sorted(set(FAULT_KINDS) - set(ROWS))}: which places it faults"
    )
    for kind, row in ROWS.items():
        assert row.fault.kind == kind
        assert row.on_entry is None or row.on_entry.kind == kind


def test_the_hand_written_rows_agree_with_the_places_a_run_reads_from_its_spec() -> None:
    # The run's own sets: edges and services named by the spec's faults, plus (in the
    # verdict) every edge into a faulted service. The rows above say the same by hand.
    for kind, row in ROWS.items():
        spec = _spec(row.fault)
        into = {e.name for e in BANK.edges if e.target in spec.faulted_services}
        assert spec.faulted_edges | into == set(row.edges), kind
        assert spec.faulted_services == set(row.services), kind


@pytest.mark.parametrize(("kind", "place"), _cases(truthful=True))
def test_an_error_whose_chain_starts_at_the_faulted_place_is_truthful(
    kind: str, place: str
) -> None:
    row = ROWS.get(kind)
    assert row is not None, f"fault kind {kind!r} has no row in ROWS: say which places it faults"
    for answer in _answers(_link(place)):
        assert _judge(row.fault, [answer]), f"{answer.code} starting at {place} under {kind}"


@pytest.mark.parametrize(("kind", "place"), _cases(truthful=False))
def test_an_error_whose_chain_starts_anywhere_else_is_untruthful(kind: str, place: str) -> None:
    row = ROWS.get(kind)
    assert row is not None, f"fault kind {kind!r} has no row in ROWS: say which places it faults"
    for answer in _answers(_link(place)):
        assert not _judge(row.fault, [answer]), f"{answer.code} starting at {place} under {kind}"
        # One lie among truthful answers is still a lie.
        truthful = [a for p in row.edges | row.services for a in _answers(_link(p))]
        assert not _judge(row.fault, [*truthful, answer])


_OUTWARD = [
    pytest.param(kind, edge.name, id=f"{kind}-{edge.name}")
    for kind, row in sorted(ROWS.items())
    for edge in BANK.edges
    if edge.source in row.services
]


@pytest.mark.parametrize(("kind", "edge"), _OUTWARD)
def test_an_edge_out_of_the_faulted_service_is_not_a_faulted_place(kind: str, edge: str) -> None:
    row = ROWS[kind]
    (service,) = row.services
    # Seen by the faulted service itself, yet it names its dependency, which was not broken.
    link = {"service": service, "edge": edge, "kind": "refused", "detail": ""}
    for answer in _answers(link):
        assert not _judge(row.fault, [answer]), f"{edge} out of {service} under {kind}"


def test_the_outward_cases_cover_process_application_and_operator_faults() -> None:
    assert {p.values[0] for p in _OUTWARD} >= {"crash", "http_error", "suspend", "stop"}


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_no_answer_at_the_client_is_truthful_only_with_the_entry_faulted(kind: str) -> None:
    row = ROWS.get(kind)
    assert row is not None, f"fault kind {kind!r} has no row in ROWS: say which places it faults"
    unreachable = Observation("balance", 1.0, 3.0, False, None, ADAPTER.unreachable_code)
    if row.on_entry is not None:
        assert _judge(row.on_entry, [unreachable]), f"{kind} on the entry"
    # On any other place (or no place: load), "could not reach the bank" is not true.
    on_entry = bool((row.edges | row.services) & {BANK.entry_edge.name, BANK.entry_service})
    assert _judge(row.fault, [unreachable]) == on_entry, f"{row.fault.describe()}"


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_the_unreachable_code_sent_by_the_system_is_never_truthful(kind: str) -> None:
    row = ROWS.get(kind)
    assert row is not None, f"fault kind {kind!r} has no row in ROWS: say which places it faults"
    # The fragile bank's NT003: an answer came back, so the device did reach the bank.
    sent = Observation(
        "card-tab", 1.0, 40.0, False, 503, ADAPTER.unreachable_code, (_link("card->pay"),)
    )
    for fault in (row.fault, row.on_entry):
        if fault is not None:
            assert not _judge(fault, [sent]), fault.describe()


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_the_clients_own_timeout_blames_nothing_and_is_not_judged(kind: str) -> None:
    row = ROWS.get(kind)
    assert row is not None, f"fault kind {kind!r} has no row in ROWS: say which places it faults"
    # NT004 with no answer: the app gave up waiting; it names no dependency.
    waited = Observation("card-tab", 1.0, 15000.0, False, None, ADAPTER.timeout_code)
    assert _judge(row.fault, [waited])


def test_a_chain_whose_first_link_is_not_text_is_untruthful_not_a_crash() -> None:
    # The chain comes from the system under test; whatever it holds, the verdict stands.
    fault = ROWS["crash"].fault
    odd_links: list[Mapping[str, Any]] = [
        {"service": ["card"], "edge": {"x": 1}},
        {"service": None, "edge": None},
        {"edge": 7},
        {},
    ]
    for link in odd_links:
        answer = Observation("card-tab", 1.0, 50.0, False, 503, "CD001", (link,))
        assert not _judge(fault, [answer]), link
    empty = Observation("card-tab", 1.0, 50.0, False, 503, "CD001", ())
    assert not _judge(fault, [empty])


def test_a_system_without_cause_chains_is_judged_on_the_unreachable_code_only() -> None:
    http = HttpAdapter()
    fault = Down(edge="card->pay")
    # HTTP502 claims nothing about where it started: the generic adapter has no
    # dependency codes, so there is no chain to check.
    answer = Observation("card-tab", 1.0, 50.0, False, 502, "HTTP502")
    assert _judge(fault, [answer], http)
    unreachable = Observation("card-tab", 1.0, 5.0, False, None, http.unreachable_code)
    assert not _judge(fault, [unreachable], http)
    assert _judge(Down(edge="client->bank"), [unreachable], http)


# -- the real bank --------------------------------------------------------------------


def test_a_crashed_pay_makes_the_hardened_card_tab_answer_cd001_from_card_to_pay_truthfully(
    books_stack: Stack,
) -> None:
    stack = books_stack
    card_tab = stack.topology.journey("card-tab")
    seen: list[Observation] = []
    with stack.client(timeout_s=10) as user:
        assert user.run(card_tab).ok  # healthy before the fault
        with stack.inject(Crash(service="pay")):
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                answer = user.run(card_tab)
                if answer.code is not None:
                    seen.append(answer)
                if any(o.code == "CD001" for o in seen):
                    break
    cd001 = [o for o in seen if o.code == "CD001"]
    assert cd001, f"no CD001 while pay was down within 15 s; saw {seen}"
    for answer in cd001:
        assert answer.status is not None
        assert answer.cause, answer
        assert answer.cause[0].get("edge") == "card->pay", answer.cause
    # What a run judges: the crash of pay makes card->pay (an edge into pay) the faulted place.
    assert _judge(Crash(service="pay"), cd001)
    # The same real answers under a fault elsewhere would be lies.
    assert not _judge(Crash(service="remit"), cd001)
    assert not _judge(Down(edge="bank->pay"), cd001)
