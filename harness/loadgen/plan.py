"""A load plan: target, mix, schedule, client behaviour and the mandatory bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from harness.errors import LoadPlanError
from harness.infra.network_safety import check_target
from harness.loadgen.request import RequestTemplate, Sessions
from harness.loadgen.retry import RetryPolicy
from harness.loadgen.schedule import Arrivals, Shape

__all__ = ["Connection", "LoadPlan", "share"]

Connection = Literal["keep-alive", "per-request"]

MAX_WORKERS = 64
#: The longest spin before an arrival (``LoadPlan.spin_ms``): the timers' own error is ~1 ms.
MAX_SPIN_MS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadPlan:
    """Everything one run needs. ``max_requests`` and ``max_duration_s`` are mandatory.

    - ``url``: ``http://HOST:PORT`` (an optional path prefix is put before every
      template's path); must be loopback or explicitly allowed
      (:func:`harness.network_safety.check_target`, with ``allowed_hosts``).
    - ``max_requests``: a hard bound on HTTP attempts, retries included; the
      run stops (``stop_reason="request cap"``) when it is spent.
    - ``max_duration_s``: a hard bound on the run from the schedule's start;
      nothing is sent after it and whatever is still in flight is cancelled.
    - ``max_in_flight``: actions in flight at once; an arrival that finds the cap
      reached is dropped (never queued, which would hide latency) and the run is
      invalid.
    - ``lag_bound_p99_ms``: the run is invalid when the engine's p99 lag (actual
      minus intended send) exceeds it.
    - ``spin_ms``: how long before each arrival the dispatcher stops sleeping
      and spins (turning the event loop) until it is due: sub-millisecond
      precision on a core of the engine's own, paid for with that core. 0 (the
      default) sleeps until the arrival: the loop's timers may wake up to about
      a millisecond late, and the CPU stays free for the system under test when
      it shares the machine (a flood).
    - ``workers``: processes, the schedule's arrivals dealt out in turn (arrival
      ``k`` to worker ``k % workers``); the caps are split between them.
    """

    url: str
    templates: tuple[RequestTemplate, ...]
    shape: Shape
    max_requests: int
    max_duration_s: float
    arrivals: Arrivals = "poisson"
    seed: int = 0
    max_in_flight: int = 1000
    timeout_s: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connection: Connection = "keep-alive"
    sessions: Sessions | None = None
    workers: int = 1
    lag_bound_p99_ms: float = 50.0
    spin_ms: float = 0.0
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`LoadPlanError` (or ``UnsafeTargetError``) unless runnable."""
        self._check_target()
        self._check_caps()
        self._check_rest()

    def _check_target(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise LoadPlanError(f"url must be http://HOST:PORT[/prefix], got {self.url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise LoadPlanError(
                f"url must not hold credentials, a query or a fragment: {self.url!r}"
            )
        try:
            _ = parts.port
        except ValueError as exc:
            raise LoadPlanError(f"url has a bad port: {self.url!r}") from exc
        check_target(self.url, extra_allowed=self.allowed_hosts)

    def _check_caps(self) -> None:
        if not isinstance(self.templates, tuple) or not self.templates:
            raise LoadPlanError("templates must be a non-empty tuple of RequestTemplate")
        names = [t.name for t in self.templates]
        if len(set(names)) != len(names):
            raise LoadPlanError(f"template names must be unique, got {names}")
        if not isinstance(self.shape, Shape):
            raise LoadPlanError(f"shape must be a schedule shape, got {type(self.shape).__name__}")
        if isinstance(self.max_requests, bool) or not isinstance(self.max_requests, int):
            raise LoadPlanError("max_requests (the request cap) is mandatory: give an int >= 1")
        if self.max_requests < 1:
            raise LoadPlanError(f"max_requests must be >= 1, got {self.max_requests}")
        if not isinstance(self.max_duration_s, int | float) or not (
            math.isfinite(self.max_duration_s) and self.max_duration_s > 0
        ):
            raise LoadPlanError(
                "max_duration_s (the time cap) is mandatory: give a finite number of seconds > 0"
            )
        if self.max_in_flight < 1:
            raise LoadPlanError(f"max_in_flight must be >= 1, got {self.max_in_flight}")

    def _check_rest(self) -> None:
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise LoadPlanError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.connection not in ("keep-alive", "per-request"):
            raise LoadPlanError(
                f"connection must be 'keep-alive' or 'per-request', got {self.connection!r}"
            )
        if not 1 <= self.workers <= MAX_WORKERS:
            raise LoadPlanError(f"workers must be 1..{MAX_WORKERS}, got {self.workers}")
        if self.workers > self.max_in_flight or self.workers > self.max_requests:
            raise LoadPlanError("each worker needs a share of max_in_flight and max_requests")
        if not (math.isfinite(self.lag_bound_p99_ms) and self.lag_bound_p99_ms > 0):
            raise LoadPlanError(f"lag_bound_p99_ms must be > 0, got {self.lag_bound_p99_ms}")
        if not (math.isfinite(self.spin_ms) and 0 <= self.spin_ms <= MAX_SPIN_MS):
            raise LoadPlanError(f"spin_ms must be 0..{MAX_SPIN_MS:g}, got {self.spin_ms}")
        if self.arrivals not in ("poisson", "even"):
            raise LoadPlanError(f"arrivals must be 'poisson' or 'even', got {self.arrivals!r}")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def host_header(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path_prefix(self) -> str:
        return urlsplit(self.url).path.rstrip("/")


def share(total: int, worker: int, workers: int) -> int:
    """Worker ``worker``'s share of ``total`` when dealt out evenly."""
    return total // workers + (1 if worker < total % workers else 0)
