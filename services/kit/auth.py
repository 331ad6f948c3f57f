"""Who may call what: customer session tokens and the admin token, checked before anything else.

Tokens are HMAC-signed and verified by every service with the shared
secret. Stateless on purpose: card and pay can check a token bank issued
without calling bank, so auth adds no edge of its own to the dependency graph.

:class:`AuthMiddleware` runs before routing and body validation, so every
customer route answers 401 to a request without a valid token whatever its
body, and every ``/admin`` route needs ``X-Admin-Token``. The principal (a
customer id such as ``c0001``) is left in ``request.state.principal``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Collection

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.errors import ServiceError
from services.kit.respond import send_error

__all__ = ["AuthMiddleware", "TokenSigner", "bearer_token", "customer_of", "password_digest"]

#: Paths every service serves without a token (documentation and health).
ALWAYS_PUBLIC = frozenset({"/health", "/error-codes", "/openapi.json", "/docs", "/redoc"})


class TokenSigner:
    """Issues and verifies ``SUBJECT.EXPIRY.SIGNATURE`` tokens."""

    def __init__(self, secret: str, ttl_s: float = 3600.0) -> None:
        self._key = secret.encode()
        self._ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, subject: str) -> str:
        payload = f"{subject}.{int(time.time() + self._ttl_s)}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> str:
        """The subject of a valid token; ServiceError AU001 otherwise."""
        payload, _, signature = token.rpartition(".")
        subject, _, expiry = payload.partition(".")
        if (
            not subject
            or not expiry.isdigit()
            or not hmac.compare_digest(signature, self._sign(payload))
        ):
            raise ServiceError("AU001", message="The session token is invalid.")
        if int(expiry) < time.time():
            raise ServiceError("AU001", message="The session token has expired.")
        return subject


def password_digest(customer_id: str, password: str) -> str:
    """What a customer table stores instead of the password (salted by the customer id)."""
    return hashlib.sha256(f"domino:{customer_id}:{password}".encode()).hexdigest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _bearer(value: str | None) -> str:
    scheme, _, token = (value or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError("AU001", message="This route needs 'Authorization: Bearer TOKEN'.")
    return token.strip()


class AuthMiddleware:
    """Rejects unauthenticated requests before routing (pure ASGI, so it costs little)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        signer: TokenSigner,
        admin_token: str,
        public_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self._service = service
        self._signer = signer
        self._admin_token = admin_token
        self._public = ALWAYS_PUBLIC | frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._authorise(scope)
        except ServiceError as error:
            await send_error(error, self._service, scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorise(self, scope: Scope) -> None:
        """Leave the principal in the scope's state, or raise AU001."""
        path: str = scope["path"]
        if path in self._public or path.startswith("/docs/"):
            return
        if path == "/admin" or path.startswith("/admin/"):
            given = _header(scope, b"x-admin-token") or ""
            if not self._admin_token or not hmac.compare_digest(
                given.encode(), self._admin_token.encode()
            ):
                raise ServiceError(
                    "AU001", message="Admin routes need a valid X-Admin-Token header."
                )
            return
        token = _bearer(_header(scope, b"authorization"))
        scope.setdefault("state", {})["principal"] = self._signer.verify(token)


def bearer_token(request: Request) -> str:
    """The bearer token of a request (401 AU001 without one)."""
    return _bearer(request.headers.get("authorization"))


def customer_of(request: Request) -> str:
    """The authenticated principal of a request (set by :class:`AuthMiddleware`)."""
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, str):
        return principal
    signer: TokenSigner = request.app.state.signer
    return signer.verify(bearer_token(request))
