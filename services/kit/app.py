"""The app factory and server entry point every service uses.

``create_app`` gives a FastAPI app with ``/health``, the admin API, the
standard error body, customer auth, and one :class:`DependencyClient` per
configured dependency. ``serve`` runs it with uvicorn on the socket the
backend passed down (``DOMINO_LISTEN_FD``) or on ``DOMINO_PORT``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.admin import admin_router, install_fault_middleware
from services.kit.auth import TokenSigner
from services.kit.config import ServiceConfig
from services.kit.dependencies import DependencyClient
from services.kit.errors import ERROR_CODES, CauseLink, ServiceError
from services.kit.profiles import KnobError

__all__ = ["create_app", "serve"]

_DEPENDENCY_CODES = ("NT004", "DP001", "DP002", "DP003", "CD001")


def _untruthful(error: ServiceError, service: str) -> ServiceError:
    """What the fragile app showed: the bank server blamed, the real cause hidden."""
    code = "NT004" if error.code == "NT004" else "NT003"
    return ServiceError(code, [CauseLink(service, None, "server_error")], status=error.http_status)


def create_app(
    config: ServiceConfig,
    *,
    title: str,
    user_facing: bool = False,
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    max_connections: int = 100,
) -> FastAPI:
    """A service app. ``user_facing`` services apply the profile's error-code honesty."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One shared pool, as the fragile services had; bulkheads limit per feature on top.
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits) as http:
            app.state.http = http
            app.state.deps = {
                name: DependencyClient(config.name, dep, config.knobs, http)
                for name, dep in config.dependencies.items()
            }
            if on_startup is not None:
                await on_startup(app)
            yield

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    app.state.config = config
    app.state.signer = TokenSigner(config.token_secret)
    app.state.invariants = None

    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        error = exc
        if user_facing and not config.knobs.truthful_codes and exc.code in _DEPENDENCY_CODES:
            error = _untruthful(exc, config.name)
        return JSONResponse(error.body(), status_code=error.http_status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        return JSONResponse(ServiceError("RQ001", message=message).body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "RQ002" if exc.status_code == 404 else "RQ001"
        body = ServiceError(code, message=str(exc.detail)).body()
        return JSONResponse(body, status_code=exc.status_code)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "service": config.name, "profile": config.profile}

    @app.get("/error-codes", tags=["ops"])
    async def error_codes() -> dict[str, Any]:
        return {
            "codes": [
                {
                    "code": c.code,
                    "http_status": c.http_status,
                    "meaning": c.meaning,
                    "message": c.message,
                }
                for c in ERROR_CODES.values()
            ]
        }

    app.include_router(admin_router())
    install_fault_middleware(app)
    return app


def serve(build: Callable[[ServiceConfig], FastAPI], name: str) -> None:
    """Entry point of ``python -m services.NAME``."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s")
    try:
        config = ServiceConfig.from_env(name)
    except (KnobError, ValueError) as exc:
        print(f"{name}: bad configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app = build(config)
    options: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "on"}
    if config.listen_fd is not None:
        uvicorn.run(app, fd=config.listen_fd, **options)
    else:
        uvicorn.run(app, host=config.host, port=config.port, **options)
