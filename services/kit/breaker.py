"""A small circuit breaker, one per dependency.

Written here rather than taken from a library because the harness needs it
deterministic under test (an injectable monotonic clock, no background
tasks, state readable through the admin API) and async-safe without locks:
every state change happens between awaits on one event loop.

closed --(failures_to_open consecutive failures)--> open
open --(reset_s passed)--> half_open: exactly one probe call goes out
half_open --probe succeeds--> closed;  --probe fails--> open again
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CircuitBreaker"]

State = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    """Opens after ``failures_to_open`` consecutive failures; probes after ``reset_s``."""

    failures_to_open: int
    reset_s: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    state: State = "closed"
    consecutive_failures: int = 0
    opened_at_s: float = 0.0
    probe_in_flight: bool = False
    probe_started_s: float = 0.0
    times_opened: int = 0

    def allow(self) -> bool:
        """True when a call may go out now (in half-open, only the one probe)."""
        if self.state == "open":
            if self.clock() - self.opened_at_s < self.reset_s:
                return False
            self.state = "half_open"
            self.probe_in_flight = False
        if self.state == "half_open":
            # A probe whose outcome was never recorded (its caller was cancelled) must not
            # hold the breaker half-open forever: after reset_s another probe may go.
            if self.probe_in_flight and self.clock() - self.probe_started_s < self.reset_s:
                return False
            self.probe_in_flight = True
            self.probe_started_s = self.clock()
        return True

    def record_success(self) -> None:
        self.state = "closed"
        self.consecutive_failures = 0
        self.probe_in_flight = False

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        if self.state == "half_open" or self.consecutive_failures >= self.failures_to_open:
            if self.state != "open":
                self.times_opened += 1
            self.state = "open"
            self.opened_at_s = self.clock()
            self.probe_in_flight = False
