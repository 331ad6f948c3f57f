"""The open-loop engine: sends each arrival at its intended time, whatever the answers do.

One worker is one asyncio event loop. A dispatcher walks the schedule's
arrival times and starts one task per arrival at its intended time; it never
waits for answers, and it never queues: an arrival that finds the in-flight cap
reached is dropped and counted, which makes the run invalid. Latency is taken
from the intended time, so a late send (a busy loop, a slow dispatcher) shows
up as latency and as engine lag rather than disappearing.

Before the start a worker looks the target up and opens the kept-alive
connections its first milliseconds need (:func:`warm_connections`), and for the
run it keeps the collector from walking what existed before it
(:func:`~harness.loadgen.loop.old_objects_frozen`): neither a burst of connects
nor a 12-50 ms collection stalls the arrivals due meanwhile.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping

from harness.loadgen.client import ClientError, HttpClient
from harness.loadgen.loop import old_objects_frozen
from harness.loadgen.plan import LoadPlan, share
from harness.loadgen.recorder import (
    Outcome,
    RawRun,
    RawSecond,
    Recorder,
)
from harness.loadgen.request import RequestContext, RequestTemplate
from harness.loadgen.result import Progress, StopReason
from harness.loadgen.schedule import arrival_times

__all__ = [
    "ProgressCallback",
    "resolve_sessions",
    "run_worker",
    "scheduled_arrivals",
    "users_of_worker",
    "warm_connections",
]

ProgressCallback = Callable[[Progress], None]
"""Called about once a second with the second that just ended."""

START_DELAY_S = 0.05
"""The schedule starts this long after the engine is ready (meanwhile it looks the target up
and opens its first kept-alive connections: :func:`warm_connections`)."""

WARM_CONNECTIONS_S = 0.002
"""A worker opens as many kept-alive connections before the start as arrivals are due in this."""
MAX_WARM_CONNECTIONS = 64
_WARM_MARGIN_S = 0.01  # the warm-up ends this long before the start at the latest

_now = time.monotonic  # the clock of the schedule, lag and latency, on any event loop

_YIELD_EVERY = 64  # when behind, let the sends run after this many starts


def scheduled_arrivals(plan: LoadPlan) -> Iterator[tuple[int, float, int]]:
    """``(index, t_s, template_index)`` for the whole schedule, the same for any worker count."""
    weights = [t.weight for t in plan.templates]
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    last = len(weights) - 1
    mix = random.Random(f"domino-mix-{plan.seed}")
    times = arrival_times(plan.shape, arrivals=plan.arrivals, seed=plan.seed)
    for index, t_s in enumerate(times):
        pick = 0 if last == 0 else min(bisect.bisect_right(cumulative, mix.random() * total), last)
        yield index, t_s, pick


def warm_connections(plan: LoadPlan, workers: int, max_in_flight: int) -> int:
    """How many kept-alive connections a worker opens before the start: its share of
    ``WARM_CONNECTIONS_S`` of arrivals at the schedule's peak rate, plus one, at most
    ``MAX_WARM_CONNECTIONS`` and its in-flight cap (a client with a connection per
    request opens none ahead: :meth:`HttpClient.open_idle`)."""
    peak_per_s = max((rate for _, rate in plan.shape.breakpoints()), default=0.0)
    wanted = math.ceil(peak_per_s / workers * WARM_CONNECTIONS_S) + 1
    return min(wanted, MAX_WARM_CONNECTIONS, max_in_flight)


def users_of_worker(users: int, worker: int, workers: int) -> list[int]:
    """The users worker ``worker`` meets when arrival ``k`` (``k % workers == worker``)
    is user ``k % users``."""
    g = math.gcd(users, workers)
    return [u for u in range(users) if u % g == worker % g]


def resolve_sessions(plan: LoadPlan, worker: int = 0, workers: int = 1) -> dict[int, bytes]:
    """Each of this worker's users' session headers, encoded, resolved before the start."""
    if plan.sessions is None:
        return {}
    return {
        user: _encode_headers(plan.sessions.headers_for(user))
        for user in users_of_worker(plan.sessions.users, worker, workers)
    }


def _encode_headers(headers: Mapping[str, str]) -> bytes:
    out = []
    for key, value in headers.items():
        if not key or ":" in key or any(c in "\r\n" for c in key + value):
            raise ValueError(f"bad header {key!r}: {value!r}")
        out.append(f"{key}: {value}\r\n")
    return "".join(out).encode("latin-1")


def _request_head(plan: LoadPlan, template: RequestTemplate, body: bytes) -> bytes:
    lines = [
        f"{template.method} {plan.path_prefix}{template.path} HTTP/1.1",
        f"Host: {plan.host_header}",
        "User-Agent: domino-loadgen",
    ]
    lines += [f"{k}: {v}" for k, v in template.all_headers()]
    if body or template.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    if plan.connection == "per-request":
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


async def _until(intended: float, spin_s: float = 0.0) -> bool:
    """Wait until ``intended`` (never return before it); False when it was already due.

    Sleeps until ``spin_s`` before it, then spins: the loop's timers wake up to
    about a millisecond late (epoll and libuv count in whole milliseconds), more
    on a busy machine, so a spin of ~2 ms keeps the schedule to well under a
    millisecond while the loop keeps turning (answers are read meanwhile). A
    spin of 0 wakes at the first timer tick at or after ``intended``.
    Every arrival already due (those sharing a millisecond, any the loop is
    behind on) is started at once by the caller, which yields after _YIELD_EVERY.
    """
    delay_s = intended - _now()
    if delay_s <= 0:
        return False
    if delay_s > spin_s:
        await asyncio.sleep(delay_s - spin_s)
    while _now() < intended:  # noqa: ASYNC110 - a spin on purpose: timers are too coarse
        await asyncio.sleep(0 if intended - _now() <= spin_s else intended - _now())
    return True


class _Run:
    """One worker's run on the running event loop."""

    def __init__(
        self,
        plan: LoadPlan,
        *,
        worker: int,
        workers: int,
        t0: float,
        user_headers: Mapping[int, bytes],
    ) -> None:
        self.plan = plan
        self.worker = worker
        self.workers = workers
        self.loop = asyncio.get_running_loop()
        self.t0 = t0
        self.deadline = t0 + plan.max_duration_s
        self.max_attempts = share(plan.max_requests, worker, workers)
        self.max_in_flight = share(plan.max_in_flight, worker, workers)
        self.spin_s = plan.spin_ms / 1000
        self.reserved = 0  # attempts promised so far (sent or about to be)
        self.client = HttpClient(plan.host, plan.port, keep_alive=plan.connection == "keep-alive")
        self.templates = plan.templates
        self.bodies = [t.encoded_body() for t in plan.templates]
        self.heads = [
            _request_head(plan, t, b) for t, b in zip(plan.templates, self.bodies, strict=True)
        ]
        self.factories = [t.header_factory for t in plan.templates]
        self.success = [t.success_statuses for t in plan.templates]
        self.rejection = [t.rejection_statuses for t in plan.templates]
        self.wait_checks = [t.wait_check for t in plan.templates]
        # The client keeps a body only where a wait check will read it: rejections.
        self.body_for = [
            t.rejection_statuses if t.wait_check is not None else frozenset()
            for t in plan.templates
        ]
        self.users = plan.sessions.users if plan.sessions else 0
        self.user_headers = user_headers
        self.retry = plan.retry
        self.rng = random.Random(f"domino-retry-{plan.seed}-{worker}")
        self.rec = Recorder([t.name for t in plan.templates], t0)
        self.tasks: set[asyncio.Task[None]] = set()

    def _build(self, index: int, template: int, attempt: int) -> bytes:
        parts = [self.heads[template]]
        user: int | None = None
        if self.users:
            user = index % self.users
            parts.append(self.user_headers[user])
        factory = self.factories[template]
        if factory is not None:
            ctx = RequestContext(index, attempt, user, self.templates[template].name)
            parts.append(_encode_headers(factory(ctx)))
        parts += [b"\r\n", self.bodies[template]]
        return b"".join(parts)

    async def _action(self, index: int, template: int, intended: float) -> None:
        rec, retry = self.rec, self.retry
        attempt = 1
        attempt_intended = intended
        outcome: Outcome = "client"
        try:
            while True:
                rec.on_attempt_sent(_now(), attempt_intended, template, attempt > 1)
                status: int | None = None
                retry_after_s: float | None = None
                error = ""
                try:
                    data = self._build(index, template, attempt)
                except Exception as exc:  # noqa: BLE001 - a user hook failed; counted, not fatal
                    rec.on_attempt_done(_now(), "client", f"header hook failed: {exc!r}")
                    outcome = "client"
                    break
                try:
                    response = await self.client.request(
                        data, self.plan.timeout_s, body_for=self.body_for[template]
                    )
                except ClientError as exc:
                    outcome = "timeout" if exc.kind == "timeout" else "transport"
                    error = f"{exc.kind}: {exc}"
                else:
                    status = response.status
                    retry_after_s = response.retry_after_s
                    if status in self.success[template]:
                        outcome = "ok"
                    elif status in self.rejection[template]:
                        outcome, error = self._judge_wait(template, status, response.body)
                    else:
                        outcome = "http_error"
                        error = f"HTTP {status} from {self.templates[template].name}"
                now = _now()
                rec.on_attempt_done(now, outcome, error)
                if outcome == "ok" or not retry.should_retry(attempt, status):
                    break
                if self.reserved >= self.max_attempts:
                    break  # the request cap: no more attempts, the last outcome stands
                delay_s = retry.delay_s(attempt, retry_after_s, self.rng)
                attempt_intended = now + delay_s
                if attempt_intended >= self.deadline:
                    break
                self.reserved += 1
                attempt += 1
                if delay_s > 0:
                    await asyncio.sleep(delay_s)
        except asyncio.CancelledError:
            rec.on_action_cancelled(template)
            raise
        rec.on_action_done(_now(), intended, template, outcome, index)

    def _judge_wait(self, template: int, status: int, body: bytes) -> tuple[Outcome, str]:
        """A rejection's outcome: honest unless the template's wait check says otherwise."""
        check = self.wait_checks[template]
        if check is None:
            return "rejected", ""
        name = self.templates[template].name
        try:
            honest = check(status, body)
        except Exception as exc:  # noqa: BLE001 - a user hook failed; counted, not fatal
            return "client", f"wait check failed: {exc!r}"
        if honest:
            return "rejected", ""
        return "false_wait", f"HTTP {status} from {name} is no honest wait: {body[:200]!r}"

    async def _ticker(self, on_second: Callable[[RawSecond], None]) -> None:
        second = 0
        while True:
            await asyncio.sleep(max(0.0, self.t0 + second + 1.02 - _now()))
            on_second(self.rec.raw_second(second))
            second += 1

    async def _warm_up(self) -> None:
        """Before the start: look the target up and open the kept-alive connections the
        first milliseconds need, so the first arrivals do not wait on a thread's lookup
        and a burst of connects (lag and latency are still taken from each intended time;
        a failure here is left to the requests to report): :meth:`HttpClient.open_idle`."""
        count = warm_connections(self.plan, self.workers, self.max_in_flight)
        await self.client.open_idle(count, self.t0 - _now() - _WARM_MARGIN_S)

    async def run(self, on_second: Callable[[RawSecond], None] | None) -> RawRun:
        loop, rec = self.loop, self.rec
        stop_reason: StopReason = "schedule"
        ticker = loop.create_task(self._ticker(on_second)) if on_second else None
        workers, worker = self.workers, self.worker
        started_without_yield = 0
        try:
            await self._warm_up()
            for index, t_s, template in scheduled_arrivals(self.plan):
                if index % workers != worker:
                    continue
                intended = self.t0 + t_s
                if intended >= self.deadline:
                    stop_reason = "time cap"
                    break
                if intended > _now() and await _until(intended, self.spin_s):  # due: no coroutine
                    started_without_yield = 0
                elif started_without_yield >= _YIELD_EVERY:
                    await asyncio.sleep(0)
                    started_without_yield = 0
                if self.reserved >= self.max_attempts:  # after the wait: retries spend it too
                    stop_reason = "request cap"
                    break
                rec.on_intended(intended)
                if rec.in_flight >= self.max_in_flight:
                    rec.on_dropped(_now())
                    continue
                self.reserved += 1
                rec.on_action_start(template)
                task = loop.create_task(self._action(index, template, intended))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                started_without_yield += 1
            if self.tasks:
                await asyncio.wait(set(self.tasks), timeout=max(0.0, self.deadline - _now()))
            if self.tasks:
                stop_reason = "time cap"
                for task in list(self.tasks):
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
        finally:
            if ticker is not None:
                ticker.cancel()
            self.client.close()
        return rec.snapshot(stop_reason, _now() - self.t0)


async def run_worker(
    plan: LoadPlan,
    *,
    worker: int = 0,
    workers: int = 1,
    start_at: float | None = None,
    user_headers: Mapping[int, bytes] | None = None,
    on_second: Callable[[RawSecond], None] | None = None,
) -> RawRun:
    """Run worker ``worker`` of ``workers`` on the running loop; ``start_at`` is the
    schedule's start in ``time.monotonic()`` terms (what ``loop.time()`` is on asyncio's
    own loop; uvloop's counts in whole milliseconds, so the engine reads the clock itself)."""
    headers = resolve_sessions(plan, worker, workers) if user_headers is None else user_headers
    t0 = _now() + START_DELAY_S if start_at is None else start_at
    with old_objects_frozen():
        return await _Run(plan, worker=worker, workers=workers, t0=t0, user_headers=headers).run(
            on_second
        )
