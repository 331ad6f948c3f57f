"""Observation: virtual users taking journeys continuously, every call recorded.

Each :class:`JourneyLoad` becomes ``users`` threads; each thread logs in once,
then loops: take the journey, record what the user saw, think, repeat. Loops
are bounded twice — by a stop event the run sets, and by ``max_calls`` per
user — and every call has a client timeout, so nothing runs on by itself.

A call is recorded when it is answered. One still waiting when observation
stops (a client timeout bounds each read, not a slow drip of an answer) is
recorded then, as unanswered: a failure with the adapter's timeout code and
the time it had waited, never silently dropped — a hang is evidence too.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from harness.errors import SessionError
from harness.infra.network_safety import check_target
from harness.journeys import JourneyClient
from harness.model.incident import JourneyLoad
from harness.model.outcomes import Observation
from harness.stack import Stack

__all__ = ["Observer", "TrafficStats"]


@dataclass(frozen=True, slots=True)
class TrafficStats:
    """Counts so far, for progress lines."""

    calls: int
    errors: int
    in_flight: int


class Observer:
    """Drives journeys against a stack until stopped; thread-safe record of observations."""

    def __init__(
        self,
        stack: Stack,
        loads: Iterable[JourneyLoad],
        *,
        client_timeout_s: float,
        max_calls_per_user: int = 10_000,
        stop_grace_s: float = 5.0,
    ) -> None:
        self._stack = stack
        check_target(stack.entry_url, extra_allowed=stack.allowed_hosts)
        # The adapter's users, taken in turn (the bank: its seeded virtual customers).
        self._users = stack.adapter.users(stack.topology)
        self._loads = tuple(loads)
        self._timeout_s = client_timeout_s
        self._grace_s = stop_grace_s
        self._max_calls = max_calls_per_user
        self._journeys = {j.name: j for j in stack.topology.journeys}
        self.journeys = stack.topology.journeys
        self.entry_service = stack.topology.entry_service
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._observations: list[tuple[bool, Observation]] = []
        self._threads: list[threading.Thread] = []
        self._clients: list[JourneyClient] = []
        self._in_flight = 0
        # Calls waiting for their answer: (journey, at_s, background) per user thread.
        self._waiting: dict[int, tuple[str, float, bool]] = {}
        self._closed = False
        self._started: Counter[str] = Counter()
        self.origin_s = time.monotonic()

    def _client(self) -> JourneyClient:
        return self._stack.client(user=next(self._users), timeout_s=self._timeout_s)

    def log_in(self, stop: threading.Event | None = None) -> None:
        """Log every virtual user in, if not yet done (:meth:`start` does it otherwise):
        before the run's clock starts, while the stack settles (harness.experiment.run).
        ``stop`` set (from another thread) ends it at the next login, with SessionError."""
        if self._clients:
            return
        clients: list[JourneyClient] = []

        def one_more() -> None:
            if stop is not None and stop.is_set():
                raise SessionError("the virtual users: stopped while logging in")
            clients.append(self._client())
            clients[-1].token()

        try:
            for load in self._loads:
                for _ in range(load.users):
                    one_more()
        except BaseException:
            for client in clients:
                client.close()
            raise
        self._clients = clients

    def start(self) -> None:
        """Log every virtual user in (unless :meth:`log_in` has), then start them all (the
        clock starts now)."""
        self.log_in()
        self.origin_s = time.monotonic()
        clients = iter(self._clients)
        for load in self._loads:
            for user in range(load.users):
                client = next(clients)
                client.rebase(self.origin_s)
                thread = threading.Thread(
                    target=self._user_loop,
                    args=(load, client),
                    name=f"domino-{load.journey}-{user}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()

    def add_load(self, load: JourneyLoad) -> threading.Event:
        """Start more users now (a surge); setting the returned event stops just them."""
        stop = threading.Event()
        started = []
        for user in range(load.users):
            client = self._client()
            client.token()
            client.rebase(self.origin_s)
            self._clients.append(client)
            thread = threading.Thread(
                target=self._user_loop,
                args=(load, client, stop),
                name=f"domino-surge-{load.journey}-{user}",
                daemon=True,
            )
            started.append(thread)
        self._threads += started
        for thread in started:
            thread.start()
        return stop

    def now_s(self) -> float:
        return time.monotonic() - self.origin_s

    def _user_loop(
        self, load: JourneyLoad, client: JourneyClient, own_stop: threading.Event | None = None
    ) -> None:
        journey = self._journeys[load.journey]
        think_s = load.think_ms / 1000
        stop = own_stop or self._stop
        for _ in range(self._max_calls):
            if stop.is_set() or self._stop.is_set():
                return
            me = threading.get_ident()
            with self._lock:
                self._in_flight += 1
                self._started[journey.name] += 1
                self._waiting[me] = (journey.name, self.now_s(), load.background)
            try:
                observation = client.run(journey)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._waiting.pop(me, None)
            with self._lock:
                if self._closed:  # recorded as unanswered when observation stopped
                    return
                self._observations.append((load.background, observation))
            if think_s and stop.wait(think_s):
                return

    def stop(self) -> None:
        """Stop every user and wait for calls in flight (each read bounded by the client
        timeout); a call still waiting after that is recorded as unanswered."""
        self._stop.set()
        deadline = time.monotonic() + self._timeout_s + self._grace_s
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        with self._lock:
            now_s = self.now_s()
            code = self._stack.adapter.timeout_code
            for journey, at_s, background in self._waiting.values():
                waited_ms = max(0.0, now_s - at_s) * 1000.0
                unanswered = Observation(
                    journey, at_s, waited_ms, False, None, code, answered=False
                )
                self._observations.append((background, unanswered))
            self._waiting.clear()
            self._closed = True
        for client in self._clients:
            client.close()

    def calls_started(self) -> dict[str, int]:
        """Per journey: calls started so far (two reads bracket a window's calls)."""
        with self._lock:
            return dict(self._started)

    def stats(self) -> TrafficStats:
        with self._lock:
            calls = len(self._observations)
            errors = sum(1 for _, o in self._observations if not o.ok)
            return TrafficStats(calls, errors, self._in_flight)

    def observations(self, *, background: bool | None = None) -> list[Observation]:
        """Everything recorded so far; ``background`` filters by kind of traffic."""
        with self._lock:
            return [o for bg, o in self._observations if background is None or bg == background]
