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

__all__ = ["PROFILES", "SERVER_KEEPALIVE_S", "KnobError", "Knobs", "resolve_knobs"]

#: How long a service keeps a caller's idle connection open (uvicorn's keep-alive
#: timeout); its own clients give theirs up sooner (the knob ``dependency_keepalive_s``).
SERVER_KEEPALIVE_S = 5


class KnobError(ValueError):
    """An unknown profile, an unknown knob, or a knob value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Knobs:
    """Resilience settings of a service. Times are in seconds unless the name says otherwise."""

    #: Deadline for one outbound call to a dependency (connect to last byte).
    dependency_timeout_s: float
    #: Total time an inbound request may spend on its dependencies (None: unbounded).
    request_budget_s: float | None
    #: Callers send their remaining deadline (``X-Deadline-Ms``) and callees spend no more.
    deadline_propagation: bool
    #: Login fetches card data before answering (the KB Pay cascade path).
    login_fetches_card: bool
    #: Extra attempts after a failed outbound call (only for calls safe to repeat).
    retries: int
    #: Retries wait with exponential backoff and full jitter, honouring Retry-After.
    retry_backoff: bool
    #: First backoff step; attempt n waits up to ``retry_backoff_base_s * 2**n``.
    retry_backoff_base_s: float
    #: Outbound calls go through a circuit breaker per dependency.
    circuit_breaker: bool
    #: Consecutive failures that open the breaker.
    breaker_failures: int
    #: How long an open breaker stays open before letting one probe call through.
    breaker_reset_s: float
    #: Card points fall back to the last value seen when pay does not answer.
    card_points_cache: bool
    #: Card features (card tab, combined savings) answer with what they have (cached or
    #: partial data) or with CD001 at once, instead of failing with the dependency's error.
    degrade_card_features: bool
    #: Each feature gets its own concurrency limit and each dependency its own connection
    #: pool, so one slow dependency cannot take every worker and connection.
    bulkheads: bool
    #: Concurrent calls per feature when bulkheads are on.
    bulkhead_limit: int
    #: Connections in the one shared pool (bulkheads off) or in each dependency's pool (on).
    max_connections: int
    #: Flow control: beyond capacity, answer "wait" with a position and Retry-After.
    admission_control: bool
    #: Requests bank serves at once when admission control is on.
    admission_capacity: int
    #: Part of the capacity only priority requests (balance inquiry) may use.
    admission_priority_reserve: int
    #: Event-loop lag (ms) above which non-priority requests are held: the CPU is saturated.
    admission_max_lag_ms: float
    #: Error codes name the dependency that failed instead of blaming the bank server.
    truthful_codes: bool
    #: FX buy/sell has a kill switch (tripped by a surge or by an operator) whose declared
    #: exception, the automatic exchange of a shortfall, keeps working.
    fx_kill_switch: bool
    #: FX orders per second (over a 2 s window) that trip the kill switch.
    fx_surge_orders_per_s: float
    #: How long an automatic trip suspends FX before it resumes by itself.
    fx_suspend_s: float
    #: Bank learns the remittance network's maintenance windows: new remittances get the
    #: window's end time, accepted ones wait for the end instead of being retried into it.
    maintenance_aware: bool
    #: How often bank's remittance outbox looks for work (and polls the maintenance schedule).
    outbox_poll_s: float
    #: Connections of bank's core-banking ledger: transactions (balance inquiry, transfers,
    #: exchange deposits and withdrawals, FX orders and payments) run at most this many at once.
    core_connections: int = 4
    #: How long one core transaction holds its connection: capacity is
    #: ``core_connections * 1000 / core_service_ms`` transactions per second (100).
    core_service_ms: float = 40.0
    #: Flow control at the core: at most ``core_queue_limit`` transactions wait for a
    #: connection, the rest get OV001 at once; balance inquiry goes first and is never refused.
    core_flow_control: bool = False
    #: Transactions that may wait for a core connection under flow control.
    core_queue_limit: int = 8
    #: How long an idle connection to a dependency is kept for the next call, below the
    #: dependency's own keep-alive timeout (SERVER_KEEPALIVE_S); 0: a new connection per call.
    dependency_keepalive_s: float = 2.0


PROFILES: dict[str, Knobs] = {
    "fragile": Knobs(
        dependency_timeout_s=5.0,
        request_budget_s=None,
        deadline_propagation=False,
        login_fetches_card=True,
        retries=1,
        retry_backoff=False,
        retry_backoff_base_s=0.05,
        circuit_breaker=False,
        breaker_failures=5,
        breaker_reset_s=5.0,
        card_points_cache=False,
        degrade_card_features=False,
        bulkheads=False,
        bulkhead_limit=32,
        max_connections=100,
        admission_control=False,
        admission_capacity=200,
        admission_priority_reserve=40,
        admission_max_lag_ms=100.0,
        truthful_codes=False,
        fx_kill_switch=False,
        fx_surge_orders_per_s=150.0,
        fx_suspend_s=30.0,
        maintenance_aware=False,
        outbox_poll_s=0.2,
    ),
    "hardened": Knobs(
        dependency_timeout_s=0.3,
        request_budget_s=0.8,
        deadline_propagation=True,
        login_fetches_card=False,
        retries=1,
        retry_backoff=True,
        retry_backoff_base_s=0.05,
        circuit_breaker=True,
        breaker_failures=3,
        breaker_reset_s=2.0,
        card_points_cache=True,
        degrade_card_features=True,
        bulkheads=True,
        bulkhead_limit=32,
        max_connections=32,
        admission_control=True,
        admission_capacity=200,
        admission_priority_reserve=40,
        admission_max_lag_ms=100.0,
        truthful_codes=True,
        fx_kill_switch=True,
        fx_surge_orders_per_s=150.0,
        fx_suspend_s=30.0,
        maintenance_aware=True,
        outbox_poll_s=0.2,
        core_flow_control=True,
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
    keepalive_s = changes.get("dependency_keepalive_s", base.dependency_keepalive_s)
    if not 0 <= keepalive_s < SERVER_KEEPALIVE_S:
        raise KnobError(
            f"knob dependency_keepalive_s must be from 0 (a new connection per call) to below "
            f"{SERVER_KEEPALIVE_S} (the services' keep-alive timeout), got {keepalive_s!r}"
        )
    return dataclasses.replace(base, **changes)
