"""Client retry policies: none, immediate, exponential backoff with full jitter,
and honouring Retry-After (capped).

A policy decides whether an attempt's outcome is retried and how long to wait
first. The engine counts every attempt, so retry amplification (attempts per
user action) is measured, not guessed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from harness.errors import LoadPlanError

__all__ = ["DEFAULT_RETRY_STATUSES", "RetryKind", "RetryPolicy", "parse_retry_after"]

RetryKind = Literal["none", "immediate", "backoff", "retry-after"]

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a virtual user retries a failed attempt.

    ``retries`` is the number of retries after the first attempt (so at most
    ``retries + 1`` attempts per action). Statuses in ``retry_statuses`` are
    retried, and so are timeouts and transport errors when
    ``retry_transport_errors``. Waits:

    - ``none``: never retries.
    - ``immediate``: retries at once.
    - ``backoff``: full jitter, ``uniform(0, min(max_delay_s, base_delay_s * 2**(n-1)))``
      before retry ``n``.
    - ``retry-after``: waits what the answer's Retry-After says, capped at
      ``retry_after_cap_s``; without one, falls back to the backoff above.

    ``backoff`` also honours Retry-After when ``honour_retry_after`` is set.
    """

    kind: RetryKind = "none"
    retries: int = 0
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0
    honour_retry_after: bool = False
    retry_after_cap_s: float = 5.0
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    retry_transport_errors: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("none", "immediate", "backoff", "retry-after"):
            raise LoadPlanError(f"unknown retry kind {self.kind!r}")
        if self.retries < 0 or (self.kind == "none" and self.retries):
            raise LoadPlanError(f"retries must be >= 0 (and 0 for kind 'none'), got {self.retries}")
        for name in ("base_delay_s", "max_delay_s", "retry_after_cap_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise LoadPlanError(f"{name} must be >= 0 seconds, got {value!r}")

    @classmethod
    def none(cls) -> RetryPolicy:
        return cls()

    @classmethod
    def immediate(cls, retries: int) -> RetryPolicy:
        return cls(kind="immediate", retries=retries)

    @classmethod
    def backoff(
        cls,
        retries: int,
        *,
        base_delay_s: float = 0.05,
        max_delay_s: float = 2.0,
        honour_retry_after: bool = False,
        retry_after_cap_s: float = 5.0,
    ) -> RetryPolicy:
        return cls(
            kind="backoff",
            retries=retries,
            base_delay_s=base_delay_s,
            max_delay_s=max_delay_s,
            honour_retry_after=honour_retry_after,
            retry_after_cap_s=retry_after_cap_s,
        )

    @classmethod
    def retry_after(
        cls,
        retries: int,
        *,
        cap_s: float = 5.0,
        base_delay_s: float = 0.05,
        max_delay_s: float = 2.0,
    ) -> RetryPolicy:
        return cls(
            kind="retry-after",
            retries=retries,
            base_delay_s=base_delay_s,
            max_delay_s=max_delay_s,
            honour_retry_after=True,
            retry_after_cap_s=cap_s,
        )

    def should_retry(self, attempt: int, status: int | None) -> bool:
        """Whether attempt number ``attempt`` (1-based) with ``status`` (None: no
        answer) is followed by another attempt."""
        if attempt > self.retries:
            return False
        if status is None:
            return self.retry_transport_errors
        return status in self.retry_statuses

    def delay_s(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt ``attempt`` before the next one."""
        if self.kind == "immediate":
            return 0.0
        if (self.kind == "retry-after" or self.honour_retry_after) and retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.retry_after_cap_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return rng.uniform(0.0, ceiling)


def parse_retry_after(value: bytes | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (decimals accepted); an
    HTTP date or garbage gives None."""
    if value is None:
        return None
    try:
        seconds = float(value.decode("latin-1").strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
