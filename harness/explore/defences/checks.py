"""Checks over a map of defences: each mistake found becomes a :class:`Finding` with the
numbers measured, attributed to the caller that should change and its setting.

Pure functions of a :class:`DefenceMap` (its findings are ignored and
recomputed), so they are tested on made-up maps:

- **timeout budget**: along a journey's path, the inner caller's whole wait
  (deadline x attempts) must fit inside its own caller's deadline per attempt;
  when the inner caller was still waiting as the outer one stopped (the
  journey took as long with the inner edge slow as with the outer one slow:
  :func:`stopped_first`), its defences never get to act;
- **retries to the same failing target**: more than ``_RETRIES`` attempts per
  caller request cross an edge while its target fails;
- **retry amplification**: retries multiplied along a path — two or more
  callers on it retrying, or more attempts reaching the edge per user request
  than its own caller makes;
- **a soft dependency waited on past the SLO**: with the edge slowed past its
  caller's deadline, the journey still answered well (the caller fell back or
  answered without the target) but only after longer than the journey's SLO
  (p95): the fallback runs too late to keep the journey in it. Where a caller
  further out stopped first, the wait is that one's, and the finding is its;
- **single point of failure, as observed**: an edge whose failure (down) left
  a journey with no successful call and crossed no fallback — whatever the
  topology declares.

The client edge's caller is the users' device: none of its settings are the
system's, so it is never attributed a finding.
"""

from __future__ import annotations

import math

from harness.explore.defences.model import (
    CHECKS,
    DefenceMap,
    EdgeDefences,
    FailureProbe,
    Finding,
)

__all__ = ["check_defences", "outer_edge", "stopped_first"]

#: Attempts per request above which a caller is said to retry (1 and a margin for noise).
_RETRIES = 1.25
#: Two whole waits this close (ms, or 5 % of the longer) are one caller's deadline seen twice.
_SAME_WAIT_MS = 25.0
_SAME_WAIT_SHARE = 0.05


def outer_edge(defences: DefenceMap, edge: str) -> EdgeDefences | None:
    """The edge into ``edge``'s caller on its path from the client (None: the caller is
    the entry service, whose caller is the users' device)."""
    path = defences.paths.get(edge, ())
    if len(path) < 2 or path[-1] != edge or path[-2] == defences.entry:
        return None
    try:
        return defences.edge(path[-2])
    except KeyError:
        return None


def stopped_first(defences: DefenceMap, edge: str) -> EdgeDefences | None:
    """The edge whose caller stopped waiting before ``edge``'s caller did, if one did.

    With ``edge`` slow, the journey then took as long as with that outer edge
    slow (their whole waits within ``_SAME_WAIT_MS`` or 5 %): what was measured
    on ``edge`` is the outer caller's deadline, and the inner caller's own wait
    is at least that long. A caller that answers inside its caller's deadline
    answers sooner than the outer one would; a caller further out that retries
    makes the difference plain (its whole wait is every attempt).
    """
    outer = outer_edge(defences, edge)
    try:
        inner = defences.edge(edge).deadline
    except KeyError:
        return None
    if outer is None or outer.deadline is None or inner is None:
        return None
    mine, theirs = inner.waited_ms, outer.deadline.waited_ms
    if outer.deadline.outcome != "found" or theirs is None or mine is None:
        return None
    if inner.outcome not in ("found", "waits_past_max"):
        return None
    close_ms = max(_SAME_WAIT_MS, _SAME_WAIT_SHARE * max(mine, theirs))
    return outer if abs(mine - theirs) <= close_ms else None


def _timeout_budget(defences: DefenceMap) -> list[Finding]:
    found = []
    for inner in defences.edges:
        outer = outer_edge(defences, inner.edge)
        if inner.deadline is None or outer is None or outer.deadline is None:
            continue
        mine, theirs = inner.deadline, outer.deadline
        outer_ms = theirs.per_attempt_ms
        if theirs.outcome != "found" or outer_ms is None or mine.waited_ms is None:
            continue
        first = stopped_first(defences, inner.edge) is not None
        if not first and mine.waited_ms < outer_ms:
            continue
        outer_attempts = theirs.attempts_per_call
        outer_text = f"{outer_ms:,.0f} ms" + (
            f" per attempt ({outer_attempts:g} attempts)"
            if outer_attempts is not None and outer_attempts > _RETRIES
            else ""
        )
        if first:
            told = (
                f"{inner.caller} was still waiting on {inner.edge} when {outer.caller} stopped "
                f"waiting on {outer.edge} after {outer_text}: the journey took as long with "
                f"{inner.target} slow as with {outer.target} slow ({mine.waited_ms:,.0f} and "
                f"{theirs.waited_ms or 0:,.0f} ms more than with nothing added), so "
                f"{inner.caller} waits at least as long as {outer.caller} gives it"
            )
        else:
            attempts = mine.attempts_per_call
            told = (
                f"{inner.caller} waits {mine.waited_ms:,.0f} ms on {inner.edge}"
                + (f" ({attempts:g} attempts)" if attempts is not None else "")
                + f", but {outer.caller} waits only {outer_text} on {outer.edge}"
            )
        found.append(
            Finding(
                check="timeout-budget",
                caller=inner.caller,
                edge=inner.edge,
                setting=f"its deadline on {inner.edge}",
                journey=mine.journey,
                path=tuple(defences.paths.get(inner.edge, ())),
                numbers={
                    "inner_wait_ms": mine.waited_ms,
                    "outer_deadline_ms": outer_ms,
                    **({"outer_wait_ms": theirs.waited_ms} if theirs.waited_ms is not None else {}),
                    **(
                        {"attempts": mine.attempts_per_call}
                        if mine.attempts_per_call is not None
                        else {}
                    ),
                },
                message=(
                    f"{outer.caller} waits {outer_text} for {outer.target}; {inner.caller} "
                    f"waits {'at least ' if first else ''}{mine.waited_ms:,.0f} ms for "
                    f"{inner.target}: {told}; whatever {inner.caller} does when {inner.target} "
                    f"is slow (its fallback, its answer) never reaches {outer.caller}"
                ),
            )
        )
    return found


def _retrying(probe: FailureProbe) -> bool:
    per = probe.attempts_per_request
    return per is not None and per > _RETRIES


def _retry_same_target(defences: DefenceMap) -> list[Finding]:
    found = []
    for edge in defences.edges:
        retries = [p for p in edge.failures if _retrying(p)]
        if not retries:
            continue
        worst = max(retries, key=lambda p: p.attempts_per_request or 0.0)
        per = worst.attempts_per_request or 0.0
        by_fault: dict[str, float] = {}
        for probe in retries:
            by_fault[probe.fault] = max(
                by_fault.get(probe.fault, 0.0), probe.attempts_per_request or 0.0
            )
        each = "; ".join(f"{n:.1f} under {fault}" for fault, n in by_fault.items())
        found.append(
            Finding(
                check="retry-same-target",
                caller=edge.caller,
                edge=edge.edge,
                setting=f"its retries on {edge.edge}",
                journey=worst.journey,
                path=tuple(defences.paths.get(edge.edge, ())),
                numbers={
                    "attempts_per_request": per,
                    "attempts": float(worst.attempts or 0),
                    "caller_requests": float(worst.caller_requests or 0),
                },
                message=(
                    f"{edge.caller} sends {per:.1f} attempts to {edge.target} per request while "
                    f"{edge.target} fails ({each}; {worst.attempts} attempts for "
                    f"{worst.caller_requests} requests): every retry goes back to the same "
                    "failing target and multiplies its load"
                ),
            )
        )
    return found


def _retry_amplification(defences: DefenceMap) -> list[Finding]:
    found = []
    for edge in defences.edges:
        path = [e for e in defences.paths.get(edge.edge, ()) if e != defences.entry]
        hops: list[tuple[str, float]] = []
        for name in path:
            try:
                per = defences.edge(name).attempts_per_request
            except KeyError:
                continue
            if per is not None and per > _RETRIES:
                hops.append((name, per))
        observed = [
            p
            for p in edge.failures
            if p.attempts_per_user_request is not None
            and p.attempts_per_request is not None
            and p.attempts_per_user_request >= 2
            and p.attempts_per_user_request > p.attempts_per_request * _RETRIES
        ]
        if len(hops) < 2 and not observed:
            continue
        product = math.prod(per for _, per in hops) if hops else 1.0
        seen = max((p.attempts_per_user_request or 0.0 for p in observed), default=0.0)
        chain = " x ".join(f"{per:.1f} ({name})" for name, per in hops) or "none counted"
        seen_text = (
            f"; measured: {seen:.1f} attempts reached {edge.target} per user request"
            if observed
            else ""
        )
        callers = sorted({defences.edge(name).caller for name, _ in hops} or {edge.caller})
        found.append(
            Finding(
                check="retry-amplification",
                caller=", ".join(callers),
                edge=edge.edge,
                setting="their retries along " + " -> ".join(path),
                path=tuple(defences.paths.get(edge.edge, ())),
                numbers={"estimated": product, **({"measured": seen} if observed else {})},
                message=(
                    f"retries multiply along the path to {edge.edge}: {chain} = "
                    f"{product:.1f} attempts per user request{seen_text}"
                ),
            )
        )
    return found


def _soft_wait_past_slo(defences: DefenceMap) -> list[Finding]:
    found = []
    for edge in defences.edges:
        deadline = edge.deadline
        if deadline is None or deadline.outcome != "found" or not deadline.answer_ok:
            continue
        if deadline.waited_ms is None or stopped_first(defences, edge.edge) is not None:
            continue
        slo_ms = defences.slo_p95_ms.get(deadline.journey)
        took_ms = deadline.waited_ms + deadline.base_ms
        if slo_ms is None or took_ms <= slo_ms:
            continue
        attempts = deadline.attempts_per_call
        tries = f" over {attempts:g} attempts" if attempts is not None and attempts > 1 else ""
        found.append(
            Finding(
                check="soft-wait-past-slo",
                caller=edge.caller,
                edge=edge.edge,
                setting=f"its deadline on {edge.edge}",
                journey=deadline.journey,
                path=tuple(defences.paths.get(edge.edge, ())),
                numbers={
                    "waited_ms": deadline.waited_ms,
                    "took_ms": took_ms,
                    "slo_p95_ms": slo_ms,
                    **({"attempts": attempts} if attempts is not None else {}),
                },
                message=(
                    f"{edge.caller} waits {deadline.waited_ms:,.0f} ms{tries} on {edge.edge} "
                    f"before it answers without {edge.target} ({deadline.answer}): the "
                    f"{deadline.journey} journey then takes {took_ms:,.0f} ms, past its SLO of "
                    f"{slo_ms:,.0f} ms (p95); the fallback works, but too late to keep "
                    f"the journey in its SLO while {edge.target} is slow"
                ),
            )
        )
    return found


def _single_points(defences: DefenceMap) -> list[Finding]:
    found = []
    for edge in defences.edges:
        if edge.edge == defences.entry:
            continue
        by_journey: dict[str, FailureProbe] = {}
        for probe in edge.failures:
            if not probe.failed or probe.fallbacks:
                continue
            # "down" first: a dependency gone, the plainest single failure.
            if probe.journey not in by_journey or probe.fault == "down":
                by_journey[probe.journey] = probe
        for journey, probe in by_journey.items():
            answers = ", ".join(f"{n}x {a}" for a, n in sorted(probe.answers.items()))
            found.append(
                Finding(
                    check="single-point-of-failure",
                    caller=edge.caller,
                    edge=edge.edge,
                    setting=f"its fallback for {edge.target}",
                    journey=journey,
                    path=tuple(defences.paths.get(edge.edge, ())),
                    numbers={
                        "ok_calls": float(probe.ok_calls),
                        "calls": float(probe.calls),
                        "took_ms": probe.took_ms,
                    },
                    message=(
                        f"with {edge.edge} {probe.fault}, {journey} failed {probe.calls} of "
                        f"{probe.calls} calls ({answers}, at most {probe.took_ms:,.0f} ms) and "
                        f"no other edge was crossed: {edge.caller} has no fallback for "
                        f"{edge.target} (critical, no fallback)"
                    ),
                )
            )
    return found


def check_defences(defences: DefenceMap) -> tuple[Finding, ...]:
    """Every finding over ``defences``, in the order of :data:`CHECKS`, then of the edges."""
    found = [
        *_timeout_budget(defences),
        *_retry_same_target(defences),
        *_retry_amplification(defences),
        *_soft_wait_past_slo(defences),
        *_single_points(defences),
    ]
    order = {name: n for n, name in enumerate(CHECKS)}
    edges = {e.edge: n for n, e in enumerate(defences.edges)}
    return tuple(sorted(found, key=lambda f: (order[f.check], edges.get(f.edge, 0))))
