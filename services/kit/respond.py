"""Writing an error body from code that runs outside the routes (pure ASGI middleware)."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from services.kit.errors import ServiceError

__all__ = ["error_response", "send_error"]


def error_response(error: ServiceError) -> JSONResponse:
    """The standard error body with the code's status and the error's headers."""
    return JSONResponse(error.body(), status_code=error.http_status, headers=error.headers)


async def send_error(error: ServiceError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer the ASGI request with ``error``."""
    await error_response(error)(scope, receive, send)
