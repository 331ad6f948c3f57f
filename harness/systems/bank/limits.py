"""What the bank's knobs say about a late answer on an edge: deadlines, attempts, budgets.

The bank adapter's :meth:`configured_limits` and :meth:`caller_deadlines_ms`
(see :class:`harness.contracts.SystemAdapter`); the cliff search and the matrix
read these through the adapter and never the knobs themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.contracts import ConfiguredLimits
from harness.model.topology import CLIENT, Topology

__all__ = ["caller_deadlines_ms", "configured_limits"]

#: What a callee keeps back from its caller's propagated deadline to answer in time.
_DEADLINE_MARGIN_MS = 50.0


def caller_deadlines_ms(topology: Topology, knobs: Mapping[str, Any]) -> dict[str, float]:
    """``dependency_timeout_s`` for every call between services, in ms (else {})."""
    timeout_s = knobs.get("dependency_timeout_s")
    if not isinstance(timeout_s, int | float):
        return {}
    return {e.name: float(timeout_s) * 1000 for e in topology.edges if e.source != CLIENT}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms"


def configured_limits(topology: Topology, knobs: Mapping[str, Any], edge: str) -> ConfiguredLimits:
    """What the configuration along the path to ``edge`` says about a late answer on it.

    The bank's knobs (a run's settings): every service
    gives each inbound request ``request_budget_s`` (none in ``fragile``)
    and holds each call to a dependency to ``dependency_timeout_s``, cut to
    what is left of its budget; with ``deadline_propagation`` the callee's
    budget is its caller's deadline less a 50 ms margin. A caller makes
    ``1 + retries`` attempts, so its worst wait is ``dependency_timeout_s x
    (1 + retries)``, capped by its budget. ``degrade_card_features`` decides
    whether the card features answer a late card or pay as an honest
    degradation. Without the knobs (a stack of unknown settings), nothing is claimed.
    """
    if "dependency_timeout_s" not in knobs:
        return ConfiguredLimits(edge)
    entry = topology.entry_edge
    if edge == entry.name:
        return ConfiguredLimits(
            edge,
            lines=(
                f"{edge}: the user's app holds this call to its own timeout "
                "(the journey client's); nothing in the services' configuration bounds it",
            ),
        )
    timeout_s = float(knobs["dependency_timeout_s"])
    retries = int(knobs.get("retries", 0))
    backoff = bool(knobs.get("retry_backoff", False))
    propagation = bool(knobs.get("deadline_propagation", False))
    raw_budget = knobs.get("request_budget_s")
    request_budget_s = None if raw_budget is None else float(raw_budget)
    budget_s = request_budget_s  # the entry service's budget for the user's request
    budget_text = "no request budget" if budget_s is None else f"request budget {_ms(budget_s)}"
    lines: list[str] = []
    deadline_s = timeout_s
    worst_s = timeout_s
    for hop in topology.path_to(edge)[1:]:
        deadline_s = timeout_s if budget_s is None else min(timeout_s, budget_s)
        attempts = 1 + max(0, retries)
        worst_s = (
            deadline_s * attempts if budget_s is None else min(deadline_s * attempts, budget_s)
        )
        lines.append(
            f"{hop.name}: {hop.source} waits at most {_ms(deadline_s)} per attempt "
            f"(dependency_timeout_s {timeout_s:g} s, {budget_text}); "
            f"{attempts} attempts (retries {retries}, {'with' if backoff else 'no'} backoff): "
            f"worst wait {_ms(worst_s)}"
        )
        budget_s = request_budget_s
        budget_text = "no request budget" if budget_s is None else f"request budget {_ms(budget_s)}"
        if propagation:
            cut_s = max(0.0, deadline_s - _DEADLINE_MARGIN_MS / 1000)
            if budget_s is None or cut_s < budget_s:
                budget_s = cut_s
                budget_text = (
                    f"budget {_ms(cut_s)}: {hop.source}'s {_ms(deadline_s)} deadline, propagated, "
                    f"less a {_DEADLINE_MARGIN_MS:g} ms margin"
                )
    degrades: bool | None = None
    source, target = topology.edge(edge).source, topology.edge(edge).target
    if {source, target} & {"card", "pay"} and "degrade_card_features" in knobs:
        degrades = bool(knobs["degrade_card_features"])
        lines.append(
            "degrade_card_features on: the card features answer a late card or pay as an "
            "honest degradation (CD001), with what did arrive"
            if degrades
            else "degrade_card_features off: a late card or pay fails the card features, "
            "after the whole wait"
        )
    if target == "pay" and source == "card" and knobs.get("card_points_cache"):
        lines.append("card_points_cache on: card answers with the last points pay gave")
    if {source, target} & {"card", "pay"} and knobs.get("login_fetches_card"):
        lines.append("login_fetches_card on: login waits for card data (the KB Pay path)")
    if knobs.get("circuit_breaker"):
        lines.append(
            f"circuit_breaker on: after {knobs.get('breaker_failures')} failures in a row "
            f"calls fail fast (DP003) for {knobs.get('breaker_reset_s')} s"
        )
    return ConfiguredLimits(
        edge,
        deadline_ms=round(deadline_s * 1000, 3),
        worst_wait_ms=round(worst_s * 1000, 3),
        degrades=degrades,
        lines=tuple(lines),
    )
