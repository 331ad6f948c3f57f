"""Customer session tokens: HMAC-signed, verified by every service with the shared secret.

Stateless on purpose: card and pay can check a token bank issued without
calling bank, so auth adds no edge of its own to the dependency graph.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import Request

from services.kit.errors import ServiceError

__all__ = ["TokenSigner", "customer_of"]


class TokenSigner:
    def __init__(self, secret: str, ttl_s: float = 3600.0) -> None:
        self._key = secret.encode()
        self._ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, customer_id: str) -> str:
        payload = f"{customer_id}.{int(time.time() + self._ttl_s)}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> str:
        """The customer id in a valid token; ServiceError AU001 otherwise."""
        payload, _, signature = token.rpartition(".")
        customer_id, _, expiry = payload.partition(".")
        if (
            not customer_id
            or not expiry.isdigit()
            or not hmac.compare_digest(signature, self._sign(payload))
        ):
            raise ServiceError("AU001", message="The session token is invalid.")
        if int(expiry) < time.time():
            raise ServiceError("AU001", message="The session token has expired.")
        return customer_id


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ServiceError("AU001", message="This route needs 'Authorization: Bearer TOKEN'.")
    return token.strip()


def customer_of(request: Request) -> str:
    """The authenticated customer of a request (401 AU001 without a valid token)."""
    signer: TokenSigner = request.app.state.signer
    return signer.verify(bearer_token(request))
