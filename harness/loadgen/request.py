"""What one user action sends: request templates, their mix, and sessions."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import LoadPlanError

__all__ = [
    "DEFAULT_REJECTION_STATUSES",
    "DEFAULT_SUCCESS_STATUSES",
    "MAX_CHECKED_BODY_BYTES",
    "HeaderFactory",
    "RequestContext",
    "RequestTemplate",
    "Sessions",
    "WaitCheck",
]

DEFAULT_SUCCESS_STATUSES: frozenset[int] = frozenset(range(200, 300))
DEFAULT_REJECTION_STATUSES: frozenset[int] = frozenset({429, 503})
MAX_CHECKED_BODY_BYTES = 64 * 1024
"""How much of a rejection's body a :data:`WaitCheck` sees (the rest is counted, not kept)."""


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Passed to a template's header factory for each attempt."""

    action_index: int
    """The arrival's index in the whole schedule (unique across workers)."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, ..."""
    user: int | None
    """The virtual user sending it, when the plan has sessions."""
    template: str


HeaderFactory = Callable[[RequestContext], Mapping[str, str]]
"""Extra headers per attempt, e.g. ``lambda ctx: {"Idempotency-Key": key_for(ctx)}``.

Called on the event loop for every attempt: keep it cheap. To keep one key
across an action's retries, derive it from ``ctx.action_index``.
"""


WaitCheck = Callable[[int, bytes], bool]
"""Whether a rejection (``status`` in the template's ``rejection_statuses``, with its
``body``, at most :data:`MAX_CHECKED_BODY_BYTES`) is an honest "wait".

Called on the event loop, and only for rejections (the only answers whose body
the client keeps): keep it cheap. False makes the answer a *false wait*,
counted among the errors: e.g. a 503 whose body says the work was done, or
blames a party that did not fail.
"""


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """One kind of request in the mix.

    ``body`` is sent as is; ``json_body`` (any JSON value) is encoded once and
    sent with ``Content-Type: application/json``; give at most one.
    A status in ``success_statuses`` counts as ok, one in ``rejection_statuses``
    as an honest rejection (the server said "not now", e.g. 429/503 with
    Retry-After) unless ``wait_check`` says its body is no honest wait (then a
    false wait, an error), anything else as an error.
    """

    name: str
    path: str = "/"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    json_body: Any = None
    weight: float = 1.0
    success_statuses: frozenset[int] = DEFAULT_SUCCESS_STATUSES
    rejection_statuses: frozenset[int] = DEFAULT_REJECTION_STATUSES
    header_factory: HeaderFactory | None = field(default=None, compare=False)
    wait_check: WaitCheck | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise LoadPlanError("a request template needs a name (it is used in reports)")
        if not self.path.startswith("/"):
            raise LoadPlanError(f"template {self.name!r}: path must start with '/': {self.path!r}")
        if not self.path.isascii() or any(c in self.path for c in " \r\n"):
            raise LoadPlanError(f"template {self.name!r}: path must not hold spaces or newlines")
        if not self.method.isalpha() or not self.method.isupper():
            raise LoadPlanError(
                f"template {self.name!r}: method must be like GET, got {self.method!r}"
            )
        if self.method == "HEAD":
            raise LoadPlanError(f"template {self.name!r}: HEAD is not supported by the client")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise LoadPlanError(f"template {self.name!r}: weight must be > 0, got {self.weight!r}")
        if self.body and self.json_body is not None:
            raise LoadPlanError(f"template {self.name!r}: give body or json_body, not both")
        for key, value in self.headers:
            if not key or any(c in key + value for c in "\r\n") or ":" in key:
                raise LoadPlanError(f"template {self.name!r}: bad header {key!r}: {value!r}")
        both = sorted(self.success_statuses & self.rejection_statuses)
        if both:
            raise LoadPlanError(
                f"template {self.name!r}: statuses {both} are both success and rejection"
            )

    def encoded_body(self) -> bytes:
        if self.json_body is not None:
            return json.dumps(self.json_body, separators=(",", ":")).encode()
        return self.body

    def all_headers(self) -> tuple[tuple[str, str], ...]:
        if self.json_body is not None and not any(
            k.lower() == "content-type" for k, _ in self.headers
        ):
            return (*self.headers, ("Content-Type", "application/json"))
        return self.headers


@dataclass(frozen=True, slots=True)
class Sessions:
    """Virtual users: ``headers_for(i)`` for user ``i`` in ``range(users)``.

    Called once per user before the schedule starts (so a login costs nothing
    inside the measured window); arrivals take users in turn (arrival k is
    user ``k % users``).
    """

    users: int
    headers_for: Callable[[int], Mapping[str, str]] = field(compare=False)

    def __post_init__(self) -> None:
        if self.users < 1:
            raise LoadPlanError(f"sessions need at least one user, got {self.users}")
