"""The app factory and server entry point every service uses.

``create_app`` gives a FastAPI app with ``/health``, ``/error-codes``, the
admin API, the standard error body, customer auth before routing, one
:class:`DependencyClient` per configured dependency (one shared connection
pool, or one pool per dependency with bulkheads), per-feature bulkheads and,
for the entry service, admission control. ``serve`` runs it with uvicorn on
the socket the backend passed down (``DOMINO_LISTEN_FD``) or on ``DOMINO_PORT``.

Middleware, outermost first: admission (cheapest rejection first), auth
(401 before any validation), application faults, then the routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.admin import (
    FaultMiddleware,
    FaultRule,
    Holds,
    InvariantReport,
    KeyRecords,
    admin_router,
)
from services.kit.admission import AdmissionController, AdmissionMiddleware
from services.kit.auth import ALWAYS_PUBLIC, AuthMiddleware, TokenSigner
from services.kit.bulkhead import Bulkheads
from services.kit.config import ServiceConfig
from services.kit.dependencies import DependencyClient
from services.kit.errors import DEPENDENCY_CODES, ERROR_CODES, CauseLink, ServiceError
from services.kit.models import error_responses
from services.kit.profiles import SERVER_KEEPALIVE_S, KnobError
from services.kit.respond import error_response
from services.kit.server import PromptServer

__all__ = ["ServiceKit", "create_app", "kit_of", "serve", "tls_context"]

#: The exit code uvicorn.run gives when an app's startup fails.
_STARTUP_FAILURE = 3


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings of every client a service makes (httpx's default: certifi's
    roots, verified): built once per process, not once per client (~25 ms each; the
    bank with bulkheads made three). The service host builds it before it forks."""
    return httpx.create_ssl_context()


log = logging.getLogger("domino.services")


@dataclass
class ServiceKit:
    """What the kit gives a service's handlers, kept in ``app.state.kit``."""

    config: ServiceConfig
    signer: TokenSigner
    bulkheads: Bulkheads
    deps: dict[str, DependencyClient] = field(default_factory=dict)
    rules: dict[str, FaultRule] = field(default_factory=dict)
    holds: list[Holds] = field(default_factory=list)
    admission: AdmissionController | None = None
    invariants: InvariantReport | None = None
    #: Where the service keeps its idempotency records (None: it keeps none).
    key_records: KeyRecords | None = None
    stats: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def dep(self, name: str) -> DependencyClient:
        """The client of dependency ``name``; SV001 if the backend did not configure it."""
        client = self.deps.get(name)
        if client is None:
            raise ServiceError(
                "SV001",
                [
                    CauseLink(
                        self.config.name, None, "misconfigured", f"no DOMINO_DEP_{name.upper()}"
                    )
                ],
                message=f"{self.config.name} has no address for its dependency {name}.",
            )
        return client

    def snapshot(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "service": self.config.name,
            "profile": self.config.profile,
            "dependencies": {name: dep.snapshot() for name, dep in self.deps.items()},
            "bulkheads": self.bulkheads.snapshot(),
            "admission": self.admission.snapshot() if self.admission else None,
        }
        for name, source in self.stats.items():
            report[name] = source()
        return report


def kit_of(request: Request) -> ServiceKit:
    """The kit of the app serving ``request``."""
    kit: ServiceKit = request.app.state.kit
    return kit


def _as_the_fragile_app_showed(error: ServiceError, service: str) -> ServiceError:
    """NT003 blaming the bank server (NT004 for timeouts); the true chain stays for operators."""
    code = "NT004" if error.code == "NT004" else "NT003"
    chain = [
        *error.cause,
        CauseLink(service, None, "reported_as_server_error", f"{error.code} shown as {code}"),
    ]
    return ServiceError(code, chain)


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "The request is invalid."
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message


def _install_openapi(app: FastAPI, public_paths: frozenset[str]) -> None:
    """Declare the bearer token and the admin token as security schemes, per operation."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearer"] = {"type": "http", "scheme": "bearer"}
        schemes["adminToken"] = {"type": "apiKey", "in": "header", "name": "X-Admin-Token"}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if path in public_paths:
                    continue
                name = "adminToken" if path.startswith("/admin") else "bearer"
                operation["security"] = [{name: []}]
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI, config: ServiceConfig, *, user_facing: bool) -> None:
    """Every error, raised or not, answers the standard body (see services.kit.errors)."""
    knobs = config.knobs

    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        error = exc
        if user_facing and not knobs.truthful_codes and exc.code in DEPENDENCY_CODES:
            error = _as_the_fragile_app_showed(exc, config.name)
        return error_response(error, config.name)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(ServiceError("RQ001", message=_validation_message(exc)), config.name)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(ServiceError("RQ002", message=str(exc.detail)), config.name)
        # Starlette answers 400 for a body it cannot even decode; to clients that is one more
        # malformed request, so it gets the same 422 RQ001 as every other one.
        status = 422 if exc.status_code == 400 else exc.status_code
        error = ServiceError("RQ001", message=str(exc.detail), status=status)
        return error_response(error, config.name)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        link = CauseLink(config.name, None, "internal_error", type(exc).__name__)
        return error_response(ServiceError("SV001", [link]), config.name)


def create_app(
    config: ServiceConfig,
    *,
    title: str,
    description: str = "",
    user_facing: bool = False,
    public_paths: Collection[str] = (),
    priority_routes: Collection[tuple[str, str]] = (),
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    on_shutdown: Callable[[FastAPI], Awaitable[None]] | None = None,
) -> FastAPI:
    """A service app. ``user_facing`` services apply the profile's error-code honesty
    and, with ``admission_control``, flow control (``priority_routes`` keep a reserve)."""
    knobs = config.knobs
    kit = ServiceKit(
        config=config,
        signer=TokenSigner(config.token_secret),
        bulkheads=Bulkheads(config.name, knobs.bulkhead_limit, enforce=knobs.bulkheads),
    )
    if user_facing and knobs.admission_control:
        kit.admission = AdmissionController(
            capacity=knobs.admission_capacity,
            priority_reserve=knobs.admission_priority_reserve,
            max_lag_ms=knobs.admission_max_lag_ms,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # Calls between services keep their connections alive, as a real service's
            # client does. Partial faults per call are Domino's HTTP kinds (``share`` is
            # drawn per request); a TCP toxic's ``toxicity`` is drawn per connection, so on
            # these edges it means a share of pooled connections. An idle connection is
            # given up (``dependency_keepalive_s``) before the other side's server closes
            # it (SERVER_KEEPALIVE_S), so a call never goes out on a connection the server
            # has just closed. ``dependency_keepalive_s=0``: a new connection per call.
            def pool() -> httpx.AsyncClient:
                keep = knobs.dependency_keepalive_s > 0
                limits = httpx.Limits(
                    max_connections=knobs.max_connections,
                    max_keepalive_connections=knobs.max_connections if keep else 0,
                    keepalive_expiry=knobs.dependency_keepalive_s if keep else None,
                )
                return httpx.AsyncClient(limits=limits, verify=tls_context())

            shared = None if knobs.bulkheads else await stack.enter_async_context(pool())
            for name, dep in config.dependencies.items():
                http = shared if shared is not None else await stack.enter_async_context(pool())
                kit.deps[name] = DependencyClient(config.name, dep, knobs, http)
            lag_task = None
            if kit.admission is not None:
                lag_task = asyncio.create_task(kit.admission.watch_lag())
            if on_startup is not None:
                await on_startup(app)
            try:
                yield
            finally:
                if on_shutdown is not None:
                    await on_shutdown(app)
                if lag_task is not None:
                    lag_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await lag_task

    public = ALWAYS_PUBLIC | frozenset(public_paths)
    app = FastAPI(
        title=title,
        description=description,
        version="0.2.0",
        lifespan=lifespan,
        responses=error_responses(401, 422),
    )
    app.state.kit = kit

    _install_error_handlers(app, config, user_facing=user_facing)

    @app.get("/health", tags=["ops"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": config.name, "profile": config.profile}

    @app.get("/error-codes", tags=["ops"], summary="The error-code table")
    async def error_codes() -> dict[str, list[dict[str, Any]]]:
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

    app.include_router(
        admin_router(
            rules=kit.rules,
            holds=kit.holds,
            invariants=lambda: kit.invariants,
            stats=kit.snapshot,
            key_records=lambda: kit.key_records,
        )
    )
    app.add_middleware(FaultMiddleware, service=config.name, rules=kit.rules)
    app.add_middleware(
        AuthMiddleware,
        service=config.name,
        signer=kit.signer,
        admin_token=config.admin_token,
        public_paths=public,
    )
    if kit.admission is not None:
        entry_edge = f"client->{config.name}"
        app.add_middleware(
            AdmissionMiddleware,
            controller=kit.admission,
            service=config.name,
            entry_edge=entry_edge,
            priority=priority_routes,
        )
    _install_openapi(app, public)
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
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 2,
        "timeout_keep_alive": SERVER_KEEPALIVE_S,
    }
    if config.listen_fd is not None:
        # Not uvicorn.run(fd=...): uvicorn wraps an inherited fd as AF_UNIX, so asyncio does
        # not see TCP and never sets TCP_NODELAY, and every answer written in two parts waits
        # ~40 ms for the client's delayed ACK. socket(fileno=) reads the real family.
        sock = socket.socket(fileno=config.listen_fd)
        server = PromptServer(uvicorn.Config(app, **options))
        server.run(sockets=[sock])
    else:
        server = PromptServer(uvicorn.Config(app, host=config.host, port=config.port, **options))
        server.run()
    if not server.started:  # as uvicorn.run: the app's startup failed
        raise SystemExit(_STARTUP_FAILURE)
