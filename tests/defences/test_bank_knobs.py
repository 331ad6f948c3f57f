"""On the shipped bank, what ``domino defences`` measures from outside is what the profiles'
knobs configure (``services/kit/profiles.py``, read through the bank adapter's
``configured_limits``: the deadline per attempt after budgets and propagation, and the
worst wait over every attempt).

Tolerances: the ones domino.yaml declarations are held to
(:mod:`harness.explore.defences.declared`): a deadline lies in the measured range give
or take max(50 ms, 10 %); attempts per request are ``1 + retries`` give or take 0.25. A
whole wait is the configured worst wait give or take max(50 ms, 10 %), plus the longest
backoff between attempts (``retry_backoff_base_s`` per retry, with backoff on).

Bounded for CI (about 30 s): one call per journey; hardened on card->pay and bank->card
(deadlines 250 and 300 ms, search to 800 ms), fragile on bank->card with the search stopped
at 600 ms (its 5 s deadline and 10 s
whole wait would take a minute a probe; ``bench/bench_defences.py`` measures them in full).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from harness import start_stack
from harness.explore.defences import DefenceMap, compare_declared, measure_defences
from harness.explore.defences.declared import timeout_slack_ms
from harness.explore.defences.model import BACKOFF_MS
from harness.model.topology import DeclaredDefences

HARDENED_EDGES = ("card->pay", "bank->card")


def _measured(profile: str, edges: tuple[str, ...], max_ms: float) -> tuple[DefenceMap, Any]:
    with start_stack("local", profile=profile) as stack:
        found = measure_defences(stack, edges, resolution_ms=100, max_ms=max_ms, calls=1)
        limits = {
            e: stack.adapter.configured_limits(stack.topology, stack.settings, e) for e in edges
        }
        return found, (dict(stack.settings), limits)


@pytest.fixture(scope="module")
def hardened() -> tuple[DefenceMap, Mapping[str, Any], Mapping[str, Any]]:
    found, (knobs, limits) = _measured("hardened", HARDENED_EDGES, 800)
    return found, knobs, limits


@pytest.fixture(scope="module")
def fragile() -> tuple[DefenceMap, Mapping[str, Any], Mapping[str, Any]]:
    found, (knobs, limits) = _measured("fragile", ("bank->card",), 600)
    return found, knobs, limits


def test_hardened_deadlines_are_the_knobs_after_budget_and_propagation(
    hardened: tuple[DefenceMap, Mapping[str, Any], Mapping[str, Any]],
) -> None:
    found, knobs, limits = hardened
    # card keeps 50 ms of bank's propagated 300 ms to answer: 250 ms on pay.
    assert limits["card->pay"].deadline_ms == 250
    assert limits["bank->card"].deadline_ms == knobs["dependency_timeout_s"] * 1000 == 300
    declared = {e: DeclaredDefences(timeout_ms=limits[e].deadline_ms) for e in HARDENED_EDGES}
    check = compare_declared(found, declared)
    assert check.mismatches == (), [m.describe() for m in check.mismatches]
    assert sorted(check.agree) == sorted((e, "timeout_ms") for e in HARDENED_EDGES)


def test_hardened_retries_take_what_the_budget_leaves(
    hardened: tuple[DefenceMap, Mapping[str, Any], Mapping[str, Any]],
) -> None:
    found, knobs, limits = hardened
    assert knobs["retries"] == 1
    backoff_ms = knobs["retry_backoff_base_s"] * 1000
    for edge in HARDENED_EDGES:
        deadline = found.edge(edge).deadline
        assert deadline is not None
        assert deadline.waited_ms is not None
        configured = limits[edge]
        # bank: 2 attempts of 300 ms in its 800 ms budget; card: one of 250 ms, then none left.
        attempts = round(configured.worst_wait_ms / configured.deadline_ms)
        assert deadline.attempts_at_max == attempts, edge
        slack_ms = timeout_slack_ms(configured.worst_wait_ms) + backoff_ms * (attempts - 1)
        assert deadline.waited_ms == pytest.approx(configured.worst_wait_ms, abs=slack_ms), edge
    assert [a.attempts_at_max for a in (found.edge(e).deadline for e in HARDENED_EDGES) if a] == [
        1,
        2,
    ]


def test_fragile_retries_are_the_knob_and_its_deadline_lies_past_the_search(
    fragile: tuple[DefenceMap, Mapping[str, Any], Mapping[str, Any]],
) -> None:
    found, knobs, limits = fragile
    assert (knobs["retries"], knobs["retry_backoff"]) == (1, False)
    edge = found.edge("bank->card")
    assert {p.fault: p.attempts_per_request for p in edge.failures if p.journey == "card-tab"} == {
        "http_status 503": 2.0,
        "http_abort": 2.0,
        "http_status 503 Retry-After 1 s": 2.0,
        "down": 2.0,
    }
    # retry_backoff off: the retry goes at once, whatever Retry-After says.
    assert edge.retry_after == "ignored"
    assert edge.backoff_ms is not None
    assert edge.backoff_ms < BACKOFF_MS
    deadline = edge.deadline
    assert deadline is not None
    assert deadline.outcome == "waits_past_max"
    declared = DeclaredDefences(
        timeout_ms=limits["bank->card"].deadline_ms, retries=int(knobs["retries"])
    )
    assert limits["bank->card"].deadline_ms == 5000
    check = compare_declared(found, {"bank->card": declared})
    assert check.mismatches == (), [m.describe() for m in check.mismatches]
    assert sorted(check.agree) == [("bank->card", "retries"), ("bank->card", "timeout_ms")]
    assert {f.check for f in found.findings} >= {"retry-same-target"}
