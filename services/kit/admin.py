"""The token-protected admin API: application faults, invariant reports, stats.

Toxiproxy works on TCP, so faults that need HTTP (answer 500/503 for a
share of requests, slow a handler) live here, per route prefix:

- ``POST /admin/faults`` ``{"route", "status", "share"}`` or ``{"route", "delay_ms"}`` -> ``{"id"}``
- ``GET /admin/faults``, ``DELETE /admin/faults/{id}``, ``DELETE /admin/faults`` (reset)
- ``GET /admin/invariants``: what the service vouches for (money totals, pending work)
- ``GET /admin/stats``: calls and failures per dependency, breakers, bulkheads, admission
- ``GET /admin/idempotency?prefix=P[&after=K][&limit=N]``: the Idempotency-Keys starting
  with ``P`` whose operation the service applied, a page at a time (``next`` is the
  ``after`` of the next page, null on the last); a load generator keys its actions
  ``{run}-{n}`` and learns which moved money, whatever their answers said

Services add their own operator levers (remit's maintenance windows, bank's
kill switches) as :class:`Holds`: whatever an operator put in place is listed
by ``GET /admin/faults`` next to the fault rules, removed by
``DELETE /admin/faults/{id}`` and cleared by ``DELETE /admin/faults``, so the
harness's "no fault left behind" check and its reset cover them too.

Every admin route needs ``X-Admin-Token`` (checked by the auth middleware
before routing); health and admin routes are never faulted.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.errors import CauseLink, ServiceError
from services.kit.idempotency import KEY_PATTERN, applied_keys
from services.kit.respond import send_error

__all__ = ["FaultMiddleware", "FaultRule", "Holds", "KeyRecords", "admin_router"]

#: What ``GET /admin/invariants`` returns, computed by the service.
InvariantReport = Callable[[], Awaitable[dict[str, Any]]]

#: The connection to the database holding the service's idempotency records.
KeyRecords = Callable[[], sqlite3.Connection]

#: The most keys one ``GET /admin/idempotency`` page lists.
MAX_KEYS_PER_PAGE = 10_000


class Holds(Protocol):
    """Operator levers a service lists among its faults (maintenance windows, suspensions)."""

    def list_holds(self) -> list[dict[str, Any]]:
        """Each hold as JSON with at least ``id`` and ``kind``."""

    def release_hold(self, hold_id: str) -> bool:
        """Remove one hold; False if this registry has no such id."""

    def release_all(self) -> int:
        """Remove every hold (the reset); the number removed."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """Answer ``status`` for ``share`` of requests under ``route``, after ``delay_ms``."""

    id: str
    route: str
    status: int | None = None
    share: float = 1.0
    delay_ms: int = 0

    def matches(self, path: str) -> bool:
        return self.route in ("*", path) or path.startswith(self.route.rstrip("/") + "/")


class FaultRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    route: str = Field(
        default="*", max_length=200, description="'*' or a path prefix such as /points"
    )
    status: int | None = Field(default=None, ge=500, le=599)
    share: float = Field(default=1.0, gt=0, le=1)
    delay_ms: int = Field(default=0, ge=0, le=600_000)


def _exempt(path: str) -> bool:
    return path == "/health" or path.startswith(("/admin", "/openapi", "/docs"))


class FaultMiddleware:
    """Applies the admin API's fault rules to matching requests (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, service: str, rules: dict[str, FaultRule]) -> None:
        self.app = app
        self._service = service
        self._rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._rules and not _exempt(scope["path"]):
            path: str = scope["path"]
            for rule in list(self._rules.values()):
                if not rule.matches(path):
                    continue
                if rule.delay_ms:
                    await asyncio.sleep(rule.delay_ms / 1000)
                if rule.status is not None and random.random() < rule.share:
                    code = "SV002" if rule.status == 503 else "SV001"
                    link = CauseLink(self._service, None, f"injected_http_{rule.status}", rule.id)
                    error = ServiceError(
                        code, [link], message="Injected application fault.", status=rule.status
                    )
                    await send_error(error, self._service, scope, receive, send)
                    return
        await self.app(scope, receive, send)


class Removed(BaseModel):
    removed: str | int


class AppliedKeyOut(BaseModel):
    key: str
    route: str
    status: int


class AppliedKeysOut(BaseModel):
    keys: list[AppliedKeyOut]
    #: ``after`` for the next page; None when this page is the last.
    next: str | None


def admin_router(
    *,
    rules: dict[str, FaultRule],
    holds: list[Holds],
    invariants: Callable[[], InvariantReport | None],
    stats: Callable[[], dict[str, Any]],
    key_records: Callable[[], KeyRecords | None] = lambda: None,
) -> APIRouter:
    """The ``/admin`` routes over the service's fault rules, holds, reports and
    idempotency records (``key_records``: None for a service that keeps none)."""
    router = APIRouter(prefix="/admin", tags=["admin"])
    ids = itertools.count(1)

    @router.post("/faults", summary="Add an application fault rule")
    async def add_fault(rule: FaultRuleIn) -> dict[str, str]:
        if rule.status is None and rule.delay_ms == 0:
            raise ServiceError("RQ001", message="A fault rule needs a status, a delay_ms, or both.")
        rule_id = f"f{next(ids)}"
        rules[rule_id] = FaultRule(rule_id, **rule.model_dump())
        return {"id": rule_id}

    @router.get("/faults", summary="Fault rules and operator holds in force")
    async def list_faults() -> dict[str, list[dict[str, Any]]]:
        listed: list[dict[str, Any]] = [{"kind": "http", **asdict(r)} for r in rules.values()]
        for registry in holds:
            listed += registry.list_holds()
        return {"faults": listed}

    @router.delete("/faults/{rule_id}", summary="Remove one fault rule or hold")
    async def remove_fault(rule_id: str) -> Removed:
        if rules.pop(rule_id, None) is not None:
            return Removed(removed=rule_id)
        for registry in holds:
            if registry.release_hold(rule_id):
                return Removed(removed=rule_id)
        raise ServiceError("RQ002", message=f"No fault rule or hold {rule_id}.")

    @router.delete("/faults", summary="Remove every fault rule and hold (reset)")
    async def clear_faults() -> Removed:
        count = len(rules)
        rules.clear()
        for registry in holds:
            count += registry.release_all()
        return Removed(removed=count)

    @router.get("/invariants", summary="What the service vouches for: totals, pending work")
    async def report_invariants() -> dict[str, Any]:
        report = invariants()
        return await report() if report is not None else {"ok": True, "violations": []}

    @router.get("/stats", summary="Calls, failures, breakers, bulkheads, admission")
    async def report_stats() -> dict[str, Any]:
        return stats()

    @router.get(
        "/idempotency", summary="Idempotency-Keys with a prefix whose operation was applied"
    )
    async def report_applied_keys(
        prefix: str = Query(min_length=1, max_length=128, pattern=KEY_PATTERN),
        after: str = Query(default="", max_length=128),
        limit: int = Query(default=1000, ge=1, le=MAX_KEYS_PER_PAGE),
    ) -> AppliedKeysOut:
        records = key_records()
        found = applied_keys(records(), prefix, after=after, limit=limit) if records else []
        return AppliedKeysOut(
            keys=[AppliedKeyOut(key=k.key, route=k.route, status=k.status) for k in found],
            next=found[-1].key if len(found) == limit else None,
        )

    return router
