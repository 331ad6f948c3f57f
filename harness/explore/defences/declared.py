"""What callers declare of their defences (domino.yaml's ``timeout_ms``, ``retries``,
``fallback``) against what ``domino defences`` measured: every difference a
:class:`Mismatch` with both values.

Tolerances (what counts as the same):

- **timeout_ms** agrees when it lies in the measured range of the deadline per
  attempt (:attr:`~.model.Deadline.range_ms`), widened on each side by
  :func:`timeout_slack_ms` (50 ms or 10 % of the declared value, whichever is
  more: timers, scheduling and the journey's own time). Where the caller
  never stopped waiting up to the search's top, it agrees when it is not
  shorter than that top less the slack; where a caller further out stopped
  first (only a least wait is known), when it is not shorter than that wait
  less the slack.
- **retries** agrees when the most attempts per caller request seen while the
  edge failed is ``1 + retries`` give or take :data:`ATTEMPTS_SLACK`.
- **fallback** agrees when the edges declared are exactly those seen newly
  carrying traffic while the edge failed (``none``: no edge was).

A declaration on an edge that was not measured (no journey crosses it, or not
chosen) is listed as not compared, never as agreeing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from harness.explore.defences.checks import stopped_first
from harness.explore.defences.model import (
    ATTEMPTS_SLACK,
    TIMEOUT_SLACK_MS,
    TIMEOUT_SLACK_SHARE,
    DeclaredCheck,
    Mismatch,
    Setting,
)

if TYPE_CHECKING:
    from harness.explore.defences.model import DefenceMap
    from harness.model.topology import DeclaredDefences

__all__ = ["compare_declared", "timeout_slack_ms"]


def timeout_slack_ms(declared_ms: float) -> float:
    """How far (ms) a declared deadline may lie outside the measured range and agree."""
    return max(TIMEOUT_SLACK_MS, TIMEOUT_SLACK_SHARE * declared_ms)


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def _timeout(defences: DefenceMap, edge: str, declared_ms: float) -> tuple[bool, str] | str:
    """(agrees, what was measured), or why it cannot be compared."""
    found = defences.edge(edge).deadline
    if found is None:
        return "no deadline measured on it"
    slack_ms = timeout_slack_ms(declared_ms)
    if found.outcome == "unhealthy_without_latency":
        return "its journey failed with nothing added"
    if found.outcome == "waits_past_max":
        return declared_ms >= found.max_ms - slack_ms, f"still waiting at {_ms(found.max_ms)}"
    outer = stopped_first(defences, edge)
    if outer is not None and not found.retried_at_deadline and found.waited_ms is not None:
        return declared_ms >= found.waited_ms - slack_ms, (
            f"at least {_ms(found.waited_ms)} ({outer.caller} stopped waiting first)"
        )
    if found.range_ms is None:
        return "no range measured"
    low_ms, high_ms = found.range_ms
    agrees = low_ms - slack_ms <= declared_ms <= high_ms + slack_ms
    return agrees, f"{low_ms:,.0f}-{high_ms:,.0f} ms per attempt"


def _compare_edge(
    defences: DefenceMap, edge: str, said: DeclaredDefences
) -> list[tuple[Setting, Mismatch | str | None]]:
    """Per declared setting: None (agrees), a Mismatch, or why it was not compared."""
    found = defences.edge(edge)
    caller = found.caller
    out: list[tuple[Setting, Mismatch | str | None]] = []
    if said.timeout_ms is not None:
        result = _timeout(defences, edge, said.timeout_ms)
        said_text = _ms(said.timeout_ms)
        timeout: Mismatch | str | None = None
        if isinstance(result, str):
            timeout = result  # not compared, and why
        elif not result[0]:
            timeout = Mismatch(
                edge,
                caller,
                "timeout_ms",
                said_text,
                result[1],
                f"{caller} declares a {said_text} deadline on {edge}; measured: {result[1]} "
                f"(allowed: {timeout_slack_ms(said.timeout_ms):,.0f} ms either side)",
            )
        out.append(("timeout_ms", timeout))
    if said.retries is not None:
        per = found.attempts_per_request
        want = 1 + said.retries
        verdict: Mismatch | str | None = None
        if per is None:
            verdict = "attempts not counted on this server"
        elif abs(per - want) > ATTEMPTS_SLACK:
            verdict = Mismatch(
                edge,
                caller,
                "retries",
                f"{said.retries} ({want} attempts)",
                f"{per:.1f} attempts per request",
                f"{caller} declares {said.retries} retries on {edge} ({want} attempts per "
                f"request); measured: {per:.1f} attempts per request while {found.target} "
                "failed (a breaker or a request budget may stop retries early)",
            )
        out.append(("retries", verdict))
    if said.fallback is not None:
        seen = found.fallbacks
        said_text = ", ".join(said.fallback) or "none"
        seen_text = ", ".join(seen) or "none"
        fallback: Mismatch | None = None
        if set(seen) != set(said.fallback):
            fallback = Mismatch(
                edge,
                caller,
                "fallback",
                said_text,
                seen_text,
                f"{caller} declares fallback {said_text} for {edge}; newly crossed while "
                f"{found.target} failed: {seen_text}",
            )
        out.append(("fallback", fallback))
    return out


def _settings(said: DeclaredDefences) -> list[Setting]:
    values: tuple[tuple[Setting, object], ...] = (
        ("timeout_ms", said.timeout_ms),
        ("retries", said.retries),
        ("fallback", said.fallback),
    )
    return [s for s, v in values if v is not None]


def compare_declared(
    defences: DefenceMap, declared: Mapping[str, DeclaredDefences]
) -> DeclaredCheck:
    """Each declaration in ``declared`` (per edge) against ``defences``."""
    agree: list[tuple[str, Setting]] = []
    mismatches: list[Mismatch] = []
    not_compared: list[tuple[str, Setting, str]] = []
    measured = {e.edge for e in defences.edges if e.deadline is not None or e.failures}
    for edge, said in declared.items():
        if edge not in measured:
            try:
                why = defences.edge(edge).note or "not measured"
            except KeyError:
                why = "not measured (not chosen)"
            not_compared += [(edge, s, why) for s in _settings(said)]
            continue
        for setting, verdict in _compare_edge(defences, edge, said):
            if verdict is None:
                agree.append((edge, setting))
            elif isinstance(verdict, Mismatch):
                mismatches.append(verdict)
            else:
                not_compared.append((edge, setting, verdict))
    return DeclaredCheck(tuple(agree), tuple(mismatches), tuple(not_compared))
