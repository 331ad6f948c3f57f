"""What a flood's answers meant: an honest "wait", or a failure the system applied anyway.

A 429/503 is *told to wait* only when it carries one of the system's honest
codes (:attr:`~harness.contracts.SystemAdapter.honest_codes`, read from the
body by :meth:`~harness.contracts.SystemAdapter.read_answer`) and the action
was not applied. Anything else that was not ok is a failure; a failure whose
key the system applied (its own records say so, through the optional
:class:`~harness.contracts.ReportsAppliedKeys`) is *failed but applied*, the
worst outcome for a customer: told it failed, money moved. A wait whose key
was applied is both: a false wait, and failed but applied.

What cannot be checked keeps the old judgement and is said: an adapter that
declares no honest codes has every 429/503 counted as a wait; a system that
cannot say which keys it applied has no "failed but applied" count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.contracts import SystemAdapter
    from harness.loadgen import LoadResult, WaitCheck
    from harness.model.topology import Journey

__all__ = [
    "AppliedCheck",
    "FloodOutcomes",
    "action_key",
    "applied_check",
    "honest_wait",
    "key_prefix",
]


def key_prefix(run_id: str) -> str:
    """What every key of the flood ``run_id`` starts with."""
    return f"{run_id}-"


def action_key(run_id: str, action_index: int) -> str:
    """The key a flood sends in its journey's ``{uuid}`` header for one user action
    (kept across the action's retries)."""
    return f"{key_prefix(run_id)}{action_index}"


def honest_wait(adapter: SystemAdapter, journey: Journey) -> WaitCheck | None:
    """The load engine's wait check for ``journey``: a 429/503 is an honest wait when
    ``adapter`` reads an honest code in its body. None when the adapter declares no honest
    codes (it cannot tell: every 429/503 stays a wait)."""
    honest = adapter.honest_codes
    if not honest:
        return None

    def check(status: int, body: bytes) -> bool:
        payload: Any
        try:
            payload = json.loads(body) if body else None
        except ValueError:  # not JSON (UnicodeDecodeError is one): no code in it
            payload = None
        return adapter.read_answer(journey, status, payload).code in honest

    return check


@dataclass(frozen=True, slots=True)
class AppliedCheck:
    """What the system's own records say about a flood's actions that did not end ok."""

    #: Actions of the flood the system applied (its records hold their keys).
    applied: int
    #: Told to wait, yet applied: the wait was false.
    waits_applied: int
    #: Failed (an error, a timeout, a false wait), yet applied.
    failures_applied: int

    @property
    def failed_but_applied(self) -> int:
        """Every action that did not end ok although the system applied it."""
        return self.waits_applied + self.failures_applied

    def as_dict(self) -> dict[str, int]:
        return {
            "applied": self.applied,
            "waits_applied": self.waits_applied,
            "failures_applied": self.failures_applied,
            "failed_but_applied": self.failed_but_applied,
        }


def applied_check(result: LoadResult, run_id: str, keys: frozenset[str]) -> AppliedCheck:
    """Which of ``result``'s actions not ok the system applied, from the ``keys`` it
    applied with the flood's prefix (``{run_id}-``)."""
    prefix = key_prefix(run_id)
    applied: set[int] = set()
    for key in keys:
        suffix = key.removeprefix(prefix)
        if suffix != key and suffix.isdigit():
            applied.add(int(suffix))
    return AppliedCheck(
        applied=len(applied),
        waits_applied=len(applied.intersection(result.rejected_actions)),
        failures_applied=len(applied.intersection(result.failed_actions)),
    )


@dataclass(frozen=True, slots=True)
class FloodOutcomes:
    """A flood's actions by what their customers were told and what the system did.

    ``ok + told_to_wait + failed`` is every action with an outcome (the
    engine's cancelled ones have none). ``failed`` counts errors, timeouts,
    false waits and waits the system applied; ``false_waits`` and
    ``failed_but_applied`` are parts of it (they may overlap: a wait the system
    applied is both). ``failed_but_applied`` is None when the system could not
    say which keys it applied.
    """

    actions: int
    ok: int
    told_to_wait: int
    failed: int
    false_waits: int
    failed_but_applied: int | None

    @classmethod
    def of(cls, result: LoadResult, applied: AppliedCheck | None) -> FloodOutcomes:
        waits_applied = applied.waits_applied if applied is not None else 0
        return cls(
            actions=result.actions,
            ok=result.ok,
            told_to_wait=result.rejected - waits_applied,
            failed=result.errors + waits_applied,
            false_waits=result.false_waits + waits_applied,
            failed_but_applied=applied.failed_but_applied if applied is not None else None,
        )

    def as_dict(self) -> dict[str, int | None]:
        return {
            "actions": self.actions,
            "ok": self.ok,
            "told_to_wait": self.told_to_wait,
            "failed": self.failed,
            "false_waits": self.false_waits,
            "failed_but_applied": self.failed_but_applied,
        }
