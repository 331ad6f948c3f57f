"""The token-protected admin API: application faults and invariant reports.

Toxiproxy works on TCP, so faults that need HTTP (answer 500/503 for a
share of requests, slow a handler) live here, per route prefix:

- ``POST /admin/faults`` ``{"route", "status", "share"}`` or ``{"route", "delay_ms"}`` -> ``{"id"}``
- ``GET /admin/faults``, ``DELETE /admin/faults/{id}``, ``DELETE /admin/faults`` (reset)
- ``GET /admin/invariants``: what the service vouches for (money totals, pending work)
- ``GET /admin/stats``: calls and failures per dependency, breaker states

Every admin route needs ``X-Admin-Token``; health and admin routes are never faulted.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import JSONResponse, Response

from services.kit.errors import CauseLink, ServiceError

__all__ = ["FaultRule", "admin_router", "install_fault_middleware"]


@dataclass(frozen=True, slots=True)
class FaultRule:
    id: str
    route: str
    status: int | None = None
    share: float = 1.0
    delay_ms: int = 0

    def matches(self, path: str) -> bool:
        return self.route in ("*", path) or path.startswith(self.route.rstrip("/") + "/")


class FaultRuleIn(BaseModel):
    route: str = Field(default="*", description="'*' or a path prefix such as /points")
    status: int | None = Field(default=None, ge=500, le=599)
    share: float = Field(default=1.0, gt=0, le=1)
    delay_ms: int = Field(default=0, ge=0, le=600_000)


def _exempt(path: str) -> bool:
    return path == "/health" or path.startswith(("/admin", "/openapi", "/docs"))


def require_admin(request: Request) -> None:
    token = request.app.state.config.admin_token
    if not token or request.headers.get("x-admin-token") != token:
        raise ServiceError("AU001", message="Admin routes need the X-Admin-Token header.")


def install_fault_middleware(app: FastAPI) -> None:
    app.state.fault_rules = {}

    async def apply_rules(request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if not _exempt(path):
            for rule in list(app.state.fault_rules.values()):
                if not rule.matches(path):
                    continue
                if rule.delay_ms:
                    await asyncio.sleep(rule.delay_ms / 1000)
                if rule.status is not None and random.random() < rule.share:
                    service = app.state.config.name
                    error = ServiceError(
                        "DP002" if rule.status != 503 else "CD001",
                        [
                            CauseLink(
                                service, None, f"injected_http_{rule.status}", f"rule {rule.id}"
                            )
                        ],
                        message="Injected application fault.",
                        status=rule.status,
                    )
                    return JSONResponse(error.body(), status_code=rule.status)
        return await call_next(request)

    app.add_middleware(BaseHTTPMiddleware, dispatch=apply_rules)


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])
    ids = itertools.count(1)

    @router.post("/faults")
    async def add_fault(rule: FaultRuleIn, request: Request) -> dict[str, str]:
        require_admin(request)
        if rule.status is None and rule.delay_ms == 0:
            raise ServiceError("RQ001", message="A fault rule needs a status, a delay_ms, or both.")
        rule_id = f"f{next(ids)}"
        request.app.state.fault_rules[rule_id] = FaultRule(rule_id, **rule.model_dump())
        return {"id": rule_id}

    @router.get("/faults")
    async def list_faults(request: Request) -> dict[str, Any]:
        require_admin(request)
        return {"faults": [asdict(r) for r in request.app.state.fault_rules.values()]}

    @router.delete("/faults/{rule_id}")
    async def remove_fault(rule_id: str, request: Request) -> dict[str, str]:
        require_admin(request)
        if request.app.state.fault_rules.pop(rule_id, None) is None:
            raise ServiceError("RQ002", message=f"No fault rule {rule_id}.")
        return {"removed": rule_id}

    @router.delete("/faults")
    async def clear_faults(request: Request) -> dict[str, int]:
        require_admin(request)
        count = len(request.app.state.fault_rules)
        request.app.state.fault_rules.clear()
        return {"removed": count}

    @router.get("/invariants")
    async def invariants(request: Request) -> dict[str, Any]:
        require_admin(request)
        report = request.app.state.invariants
        result: dict[str, Any] = await report() if report else {}
        return result

    @router.get("/stats")
    async def stats(request: Request) -> dict[str, Any]:
        require_admin(request)
        return {
            "service": request.app.state.config.name,
            "profile": request.app.state.config.profile,
            "dependencies": {
                name: {
                    "edge": dep.dependency.edge,
                    "calls": dep.calls,
                    "failures": dep.failures,
                    "breaker": dep.breaker.state,
                }
                for name, dep in request.app.state.deps.items()
            },
        }

    return router
