"""Retried operations are applied exactly once while toxics hit every edge (CI sample).

Four customers' clients send keyed transfers, remittances and savings
enrolments through ``client->bank`` and keyed payments (captured when the
amount is even) through ``bank->pay`` and ``card->pay``, retrying every
failed attempt with the same Idempotency-Key, while reset_peer, timeout (with
``timeout_ms``, so connections close) and limit_data toxics sit on every edge
at toxicity 0.3: each kind in turn on each stream, then all three together.
Bank's own calls cross the faulted ``bank->remit`` (the outbox resends with
the remittance id as key) and ``bank->card`` / ``card->pay`` (the enrolment's
rate). Every client uses a new connection per request, so each request draws
the toxics afresh. Afterwards no money is lost or duplicated
(:func:`tests.trust.books.audit`). ``bench/soak_exactly_once.py`` runs the
same workload for >= 10,000 operations.

Seeded customers used only here: c0080-c0083 send, c0084 receives the
transfers, c0085 and c0086 enrol.
"""

from __future__ import annotations

import time

from harness import Stack
from tests.trust.books import Workload, audit, edge_fault_phases, resolve, snapshot

SENDERS = ("c0080", "c0081", "c0082", "c0083")
SINK = "c0084"
ENROLLERS = ("c0085", "c0086")
OPS_PER_SENDER_PER_PHASE = 10


def test_retried_operations_apply_exactly_once_under_toxics_on_every_edge(
    books_stack: Stack,
) -> None:
    stack = books_stack
    started = time.monotonic()
    workload = Workload(
        stack, senders=SENDERS, sink=SINK, enrollers=ENROLLERS, remit_share=0.08, seed=80
    )
    phases = edge_fault_phases(stack.edges, toxicity=0.3, timeout_ms=200, limit_bytes=96)
    assert len(phases) == 8
    before = snapshot(stack)
    for n, (_label, faults) in enumerate(phases):
        assert {getattr(f, "edge", None) for f in faults} == set(stack.edges)
        with stack.inject(*faults):
            if n < len(ENROLLERS):
                workload.enrol(ENROLLERS[n])
            workload.run(OPS_PER_SENDER_PER_PHASE, timeout_s=30)
    resolve(workload.ops)
    result = audit(workload, before)
    figures = result.figures()
    print(f"exactly-once sample ({time.monotonic() - started:.1f}s): {figures}")

    assert result.problems == []
    assert result.duplicates == 0
    assert result.lost == 0
    assert result.refused == 0
    assert result.attempted >= 8 * len(SENDERS) * OPS_PER_SENDER_PER_PHASE
    assert result.applied_once == sum(1 for op in workload.ops if op.key)
    assert set(result.by_kind) == {"transfer", "payment", "capture", "remittance", "enrol"}
    # The toxics bit: attempts failed and were retried, and some answers were lost after
    # the operation was applied (the retry was answered from the stored key).
    assert result.retried > 0
    assert result.answered_from_key + result.applied_unanswered > 0
