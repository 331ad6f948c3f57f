"""Profiles: the resilience knobs that make a service fragile or hardened.

``fragile`` is built the way the incidents happened: long client timeouts,
retries without backoff, no circuit breaker, login pulling card data on its
critical path, error codes that blame the wrong party. ``hardened`` applies
the fixes real engineers use. Each knob can be flipped on its own (e.g.
``domino up --knob login_fetches_card=false``) to try one fix at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PROFILES", "KnobError", "Knobs", "resolve_knobs"]


class KnobError(ValueError):
    """An unknown profile, an unknown knob, or a knob value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Knobs:
    """Resilience settings of a service. Times are in seconds."""

    #: Deadline for one outbound call to a dependency.
    dependency_timeout_s: float
    #: Total time an inbound request may spend on its dependencies (None: unbounded).
    request_budget_s: float | None
    #: Login fetches card data before answering (the KB Pay cascade path).
    login_fetches_card: bool
    #: Extra attempts after a failed outbound call.
    retries: int
    #: Retries wait with exponential backoff and jitter, honouring Retry-After.
    retry_backoff: bool
    #: Outbound calls go through a circuit breaker per dependency.
    circuit_breaker: bool
    #: Consecutive failures that open the breaker.
    breaker_failures: int
    #: How long an open breaker stays open before letting one call through.
    breaker_reset_s: float
    #: Card points fall back to the last value seen when pay does not answer.
    card_points_cache: bool
    #: Each feature gets its own concurrency limit, so one slow dependency cannot take all workers.
    bulkheads: bool
    #: Concurrent calls per feature when bulkheads are on.
    bulkhead_limit: int
    #: Flow control: beyond capacity, answer "wait" with a position and Retry-After.
    admission_control: bool
    #: Requests bank serves at once when admission control is on.
    admission_capacity: int
    #: Error codes name the dependency that failed instead of blaming the bank server.
    truthful_codes: bool


PROFILES: dict[str, Knobs] = {
    "fragile": Knobs(
        dependency_timeout_s=5.0,
        request_budget_s=None,
        login_fetches_card=True,
        retries=1,
        retry_backoff=False,
        circuit_breaker=False,
        breaker_failures=5,
        breaker_reset_s=5.0,
        card_points_cache=False,
        bulkheads=False,
        bulkhead_limit=16,
        admission_control=False,
        admission_capacity=64,
        truthful_codes=False,
    ),
    "hardened": Knobs(
        dependency_timeout_s=0.5,
        request_budget_s=0.9,
        login_fetches_card=False,
        retries=1,
        retry_backoff=True,
        circuit_breaker=True,
        breaker_failures=3,
        breaker_reset_s=2.0,
        card_points_cache=True,
        bulkheads=True,
        bulkhead_limit=16,
        admission_control=True,
        admission_capacity=64,
        truthful_codes=True,
    ),
}


def _coerce(name: str, kind: Any, value: Any) -> Any:
    text = str(value).strip().lower()
    if kind is bool or kind == "bool":
        if isinstance(value, bool):
            return value
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise KnobError(f"knob {name} takes true or false, got {value!r}")
    allows_none = "None" in str(kind)
    if allows_none and (value is None or text in ("none", "null", "")):
        return None
    try:
        if "int" in str(kind):
            return int(value)
        return float(value)
    except (TypeError, ValueError):
        raise KnobError(f"knob {name} takes a number, got {value!r}") from None


def resolve_knobs(profile: str, overrides: Mapping[str, Any] | None = None) -> Knobs:
    """The profile's knobs with ``overrides`` applied; raises KnobError on any mistake."""
    if profile not in PROFILES:
        raise KnobError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    base = PROFILES[profile]
    fields = {f.name: f.type for f in dataclasses.fields(Knobs)}
    changes = {}
    for name, value in (overrides or {}).items():
        if name not in fields:
            raise KnobError(f"unknown knob {name!r}; known knobs: {', '.join(fields)}")
        changes[name] = _coerce(name, fields[name], value)
    return dataclasses.replace(base, **changes)
