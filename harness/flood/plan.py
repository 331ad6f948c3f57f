"""A flood as a load plan: the crypto-crash schedule, the client's retries, and each
journey as a request template (``{uuid}`` in a header is one key per user action,
kept across that action's retries, so a retried deposit is the same deposit)."""

from __future__ import annotations

import re
from typing import Any

from harness.errors import FaultSpecError
from harness.flood.answers import action_key
from harness.infra.templates import placeholders
from harness.loadgen import CryptoCrash, RequestContext, RequestTemplate, RetryPolicy, WaitCheck
from harness.model.faults import Flood
from harness.model.topology import Journey

__all__ = ["check_flood", "crash_shape", "flood_keyed", "flood_retry", "flood_template"]


def crash_shape(fault: Flood, hold_s: float) -> CryptoCrash:
    """The crypto-crash schedule of ``fault`` held for ``hold_s``, then its tail."""
    rise_s = min(1.0, 0.1 * hold_s)
    rest_s = hold_s - rise_s
    plateau = fault.plateau_per_s or fault.peak_per_s / 2
    return CryptoCrash(
        baseline_rate_per_s=fault.base_per_s,
        peak_rate_per_s=fault.peak_per_s,
        plateau_rate_per_s=max(plateau, fault.base_per_s),
        baseline_s=0.0,
        rise_s=rise_s,
        peak_s=0.35 * rest_s,
        settle_s=0.05 * rest_s,
        plateau_s=0.35 * rest_s,
        decay_s=0.25 * rest_s,
        tail_s=fault.tail_s,
    )


def flood_retry(fault: Flood) -> RetryPolicy:
    if fault.retry == "immediate":
        return RetryPolicy.immediate(fault.retries)
    if fault.retry == "backoff":
        return RetryPolicy.backoff(fault.retries)
    if fault.retry == "retry-after":
        return RetryPolicy.retry_after(fault.retries)
    return RetryPolicy.none()


_UUID = re.compile(r"\{uuid\}")


def _holds_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return bool(placeholders(value))
    if isinstance(value, dict):
        return any(_holds_placeholder(k) or _holds_placeholder(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_placeholder(v) for v in value)
    return False


def flood_keyed(journey: Journey) -> bool:
    """Whether ``journey`` sends a key per action (a header holding ``{uuid}``)."""
    return any("uuid" in placeholders(value) for value in journey.headers.values())


def flood_template(
    journey: Journey, weight: float, run_id: str, wait_check: WaitCheck | None = None
) -> RequestTemplate:
    """``journey`` as a request template; ``{uuid}`` in a header becomes one key per action
    (:func:`~harness.flood.answers.action_key`); ``wait_check`` tells its honest waits."""
    fixed: list[tuple[str, str]] = []
    keyed: dict[str, str] = {}
    for name, value in journey.headers.items():
        names = set(placeholders(value))
        if names - {"uuid"}:
            raise FaultSpecError(
                f"flood on {journey.name}: header {name} uses {sorted(names - {'uuid'})}; a "
                "flood fills in only {uuid} (one key per action)"
            )
        if names:
            keyed[name] = value
        else:
            fixed.append((name, value))
    if placeholders(journey.path) or _holds_placeholder(journey.json_body):
        raise FaultSpecError(
            f"flood on {journey.name}: its path or JSON body holds placeholders; a flood sends "
            "one fixed body per journey"
        )

    def headers_for(ctx: RequestContext) -> dict[str, str]:
        key = action_key(run_id, ctx.action_index)
        return {name: _UUID.sub(key, value) for name, value in keyed.items()}

    success = frozenset(journey.expect) if journey.expect else frozenset(range(200, 300))
    return RequestTemplate(
        journey.name,
        journey.path,
        journey.method,
        headers=tuple(fixed),
        json_body=journey.json_body,
        weight=weight,
        success_statuses=success,
        header_factory=headers_for if keyed else None,
        wait_check=wait_check,
    )


def check_flood(fault: Flood, journeys: dict[str, Journey]) -> None:
    """Raise :class:`FaultSpecError` unless every journey of ``fault`` can be flooded."""
    for name in fault.journeys:
        flood_template(journeys[name], 1.0, "check")
