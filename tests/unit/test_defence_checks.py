"""The checks over a map of defences, on made-up maps: each mistake is found, attributed to
the caller and setting with its numbers, and nothing is found where the defences fit."""

from __future__ import annotations

import json
from dataclasses import replace

from harness.explore.defences import (
    Deadline,
    DeadlineProbe,
    DefenceMap,
    EdgeDefences,
    FailureProbe,
    check_defences,
    render_defences,
)

ENTRY = "client->a"


def _deadline(edge: str, deadline_ms: float, waited_ms: float, attempts: int = 1) -> Deadline:
    return Deadline(
        edge=edge,
        journey="j",
        outcome="found",
        deadline_ms=deadline_ms,
        waited_below_ms=deadline_ms - 50,
        waited_ms=waited_ms,
        attempts_at_max=attempts,
        answer_status=200,
        answer_code=None,
        answer_ok=True,
        base_ms=5.0,
        base_attempts=1,
        resolution_ms=50.0,
        max_ms=2000.0,
        max_why="given",
        probes=(),
        search_s=1.0,
    )


def _failure(
    edge: str,
    *,
    attempts: int = 3,
    caller_requests: int = 3,
    user_requests: int = 3,
    ok_calls: int = 3,
    fallbacks: tuple[str, ...] = (),
    fault: str = "down",
) -> FailureProbe:
    return FailureProbe(
        edge=edge,
        journey="j",
        fault=fault,
        calls=3,
        ok_calls=ok_calls,
        answers={"200" if ok_calls else "503": 3},
        took_ms=12.0,
        attempts=attempts,
        caller_requests=caller_requests,
        user_requests=user_requests,
        fallbacks=fallbacks,
        window_s=0.3,
    )


def _edge(name: str, deadline: Deadline | None, *failures: FailureProbe) -> EdgeDefences:
    caller, target = name.split("->")
    return EdgeDefences(name, caller, target, ("j",), deadline, failures)


def _map(*edges: EdgeDefences) -> DefenceMap:
    paths = {ENTRY: (ENTRY,), "a->b": (ENTRY, "a->b"), "b->c": (ENTRY, "a->b", "b->c")}
    paths["a->d"] = (ENTRY, "a->d")
    unchecked = DefenceMap(
        topology="t",
        profile="p",
        entry=ENTRY,
        edges=(EdgeDefences(ENTRY, "client", "a", ("j",), None, ()), *edges),
        crossed={"j": (ENTRY, "a->b", "b->c")},
        paths=paths,
        findings=(),
        search_s=1.0,
    )
    return replace(unchecked, findings=check_defences(unchecked))


def test_an_inner_caller_still_waiting_when_its_caller_stopped_breaks_the_budget() -> None:
    found = _map(
        _edge("a->b", _deadline("a->b", 400, 395), _failure("a->b")),
        # b's own deadline is longer: with c slow, the journey takes as long as with b slow.
        _edge("b->c", _deadline("b->c", 400, 398), _failure("b->c")),
    )
    (finding,) = found.findings
    assert (finding.check, finding.caller, finding.edge) == ("timeout-budget", "b", "b->c")
    assert finding.setting == "its deadline on b->c"
    assert finding.numbers["outer_deadline_ms"] == 395
    assert finding.numbers["inner_wait_ms"] == 398
    assert "b was still waiting on b->c when a stopped waiting on a->b after 395 ms" in (
        finding.message
    )


def test_an_outer_caller_that_retries_shows_the_inner_one_outlasting_each_attempt() -> None:
    found = _map(
        # a gives b 400 ms per attempt, 3 attempts; b waits for c 300 ms x 2 attempts.
        _edge("a->b", _deadline("a->b", 400, 1200, attempts=3), _failure("a->b")),
        _edge("b->c", _deadline("b->c", 400, 1195, attempts=6), _failure("b->c")),
    )
    (finding,) = found.findings_of("timeout-budget")
    assert finding.caller == "b"
    assert finding.numbers["outer_deadline_ms"] == 400
    assert "after 400 ms per attempt (3 attempts)" in finding.message


def test_an_inner_wait_inside_each_outer_attempt_is_no_finding() -> None:
    # The hardened bank: card waits 250 ms for pay, bank 300 ms per attempt (2) for card.
    found = _map(
        _edge("a->b", _deadline("a->b", 300, 591, attempts=2), _failure("a->b")),
        _edge("b->c", _deadline("b->c", 300, 245), _failure("b->c")),
    )
    assert found.findings == ()
    found = _map(
        _edge("a->b", _deadline("a->b", 400, 395), _failure("a->b")),
        _edge("b->c", _deadline("b->c", 150, 149), _failure("b->c")),
    )
    assert found.findings == ()


def test_the_entry_services_deadlines_are_never_compared_with_the_users_device() -> None:
    found = _map(_edge("a->b", _deadline("a->b", 5000, 4990), _failure("a->b")))
    assert found.findings_of("timeout-budget") == ()


def test_retries_to_the_same_failing_target_are_found_with_their_counts() -> None:
    found = _map(_edge("a->b", None, _failure("a->b", attempts=9, caller_requests=3)))
    (finding,) = found.findings
    assert (finding.check, finding.caller, finding.edge) == ("retry-same-target", "a", "a->b")
    assert finding.numbers["attempts_per_request"] == 3
    assert "9 attempts for 3 requests" in finding.message


def test_retries_on_two_hops_of_a_path_multiply() -> None:
    found = _map(
        _edge("a->b", None, _failure("a->b", attempts=9, caller_requests=3)),
        _edge("b->c", None, _failure("b->c", attempts=27, caller_requests=9, user_requests=3)),
    )
    (finding,) = found.findings_of("retry-amplification")
    assert finding.edge == "b->c"
    assert finding.caller == "a, b"
    assert finding.numbers == {"estimated": 9.0, "measured": 9.0}
    assert "3.0 (a->b) x 3.0 (b->c) = 9.0" in finding.message
    assert len(found.findings_of("retry-same-target")) == 2


def test_a_dependency_whose_failure_fails_a_journey_with_no_fallback_is_a_single_point() -> None:
    found = _map(
        _edge("a->b", None, _failure("a->b", attempts=3, ok_calls=0)),
        _edge("a->d", None, _failure("a->d", attempts=3, ok_calls=0, fallbacks=("a->e",))),
    )
    (finding,) = found.findings
    assert (finding.check, finding.caller, finding.edge) == ("single-point-of-failure", "a", "a->b")
    assert finding.setting == "its fallback for b"
    assert finding.numbers["ok_calls"] == 0
    assert "critical, no fallback" in finding.message


def test_the_map_reads_as_a_table_and_as_json() -> None:
    found = _map(
        _edge("a->b", _deadline("a->b", 400, 395), _failure("a->b", fallbacks=("a->d",))),
        _edge("b->c", _deadline("b->c", 400, 398), _failure("b->c")),
    )
    table = render_defences(found)
    assert ">= 398 ms (a stopped first)" in table
    assert "a->d" in table
    assert "findings (1):" in table
    data = json.loads(json.dumps(found.as_dict()))
    assert [f["check"] for f in data["findings"]] == ["timeout-budget"]
    assert data["edges"][1]["fallbacks"] == ["a->d"]
    assert data["edges"][1]["deadline"]["range_ms"] == [345.0, 405.0]


def test_an_inner_caller_seen_retrying_shows_its_own_deadline_beside_the_outer_cut() -> None:
    # fragile bank: card retries pay every 5 s; bank stops after 2 x 5 s first.
    retry = DeadlineProbe(5000, 9977, True, 200, None, attempts=2, stopped=True)
    inner = replace(_deadline("b->c", 5000, 9977, attempts=3), probes=(retry,))
    found = _map(
        _edge("a->b", _deadline("a->b", 5000, 9995, attempts=2), _failure("a->b")),
        _edge("b->c", inner, _failure("b->c")),
    )
    assert inner.retried_at_deadline
    assert "4,945-5,005 ms per attempt, >= 9,977 ms (a stopped first)" in render_defences(found)
    assert [f.check for f in found.findings] == ["timeout-budget"]
