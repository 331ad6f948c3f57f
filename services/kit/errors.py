"""Error codes, the error body every service answers with, and its cause chain.

Every error body is ``{"error": {"code", "message", "cause": [...], ...}}``.
The cause chain lists where the failure started first: each link names the
service that saw it, the edge it crossed and what happened (``timeout``,
``refused``, ``reset``, ``error``, ``breaker_open``, ``bulkhead_full``,
``overload``, ``maintenance``, ``suspended``, ...). Some codes add one more
key: ``waiting`` (OV001: position, retry_after_s), ``maintenance`` (MT001:
starts_at, ends_at), ``suspended`` (FS001: feature, until, exceptions).

With ``truthful_codes`` off (the fragile profile) bank answers the way the
incident's app did: NT003 text blaming the bank server for every dependency
failure. The cause chain still says what really happened (it is what an
operator would find in the logs), and its last link records the blame.

There is one exception type, :class:`ServiceError`; handlers raise it and the
app turns it into the body above. Its ``code`` must be a key of
:data:`ERROR_CODES`, the table served at ``GET /error-codes`` and documented in
``docs/error-codes.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEPENDENCY_CODES", "ERROR_CODES", "CauseLink", "ErrorCode", "ServiceError"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One row of the error-code table."""

    code: str
    http_status: int
    meaning: str
    message: str


ERROR_CODES: dict[str, ErrorCode] = {
    c.code: c
    for c in (
        ErrorCode(
            "NT003",
            503,
            "The client could not reach bank (device offline or client->bank edge down). "
            "Shown by the app itself; bank sends it only in the fragile profile, wrongly, "
            "for any dependency failure.",
            "The connection to the bank was cut by a temporary error of the bank server.",
        ),
        ErrorCode(
            "NT004",
            504,
            "Bank was reached, but it or a dependency did not answer in time; the cause "
            "chain names the edge that timed out.",
            "No response from the server. Please try again shortly.",
        ),
        ErrorCode(
            "DP001",
            502,
            "A dependency refused or reset the connection; the cause chain names the edge.",
            "A partner service is unreachable right now.",
        ),
        ErrorCode(
            "DP002",
            502,
            "A dependency answered with an error; the cause chain names where it started.",
            "A partner service reported an error.",
        ),
        ErrorCode(
            "DP003",
            503,
            "A dependency's circuit breaker is open: calls fail fast without waiting.",
            "A partner service is unavailable; it will be retried shortly.",
        ),
        ErrorCode(
            "CD001",
            503,
            "Card service unavailable: card features are degraded or unavailable; accounts, "
            "balances and transfers are not affected. Also sent as a notice on degraded answers.",
            "Card features are temporarily unavailable. Your accounts are not affected.",
        ),
        ErrorCode(
            "OV001",
            429,
            "Overload: flow control holds the request. The body's 'waiting' gives the "
            "position and retry_after_s; the Retry-After header says the same.",
            "Many customers are using the service right now; you are in the queue.",
        ),
        ErrorCode(
            "OV002",
            429,
            "The feature's bulkhead is full: it already runs its maximum of concurrent "
            "calls; other features are unaffected.",
            "This feature is busy right now. Please try again in a moment.",
        ),
        ErrorCode(
            "FS001",
            503,
            "The feature is suspended by its kill switch; 'suspended' names the feature, "
            "until when, and its declared exceptions that keep working.",
            "This feature is temporarily suspended because of heavy use.",
        ),
        ErrorCode(
            "MT001",
            503,
            "The feature's downstream is in a maintenance window; 'maintenance' gives its "
            "start and end, and Retry-After the seconds until the end.",
            "This feature is under scheduled maintenance.",
        ),
        ErrorCode("AU001", 401, "Missing, malformed or expired token.", "Please log in again."),
        ErrorCode("AU002", 401, "Wrong customer id or password.", "Login failed."),
        ErrorCode(
            "RQ001", 422, "The request was malformed; the message names the field.", "Invalid."
        ),
        ErrorCode("RQ002", 404, "No such resource (or not the caller's).", "Not found."),
        ErrorCode(
            "TX001",
            409,
            "Insufficient funds or credit: the operation would overdraw an account.",
            "The balance is not enough for this operation.",
        ),
        ErrorCode(
            "TX002",
            409,
            "The Idempotency-Key was already used with a different request.",
            "This request conflicts with an earlier one that used the same key.",
        ),
        ErrorCode(
            "TX003",
            409,
            "The resource is in a state that does not allow the operation "
            "(already enrolled, payment already voided, ...).",
            "This operation is not possible in the current state.",
        ),
        ErrorCode("SV001", 500, "An internal error in the service itself.", "Internal error."),
        ErrorCode(
            "SV002",
            503,
            "The service itself is unavailable (it answered 503 on its own behalf).",
            "The service is temporarily unavailable.",
        ),
    )
}

#: What happened, for errors that start inside the answering service (an empty chain).
_ORIGIN_KINDS = {
    "AU001": "unauthenticated",
    "AU002": "wrong_credentials",
    "RQ001": "invalid_request",
    "RQ002": "not_found",
    "TX001": "insufficient_funds",
    "TX002": "idempotency_key_reused",
    "TX003": "state_conflict",
    "SV001": "internal_error",
    "SV002": "unavailable",
}

#: Codes that mean "a dependency failed"; the fragile bank shows them as NT003 / NT004.
DEPENDENCY_CODES = frozenset({"NT004", "DP001", "DP002", "DP003", "CD001", "OV002", "MT001"})


@dataclass(frozen=True, slots=True)
class CauseLink:
    """One link of a cause chain: ``service`` saw ``kind`` on ``edge`` (None: inside it)."""

    service: str
    edge: str | None
    kind: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "edge": self.edge,
            "kind": self.kind,
            "detail": self.detail,
        }


@dataclass
class ServiceError(Exception):
    """An error a handler answers with; turned into the standard error body.

    ``status`` overrides the code's HTTP status (e.g. a dependency's 4xx passed
    through); ``headers`` are added to the answer (Retry-After); ``extra`` adds
    keys next to code/message/cause (``waiting``, ``maintenance``, ``suspended``).
    """

    code: str
    cause: list[CauseLink] = field(default_factory=list)
    message: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise KeyError(f"unknown error code {self.code!r}")
        Exception.__init__(self, self.code)

    @property
    def http_status(self) -> int:
        return self.status or ERROR_CODES[self.code].http_status

    def originating_in(self, service: str) -> ServiceError:
        """This error with a cause chain: if it has none, it started in ``service`` itself."""
        if self.cause:
            return self
        link = CauseLink(service, None, _ORIGIN_KINDS.get(self.code, "error"))
        return ServiceError(
            self.code, [link], self.message, self.status, dict(self.headers), dict(self.extra)
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message or ERROR_CODES[self.code].message,
                "cause": [link.as_dict() for link in self.cause],
                **self.extra,
            }
        }
