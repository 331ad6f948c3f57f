"""Writing an error body from code that runs outside the routes (pure ASGI middleware)."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from services.kit.errors import ServiceError

__all__ = ["error_response", "send_error"]


def error_response(error: ServiceError, service: str) -> JSONResponse:
    """The standard error body with the code's status and the error's headers.

    ``service`` is the one answering: an error with no cause chain started there.
    """
    error = error.originating_in(service)
    return JSONResponse(error.body(), status_code=error.http_status, headers=error.headers)


async def send_error(
    error: ServiceError, service: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer the ASGI request with ``error``."""
    await error_response(error, service)(scope, receive, send)
