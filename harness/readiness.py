"""Waiting for a condition with a deadline, never for a fixed time."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import httpx

from harness.errors import ServiceStartError

__all__ = ["ReadinessTimeoutError", "http_ok", "wait_healthy", "wait_until"]


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


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """True when GET ``url`` answers 2xx; never raises."""
    try:
        return httpx.get(url, timeout=timeout_s).is_success
    except httpx.HTTPError:
        return False


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
