"""Time budgets: how long an inbound request may still spend on its dependencies.

A hardened service gives each inbound request a budget (``request_budget_s``)
and every outbound call a deadline no longer than what is left of it. With
``deadline_propagation`` the caller also sends what it will wait for this
call in ``X-Deadline-Ms``; the callee then plans to answer a little before
that (``DEADLINE_MARGIN_S``), so it can still send a degraded answer instead
of being cut off by its caller's timeout.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from services.kit.profiles import Knobs

__all__ = ["DEADLINE_HEADER", "DEADLINE_MARGIN_S", "RequestBudget"]

#: The header a caller sends with the milliseconds it will wait for the answer.
DEADLINE_HEADER = "X-Deadline-Ms"
#: Time a callee keeps back for answering before its caller's deadline.
DEADLINE_MARGIN_S = 0.05


class RequestBudget:
    """The time an inbound request may still spend on dependencies (None: unbounded)."""

    def __init__(self, budget_s: float | None) -> None:
        self._deadline_s = None if budget_s is None else time.monotonic() + budget_s

    @classmethod
    def for_request(cls, knobs: Knobs, headers: Mapping[str, str] | None = None) -> RequestBudget:
        """The profile's budget, cut to the caller's deadline when propagation is on."""
        budget_s = knobs.request_budget_s
        if knobs.deadline_propagation and headers is not None:
            raw = headers.get(DEADLINE_HEADER.lower()) or headers.get(DEADLINE_HEADER)
            if raw is not None and raw.isdigit():
                caller_s = max(0.0, int(raw) / 1000 - DEADLINE_MARGIN_S)
                budget_s = caller_s if budget_s is None else min(budget_s, caller_s)
        return cls(budget_s)

    def remaining_s(self) -> float | None:
        if self._deadline_s is None:
            return None
        return max(0.0, self._deadline_s - time.monotonic())
