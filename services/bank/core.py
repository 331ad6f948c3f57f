"""The core-banking ledger's capacity: a fixed pool of connections, a fixed service time.

Balance inquiry, transfers, exchange deposits and withdrawals, and FX orders
and payments are each one core transaction: it holds one of
``core_connections`` connections for ``core_service_ms``. So bank completes
at most ``core_connections * 1000 / core_service_ms`` transactions per
second (4 x 40 ms: **100 per second**), the same on every machine, far below
what this machine can send it. (Login, the card tab, savings and remittances
are not core transactions here.) A replayed Idempotency-Key is answered from
inside a core transaction too, so under flow control a retry may be told to
wait like any other request. That is the capacity a surge overloads; it
belongs to the system, not to the CPU running it.

Without flow control (``core_flow_control`` off, the fragile profile) a
transaction that finds every connection busy waits in one first-come queue
of any length: under a surge the queue grows, every request waits behind it
(balance inquiry too), and work whose client already gave up is still done
when its turn comes — which is what lets client retries keep bank
overloaded after the surge has ended.

With flow control (hardened) at most ``core_queue_limit`` transactions wait;
one more gets an immediate 429 OV001 with its position and a Retry-After,
and balance inquiry (priority) is served before any waiting write and is
never refused for the writes' queue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from collections.abc import AsyncIterator

from services.kit.errors import CauseLink, ServiceError

__all__ = ["CoreLedger"]

_WINDOW_S = 1.0


class CoreLedger:
    """The bounded pool of core-banking connections; counts what it did for ``/admin/stats``."""

    def __init__(
        self,
        *,
        connections: int,
        service_ms: float,
        flow_control: bool,
        queue_limit: int,
        service: str = "bank",
    ) -> None:
        self.connections = max(1, connections)
        self.service_s = max(0.0, service_ms) / 1000
        self.flow_control = flow_control
        self.queue_limit = max(0, queue_limit)
        self._service = service
        self._busy = 0
        self._waiting: dict[bool, collections.deque[asyncio.Future[None]]] = {
            True: collections.deque(),
            False: collections.deque(),
        }
        self._done_at: collections.deque[float] = collections.deque()
        self.completed = 0
        self.refused = 0
        self.max_waiting = 0

    @property
    def capacity_per_s(self) -> float:
        """Transactions per second the pool completes when every connection is busy."""
        if self.service_s == 0:
            return math.inf
        return self.connections / self.service_s

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def _refusal(self) -> ServiceError:
        now_s = time.monotonic()
        while self._done_at and now_s - self._done_at[0] > _WINDOW_S:
            self._done_at.popleft()
        position = self.waiting + 1
        throughput_per_s = max(1.0, min(float(len(self._done_at)), self.capacity_per_s))
        retry_after_s = min(30, max(1, math.ceil(position / throughput_per_s)))
        self.refused += 1
        return ServiceError(
            "OV001",
            [
                CauseLink(
                    self._service,
                    f"client->{self._service}",
                    "overload",
                    f"{self.waiting} core transactions waiting, limit {self.queue_limit}",
                )
            ],
            headers={"Retry-After": str(retry_after_s)},
            extra={"waiting": {"position": position, "retry_after_s": retry_after_s}},
        )

    async def _acquire(self, priority: bool) -> None:
        if self._busy < self.connections and not self.waiting:
            self._busy += 1
            return
        lane = priority and self.flow_control
        if self.flow_control and not lane and len(self._waiting[False]) >= self.queue_limit:
            raise self._refusal()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[lane].append(waiter)
        self.max_waiting = max(self.max_waiting, self.waiting)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a connection just as it was cancelled
            else:
                with contextlib.suppress(ValueError):
                    self._waiting[lane].remove(waiter)
            raise

    def _release(self) -> None:
        for lane in (True, False):
            queue = self._waiting[lane]
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the connection passes straight to it
                    return
        self._busy -= 1

    @contextlib.asynccontextmanager
    async def transaction(self, *, priority: bool = False) -> AsyncIterator[None]:
        """Hold one core connection for the service time, then run the body on it."""
        await self._acquire(priority)
        try:
            if self.service_s:
                await asyncio.sleep(self.service_s)
            yield
        finally:
            self.completed += 1
            self._done_at.append(time.monotonic())
            if len(self._done_at) > 4096:
                self._done_at.popleft()
            self._release()

    def snapshot(self) -> dict[str, float | int | bool]:
        return {
            "connections": self.connections,
            "service_ms": round(self.service_s * 1000, 3),
            "capacity_per_s": round(self.capacity_per_s, 1),
            "flow_control": self.flow_control,
            "queue_limit": self.queue_limit,
            "busy": self._busy,
            "waiting": self.waiting,
            "max_waiting": self.max_waiting,
            "completed": self.completed,
            "refused": self.refused,
        }
