"""Outbound calls to a dependency, with the profile's timeouts, retries and breaker.

Every failure becomes a :class:`ServiceError` whose cause chain says where
it started: a timeout or refused connection on this service's edge starts a
new chain; an error answer from the dependency extends the dependency's own
chain with this hop.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from services.kit.breaker import CircuitBreaker
from services.kit.config import Dependency
from services.kit.errors import CauseLink, ServiceError
from services.kit.profiles import Knobs

__all__ = ["DependencyClient", "RequestBudget"]


class RequestBudget:
    """The time an inbound request may still spend on dependencies (None: unbounded)."""

    def __init__(self, budget_s: float | None) -> None:
        self._deadline = None if budget_s is None else time.monotonic() + budget_s

    def remaining_s(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())


class DependencyClient:
    """Calls one dependency on behalf of service ``owner``."""

    def __init__(self, owner: str, dependency: Dependency, knobs: Knobs, http: httpx.AsyncClient):
        self.owner = owner
        self.dependency = dependency
        self.knobs = knobs
        self._http = http
        self.breaker = CircuitBreaker(knobs.breaker_failures, knobs.breaker_reset_s)
        self.calls = 0
        self.failures = 0

    def _link(self, kind: str, detail: str = "") -> CauseLink:
        return CauseLink(self.owner, self.dependency.edge, kind, detail)

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        budget: RequestBudget | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Make the call and return the JSON answer; raise ServiceError on any failure."""
        knobs = self.knobs
        attempts = 1 + max(0, knobs.retries)
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        last: ServiceError | None = None
        for attempt in range(attempts):
            if knobs.circuit_breaker and not self.breaker.allow():
                raise ServiceError("DP003", [self._link("breaker_open")])
            timeout_s = knobs.dependency_timeout_s
            remaining = budget.remaining_s() if budget is not None else None
            if remaining is not None:
                if remaining <= 0.01:
                    raise last or ServiceError(
                        "NT004", [self._link("timeout", "request budget spent")]
                    )
                timeout_s = min(timeout_s, remaining)
            self.calls += 1
            outcome, retry_after_s = await self._attempt(method, path, headers, json, timeout_s)
            if not isinstance(outcome, ServiceError):
                return outcome
            last = outcome
            self.failures += 1
            if knobs.circuit_breaker:
                self.breaker.record_failure()
            if attempt + 1 < attempts:
                await asyncio.sleep(self._backoff_s(attempt, retry_after_s))
        assert last is not None
        raise last

    async def _attempt(
        self, method: str, path: str, headers: dict[str, str], json: Any, timeout_s: float
    ) -> tuple[Any, float | None]:
        """One call: (the JSON answer, None) or (a retryable ServiceError, Retry-After)."""
        try:
            response = await self._http.request(
                method,
                self.dependency.base_url + path,
                headers=headers,
                json=json,
                timeout=httpx.Timeout(timeout_s, pool=timeout_s),
            )
        except httpx.TimeoutException as exc:
            return ServiceError("NT004", [self._link("timeout", type(exc).__name__)]), None
        except httpx.TransportError as exc:
            kind = "refused" if isinstance(exc, httpx.ConnectError) else "reset"
            return ServiceError("DP001", [self._link(kind, type(exc).__name__)]), None
        if response.status_code >= 500 or response.status_code == 429:
            return _passthrough(response, self._link("error")), _retry_after_s(response)
        if self.knobs.circuit_breaker:
            self.breaker.record_success()
        if response.is_error:  # 4xx: the caller's mistake, not the dependency's; no retry
            raise _passthrough(response, self._link("error"))
        return response.json(), None

    def _backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        if not self.knobs.retry_backoff:
            return 0.0
        base_s = 0.05 * (2**attempt)
        wait_s = random.uniform(0, base_s)  # full jitter
        return max(wait_s, retry_after_s or 0.0)


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _passthrough(response: httpx.Response, link: CauseLink) -> ServiceError:
    """The dependency's error, with its cause chain extended by this hop."""
    try:
        error = response.json()["error"]
        code = str(error["code"])
        chain = [CauseLink(**c) for c in error.get("cause", [])]
    except (ValueError, KeyError, TypeError):
        code, chain = "DP002", []
    if not chain:
        chain = [CauseLink(link.service, link.edge, f"http_{response.status_code}")]
    else:
        chain.append(link)
    if code.startswith(("AU", "RQ")):
        return ServiceError(code, chain, status=response.status_code)
    if code not in ("NT004", "DP001", "DP003", "OV001", "FS001", "MT001"):
        code = "DP002"
    return ServiceError(code, chain)
