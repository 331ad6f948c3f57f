"""Outbound calls to a dependency, with the profile's deadlines, retries and breaker.

Every failure becomes a :class:`ServiceError` whose cause chain says where
it started: a timeout or refused connection on this service's edge starts a
new chain; an error answer from the dependency extends the dependency's own
chain with this hop.

What the knobs change:

- ``dependency_timeout_s``: a deadline for the whole call (connect, send,
  wait, read), enforced with ``asyncio.timeout`` because httpx's own timeouts
  apply per read and let a trickling answer run on;
- ``request_budget_s`` / ``deadline_propagation``: no call outlives the
  inbound request's budget, and the callee is told how long it has;
- ``retries`` with ``retry_backoff``: only calls safe to repeat are retried
  (GET, or any call carrying an Idempotency-Key), never after a 4xx;
  with backoff, full jitter and Retry-After (when it fits in the budget);
- ``circuit_breaker``: after consecutive failures calls fail fast (DP003).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import httpx

from services.kit.breaker import CircuitBreaker
from services.kit.budget import DEADLINE_HEADER, RequestBudget
from services.kit.config import Dependency
from services.kit.errors import CauseLink, ServiceError
from services.kit.profiles import Knobs

__all__ = ["DependencyClient", "RequestBudget"]

#: Below this, an attempt is not worth making: it could not complete on loopback.
_MIN_ATTEMPT_S = 0.02
#: Answers a dependency gives on purpose; retrying them at once cannot help.
_DELIBERATE_CODES = frozenset({"CD001", "DP003", "OV001", "OV002", "FS001", "MT001"})
#: Codes a dependency may send that keep their meaning one hop up.
_KEPT_CODES = frozenset({"NT004", "DP001", "DP003", "CD001", "OV001", "OV002", "FS001", "MT001"})


@dataclass(frozen=True, slots=True)
class _Request:
    """What one attempt sends."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    params: dict[str, str] | None


@dataclass
class _Failure:
    """A failed attempt: the error, whether repeating it may help, and Retry-After."""

    error: ServiceError
    retryable: bool
    retry_after_s: float | None = None


class DependencyClient:
    """Calls one dependency on behalf of service ``owner``."""

    def __init__(
        self, owner: str, dependency: Dependency, knobs: Knobs, http: httpx.AsyncClient
    ) -> None:
        self.owner = owner
        self.dependency = dependency
        self.knobs = knobs
        self._http = http
        self.breaker = CircuitBreaker(knobs.breaker_failures, knobs.breaker_reset_s)
        self.calls = 0
        self.failures = 0
        self.fast_failures = 0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def edge(self) -> str:
        return self.dependency.edge

    def link(self, kind: str, detail: str = "") -> CauseLink:
        """A cause link for something this service saw on this edge."""
        return CauseLink(self.owner, self.dependency.edge, kind, detail)

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        budget: RequestBudget | None = None,
        idempotency_key: str | None = None,
        attempts: int | None = None,
    ) -> Any:
        """Make the call and return the JSON answer; raise ServiceError on any failure."""
        knobs = self.knobs
        safe = method.upper() in ("GET", "HEAD") or idempotency_key is not None
        total = attempts if attempts is not None else 1 + max(0, knobs.retries)
        if not safe:
            total = 1
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        last: ServiceError | None = None
        for attempt in range(total):
            timeout_s = knobs.dependency_timeout_s
            remaining_s = budget.remaining_s() if budget is not None else None
            if remaining_s is not None:
                if remaining_s < _MIN_ATTEMPT_S:
                    self.fast_failures += 1
                    raise last or ServiceError(
                        "NT004", [self.link("timeout", "request budget spent before the call")]
                    )
                timeout_s = min(timeout_s, remaining_s)
            if knobs.circuit_breaker and not self.breaker.allow():
                self.fast_failures += 1
                raise ServiceError(
                    "DP003",
                    [self.link("breaker_open", f"{self.breaker.consecutive_failures} failures")],
                )
            if knobs.deadline_propagation:
                headers[DEADLINE_HEADER] = str(int(timeout_s * 1000))
            sent = _Request(method, path, dict(headers), json, params)
            failure = await self._attempt(sent, timeout_s)
            if not isinstance(failure, _Failure):
                return failure
            last = failure.error
            if not failure.retryable or attempt + 1 >= total:
                break
            wait_s = self._backoff_s(attempt, failure.retry_after_s)
            remaining_s = budget.remaining_s() if budget is not None else None
            if remaining_s is not None and wait_s + _MIN_ATTEMPT_S > remaining_s:
                break  # no time left for another attempt: fail now rather than at the deadline
            await asyncio.sleep(wait_s)
        assert last is not None
        raise last

    async def _attempt(self, sent: _Request, timeout_s: float) -> Any:
        """One call: the JSON answer, or a :class:`_Failure`; 4xx raise at once."""
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        outcome: Any = None
        try:
            outcome = await self._exchange(sent, timeout_s)
        finally:
            self.in_flight -= 1
            # Cancelled calls count as failures too, so a half-open probe is never left hanging.
            failed = outcome is None or isinstance(outcome, _Failure)
            if failed:
                self.failures += 1
            if self.knobs.circuit_breaker:
                if failed and not (isinstance(outcome, _Failure) and not outcome.retryable):
                    self.breaker.record_failure()
                else:
                    self.breaker.record_success()
        return outcome

    async def _exchange(self, sent: _Request, timeout_s: float) -> Any:
        url = self.dependency.base_url + sent.path
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._http.request(
                    sent.method,
                    url,
                    headers=sent.headers,
                    json=sent.json,
                    params=sent.params,
                    timeout=httpx.Timeout(timeout_s, pool=timeout_s),
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            kind = "pool_exhausted" if isinstance(exc, httpx.PoolTimeout) else "timeout"
            detail = f"no answer within {timeout_s * 1000:.0f} ms"
            return _Failure(ServiceError("NT004", [self.link(kind, detail)]), retryable=True)
        except httpx.TransportError as exc:
            kind = "refused" if isinstance(exc, httpx.ConnectError) else "reset"
            detail = type(exc).__name__
            return _Failure(ServiceError("DP001", [self.link(kind, detail)]), retryable=True)
        if response.status_code >= 500 or response.status_code == 429:
            error = _passthrough(response, self.link("error", f"HTTP {response.status_code}"))
            # A deliberate refusal (maintenance, suspension, overload, an open breaker, a
            # degraded feature) will not change in milliseconds: repeating it only adds load.
            retryable = error.code not in _DELIBERATE_CODES
            return _Failure(error, retryable, _retry_after_s(response))
        if response.is_error:  # 4xx: the request's fault, not the dependency's; no retry
            return _Failure(
                _passthrough(response, self.link("error", f"HTTP {response.status_code}")),
                retryable=False,
            )
        try:
            return response.json()
        except ValueError:
            error = ServiceError("DP002", [self.link("error", "answer is not JSON")])
            return _Failure(error, retryable=False)

    def _backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        if not self.knobs.retry_backoff:
            return 0.0
        base_s = self.knobs.retry_backoff_base_s * (2**attempt)
        wait_s = random.uniform(0, base_s)  # full jitter
        return max(wait_s, retry_after_s or 0.0)

    def snapshot(self) -> dict[str, Any]:
        return {
            "edge": self.dependency.edge,
            "calls": self.calls,
            "failures": self.failures,
            "fast_failures": self.fast_failures,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "breaker": self.breaker.state,
            "breaker_opened": self.breaker.times_opened,
        }


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _passthrough(response: httpx.Response, link: CauseLink) -> ServiceError:
    """The dependency's error, with its cause chain extended by this hop."""
    extra: dict[str, Any] = {}
    try:
        error = response.json()["error"]
        code = str(error["code"])
        chain = [CauseLink(**c) for c in error.get("cause", [])]
        extra = {k: v for k, v in error.items() if k not in ("code", "message", "cause")}
    except (ValueError, KeyError, TypeError):
        code, chain = "DP002", []
    if not chain:
        chain = [CauseLink(link.service, link.edge, f"http_{response.status_code}", link.detail)]
    else:
        chain.append(link)
    headers = {}
    if "retry-after" in response.headers:
        headers["Retry-After"] = response.headers["retry-after"]
    if response.status_code < 500 and code.startswith(("AU", "RQ", "TX")):
        return ServiceError(code, chain, status=response.status_code, extra=extra)
    if code not in _KEPT_CODES:
        code = "DP002"
    return ServiceError(code, chain, headers=headers, extra=extra)
