"""A small circuit breaker, one per dependency.

Written here rather than taken from a library because the harness needs it
deterministic under test (a monotonic clock, no background tasks, state
readable through the admin API) and async-safe without locks: every state
change happens between awaits on one event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

__all__ = ["CircuitBreaker"]

State = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    """Opens after ``failures_to_open`` consecutive failures; half-opens after ``reset_s``."""

    failures_to_open: int
    reset_s: float
    state: State = "closed"
    consecutive_failures: int = 0
    opened_at_s: float = 0.0

    def allow(self) -> bool:
        """True when a call may go out now."""
        if self.state == "open":
            if time.monotonic() - self.opened_at_s >= self.reset_s:
                self.state = "half_open"
                return True
            return False
        return True

    def record_success(self) -> None:
        self.state = "closed"
        self.consecutive_failures = 0

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        if self.state == "half_open" or self.consecutive_failures >= self.failures_to_open:
            self.state = "open"
            self.opened_at_s = time.monotonic()
