"""Domino sends traffic only to loopback and to the project's own Docker networks.

Every URL the harness will load or fault is checked here first. Other
targets are refused unless the user allows them explicitly
(``DOMINO_ALLOW_TARGETS=host1,host2``), because a load loop pointed at the
wrong host is an attack, not a test.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import httpx

from harness.errors import UnsafeTargetError

__all__ = ["check_target", "is_loopback_host", "safe_client", "tls_context"]


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(url: str, *, extra_allowed: Iterable[str] = ()) -> str:
    """Return ``url`` if its host is loopback or explicitly allowed; raise otherwise.

    ``extra_allowed`` holds hosts the backend vouches for, such as container
    names on the project's own Docker network.
    """
    host = urlsplit(url).hostname or ""
    allowed = {h.strip() for h in os.environ.get("DOMINO_ALLOW_TARGETS", "").split(",") if h}
    allowed.update(extra_allowed)
    if is_loopback_host(host) or host in allowed:
        return url
    raise UnsafeTargetError(
        f"refusing to send traffic to {url}: {host!r} is not loopback or one of the project's "
        "own hosts; set DOMINO_ALLOW_TARGETS=HOST if this target is really yours"
    )


class _GuardedTransport(httpx.BaseTransport):
    """Checks every request's host before it leaves (redirects included)."""

    def __init__(self, inner: httpx.BaseTransport, allowed: tuple[str, ...]) -> None:
        self._inner = inner
        self._allowed = allowed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        check_target(str(request.url), extra_allowed=self._allowed)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client: building one costs about 30 ms (it loads the
    CA bundle), and Domino makes a client per virtual user, cell and probe."""
    return httpx.create_ssl_context()


def safe_client(
    *,
    base_url: str = "",
    timeout_s: float = 10.0,
    allowed_hosts: Iterable[str] = (),
    keepalive: bool = True,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """The one way the harness makes an HTTP client: every request's target is checked.

    ``allowed_hosts`` are hosts a backend vouches for (its own containers);
    ``keepalive=False`` opens a new connection per request, so a toxic with
    toxicity below 1 is drawn per request rather than per pooled connection.
    """
    if base_url:
        check_target(base_url, extra_allowed=allowed_hosts)
    limits = httpx.Limits(max_keepalive_connections=None if keepalive else 0)
    transport = _GuardedTransport(
        httpx.HTTPTransport(limits=limits, verify=tls_context()), tuple(allowed_hosts)
    )
    return httpx.Client(
        base_url=base_url,
        timeout=timeout_s,
        transport=transport,
        headers=dict(headers or {}),
    )
