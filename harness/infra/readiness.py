"""Waiting for a condition with a deadline, never for a fixed time."""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from harness.errors import ServiceStartError
from harness.infra.network_safety import check_target, tls_context

if TYPE_CHECKING:
    from harness.model.topology import Readiness

__all__ = ["ReadinessTimeoutError", "http_ok", "wait_healthy", "wait_ready", "wait_until"]


class ReadinessTimeoutError(TimeoutError):
    """The condition did not hold before the deadline."""


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.02,
    what: str = "condition",
    abort: Callable[[], str | None] | None = None,
) -> float:
    """Poll ``condition`` until true; return seconds waited.

    ``abort`` may return a reason to stop early (e.g. the process died).
    Raises ReadinessTimeoutError naming ``what`` when ``timeout_s`` passes.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    while True:
        if condition():
            return time.monotonic() - start
        if abort is not None:
            reason = abort()
            if reason:
                raise ReadinessTimeoutError(f"{what}: {reason}")
        if time.monotonic() >= deadline:
            raise ReadinessTimeoutError(f"{what}: not true after {timeout_s:g}s")
        time.sleep(interval_s)


def http_ok(url: str, timeout_s: float = 1.0, status: int | None = None) -> bool:
    """True when GET ``url`` answers ``status`` (default: any 2xx); never raises."""
    try:
        answered = httpx.get(url, timeout=timeout_s, verify=tls_context()).status_code
    except httpx.HTTPError:
        return False
    return answered == status if status is not None else 200 <= answered < 300


def tcp_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when ``host:port`` accepts a TCP connection; never raises."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_ready(
    ready: Readiness,
    *,
    base_url: str,
    what: str,
    abort: Callable[[], str | None],
    logs: Callable[[], str],
    output: Callable[[], str] | None = None,
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    """Wait until a service at ``base_url`` is ready by its strategy, or its deadline passes.

    ``output`` returns the service's output so far (for a ``log`` strategy);
    ServiceStartError names the service, the strategy, and ``logs()``.
    """
    check_target(base_url, extra_allowed=allowed_hosts)
    parts = urlsplit(base_url)
    condition: Callable[[], bool]
    if ready.kind == "http":
        url = base_url.rstrip("/") + ready.path
        condition = functools.partial(http_ok, url, status=ready.status)
    elif ready.kind == "tcp":
        condition = functools.partial(tcp_open, parts.hostname or "", parts.port or 80)
    else:
        if output is None:
            raise ServiceStartError(f"{what}: a log readiness check needs the service's output")
        text = ready.text
        condition = lambda: text in output()  # noqa: E731 - a one-line probe
    try:
        wait_until(
            condition,
            timeout_s=ready.timeout_s,
            interval_s=0.02,
            what=f"{what} ({ready.describe()} at {base_url})",
            abort=abort,
        )
    except ReadinessTimeoutError as exc:
        raise ServiceStartError(f"{exc}; {logs()}") from None


def wait_healthy(
    url: str,
    *,
    timeout_s: float,
    what: str,
    abort: Callable[[], str | None],
    logs: Callable[[], str],
) -> None:
    """Wait for ``url`` to answer 2xx; ServiceStartError with ``logs()`` appended otherwise."""
    try:
        wait_until(
            functools.partial(http_ok, url),
            timeout_s=timeout_s,
            what=f"{what} at {url}",
            abort=abort,
        )
    except ReadinessTimeoutError as exc:
        raise ServiceStartError(f"{exc}; {logs()}") from None
