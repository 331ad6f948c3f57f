"""Admission control (flow control, 유량제어): serve what fits, tell the rest to wait.

K Bank's answer to surges was to hold some users back deliberately so the
service stayed up for the rest. Here a request is admitted while

- fewer than ``capacity`` requests are in flight (``capacity - priority_reserve``
  for non-priority ones, so balance inquiry always finds room), and
- for non-priority requests, the event loop is keeping up: its *standing* lag
  (how late a timer fires, at least, over the last quarter second) is under
  ``max_lag_ms``. On one event loop, CPU saturation shows up as lag before it
  shows up as in-flight requests, because queued requests wait for the loop
  before any middleware sees them. Taking the minimum over a window (as CoDel
  does with queueing delay) lets a burst that drains by itself through, and
  holds requests only while the loop stays behind.

Everything else gets an immediate 429 OV001 with ``waiting: {position,
retry_after_s}`` and a ``Retry-After`` header, instead of a hang. The
position is the number of requests held in the last second (the queue a
returning client joins); Retry-After is that queue divided by the throughput
of the last second, between 1 and 30 s.

Written here rather than taken from a library: the rules above are small,
and the harness needs their state (in flight, lag, held) in ``/admin/stats``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.errors import CauseLink, ServiceError
from services.kit.respond import send_error

__all__ = ["AdmissionController", "AdmissionMiddleware", "Held"]

_WINDOW_S = 1.0
_LAG_TICK_S = 0.025
#: Lag must stay above the limit this long (every sample in it) before requests are held.
_LAG_WINDOW_S = 0.25


@dataclass(frozen=True, slots=True)
class Held:
    """A request that was not admitted: where it stands and when to come back."""

    position: int
    retry_after_s: int
    reason: str


class AdmissionController:
    """Decides, per request, admit or hold; counts what it did for the admin stats."""

    def __init__(
        self,
        *,
        capacity: int,
        priority_reserve: int,
        max_lag_ms: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = max(1, capacity)
        self.priority_reserve = min(max(0, priority_reserve), self.capacity - 1)
        self.max_lag_ms = max_lag_ms
        self.clock = clock
        self.in_flight = 0
        self.max_in_flight = 0
        self.lag_ms = 0.0
        self.admitted = 0
        self.held = 0
        self._held_at: deque[float] = deque()
        self._done_at: deque[float] = deque()
        self._lag_samples: deque[tuple[float, float]] = deque()

    def _trim(self, now_s: float) -> None:
        for times in (self._held_at, self._done_at):
            while times and now_s - times[0] > _WINDOW_S:
                times.popleft()

    def try_admit(self, *, priority: bool) -> Held | None:
        """None when admitted (call :meth:`release` when done); a Held answer otherwise."""
        limit = self.capacity if priority else self.capacity - self.priority_reserve
        reason = ""
        if self.in_flight >= limit:
            reason = f"{self.in_flight} requests in flight, limit {limit}"
        elif not priority and self.lag_ms > self.max_lag_ms:
            reason = f"event loop {self.lag_ms:.0f} ms behind, limit {self.max_lag_ms:.0f} ms"
        if not reason:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.admitted += 1
            return None
        now_s = self.clock()
        self._trim(now_s)
        self._held_at.append(now_s)
        self.held += 1
        position = len(self._held_at)
        throughput_per_s = max(1, len(self._done_at))
        retry_after_s = min(30, max(1, math.ceil(position / throughput_per_s)))
        return Held(position, retry_after_s, reason)

    def release(self) -> None:
        self.in_flight -= 1
        now_s = self.clock()
        self._done_at.append(now_s)
        if len(self._done_at) > 4096:
            self._trim(now_s)

    def record_lag(self, late_ms: float, at_s: float) -> None:
        """One lag sample; ``lag_ms`` becomes the least lag seen over the last window."""
        samples = self._lag_samples
        samples.append((at_s, late_ms))
        while len(samples) > 2 and at_s - samples[1][0] >= _LAG_WINDOW_S:
            samples.popleft()
        self.lag_ms = min(lag for _, lag in samples)

    async def watch_lag(self) -> None:
        """Measure event-loop lag forever (run as a task; cancel it at shutdown)."""
        while True:
            started_s = time.monotonic()
            await asyncio.sleep(_LAG_TICK_S)
            now_s = time.monotonic()
            self.record_lag(max(0.0, (now_s - started_s - _LAG_TICK_S) * 1000), now_s)

    def snapshot(self) -> dict[str, float | int]:
        return {
            "capacity": self.capacity,
            "priority_reserve": self.priority_reserve,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "lag_ms": round(self.lag_ms, 1),
            "max_lag_ms": self.max_lag_ms,
            "admitted": self.admitted,
            "held": self.held,
        }


class AdmissionMiddleware:
    """Applies an :class:`AdmissionController` to every customer request (pure ASGI).

    ``priority`` lists ``(method, path)`` pairs that may use the reserved
    capacity; ``exempt_prefixes`` (health, admin, docs) are never held.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        controller: AdmissionController,
        service: str,
        entry_edge: str,
        priority: Collection[tuple[str, str]],
        exempt_prefixes: tuple[str, ...] = ("/health", "/admin", "/openapi", "/docs", "/error"),
    ) -> None:
        self.app = app
        self._controller = controller
        self._service = service
        self._edge = entry_edge
        self._priority = frozenset(priority)
        self._exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(self._exempt):
            await self.app(scope, receive, send)
            return
        priority = (scope["method"], path) in self._priority
        held = self._controller.try_admit(priority=priority)
        if held is not None:
            error = ServiceError(
                "OV001",
                [CauseLink(self._service, self._edge, "overload", held.reason)],
                headers={"Retry-After": str(held.retry_after_s)},
                extra={"waiting": {"position": held.position, "retry_after_s": held.retry_after_s}},
            )
            await send_error(error, self._service, scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._controller.release()
