"""Retried operations are applied exactly once while faults hit every edge (CI sample).

Four customers' clients send keyed transfers, remittances and savings
enrolments through ``client->bank`` and keyed payments (captured when the
amount is even) through ``bank->pay`` and ``card->pay``, retrying every
failed attempt with the same Idempotency-Key. Two sets of faults sit on every
edge, each kind in turn, then mixed:

- TCP toxics at toxicity 0.3: reset_peer, timeout (with ``timeout_ms``, so
  connections close) and limit_data, on each stream. The clients here use a
  new connection per request, so each of their requests draws the toxics
  afresh; the services' own calls keep their connections alive, so there a
  toxic holds a share of pooled connections (which close and are replaced).
- Domino's HTTP kinds at share 0.3, drawn per request on kept-alive
  connections too: ``http_abort`` before the request reaches the target and
  after it did (applied, its answer lost), ``http_status`` 503 and
  ``http_body`` truncate (applied, its answer cut short).

Bank's own calls cross the faulted ``bank->remit`` (the outbox resends with
the remittance id as key) and ``bank->card`` / ``card->pay`` (the enrolment's
rate). Afterwards no money is lost or duplicated
(:func:`tests.trust.books.audit`). ``bench/soak_exactly_once.py`` runs the
same workload for >= 10,000 operations.

Seeded customers used only here: c0080-c0083 send, c0084 receives the
transfers, c0085 and c0086 enrol.
"""

from __future__ import annotations

import time

from harness import Stack
from harness.model.faults import HttpFault
from tests.trust.books import (
    Workload,
    audit,
    edge_fault_phases,
    edge_http_phases,
    resolve,
    snapshot,
)

SENDERS = ("c0080", "c0081", "c0082", "c0083")
SINK = "c0084"
ENROLLERS = ("c0085", "c0086")
OPS_PER_SENDER_PER_PHASE = 8
#: The edges only the services call (the clients here send to the others too).
SERVICES_OWN_EDGES = ("bank->remit", "bank->card")


def test_retried_operations_apply_exactly_once_under_faults_on_every_edge(
    books_stack: Stack,
) -> None:
    stack = books_stack
    started = time.monotonic()
    workload = Workload(
        stack, senders=SENDERS, sink=SINK, enrollers=ENROLLERS, remit_share=0.08, seed=80
    )
    tcp = edge_fault_phases(stack.edges, toxicity=0.3, timeout_ms=200, limit_bytes=96)
    http = edge_http_phases(stack.edges, share=0.3, seed=80)
    assert (len(tcp), len(http)) == (8, 5)
    # One enrolment under TCP toxics, one while answers are lost after the target applied.
    enrol_in = {0: ENROLLERS[0], len(tcp) + 1: ENROLLERS[1]}
    acted_on_services_calls = 0
    before = snapshot(stack)
    for n, (_label, faults) in enumerate([*tcp, *http]):
        assert {getattr(f, "edge", None) for f in faults} == set(stack.edges)
        with stack.inject(*faults) as applied:
            if n in enrol_in:
                workload.enrol(enrol_in[n])
            workload.run(OPS_PER_SENDER_PER_PHASE, timeout_s=30)
        for held in applied:
            if isinstance(held.fault, HttpFault) and held.fault.edge in SERVICES_OWN_EDGES:
                counted = stack.injector.own_traffic(held)
                assert counted is not None
                acted_on_services_calls += counted[0]
    resolve(workload.ops)
    result = audit(workload, before)
    figures = result.figures()
    print(
        f"exactly-once sample ({time.monotonic() - started:.1f}s): {figures}; "
        f"HTTP faults acted on {acted_on_services_calls} of the services' own calls"
    )

    assert result.problems == []
    assert result.duplicates == 0
    assert result.lost == 0
    assert result.refused == 0
    assert result.attempted >= (len(tcp) + len(http)) * len(SENDERS) * OPS_PER_SENDER_PER_PHASE
    assert result.applied_once == sum(1 for op in workload.ops if op.key)
    assert set(result.by_kind) == {"transfer", "payment", "capture", "remittance", "enrol"}
    # The faults bit: attempts failed and were retried, and some answers were lost after
    # the operation was applied (the retry was answered from the stored key).
    assert result.retried > 0
    assert result.answered_from_key + result.applied_unanswered > 0
    # The per-request faults reached the services' kept-alive calls to each other too.
    assert acted_on_services_calls > 0
