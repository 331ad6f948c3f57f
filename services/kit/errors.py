"""Error codes, the error body every service answers with, and its cause chain.

Every error body is ``{"error": {"code", "message", "cause": [...]}}``. The
cause chain lists where the failure started first: each link names the
service that saw it, the edge it crossed and what happened (``timeout``,
``refused``, ``reset``, ``error``, ``overload``, ...). With ``truthful_codes``
off (the fragile profile) bank answers the way the incident's app did: NT003
text blaming the bank server, whatever actually failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ERROR_CODES", "CauseLink", "ErrorCode", "ServiceError"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
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
            "Shown by the app itself; bank sends it only in the fragile profile, wrongly.",
            "The connection to the bank was cut by a temporary error of the bank server.",
        ),
        ErrorCode(
            "NT004",
            504,
            "Bank was reached, but it or a dependency did not answer in time.",
            "No response from the server. Please try again shortly.",
        ),
        ErrorCode(
            "DP001",
            502,
            "A dependency refused or reset the connection.",
            "A partner service is unreachable right now.",
        ),
        ErrorCode(
            "DP002",
            502,
            "A dependency answered with an error.",
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
            "Card service unavailable: card features are degraded; other features work.",
            "Card features are temporarily unavailable. Your accounts are not affected.",
        ),
        ErrorCode(
            "OV001",
            429,
            "Overload: flow control is holding the request; retry after the given time.",
            "Many customers are using the service; you are in the queue.",
        ),
        ErrorCode(
            "FS001",
            503,
            "The feature is suspended by its kill switch.",
            "This feature is temporarily suspended because of heavy use.",
        ),
        ErrorCode(
            "MT001",
            503,
            "The feature's downstream is in a maintenance window; the body gives its end.",
            "This feature is under scheduled maintenance.",
        ),
        ErrorCode("AU001", 401, "Missing, malformed or expired token.", "Please log in again."),
        ErrorCode("AU002", 401, "Wrong customer id or password.", "Login failed."),
        ErrorCode("RQ001", 422, "The request was malformed.", "The request was invalid."),
        ErrorCode("RQ002", 404, "No such resource.", "Not found."),
        ErrorCode("SV001", 500, "An internal error in the service itself.", "Internal error."),
    )
}


@dataclass(frozen=True, slots=True)
class CauseLink:
    """One link of a cause chain: ``service`` saw ``kind`` on ``edge``."""

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
    """An error a handler answers with; turned into the standard error body."""

    code: str
    cause: list[CauseLink] = field(default_factory=list)
    message: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.code)

    @property
    def http_status(self) -> int:
        return self.status or ERROR_CODES[self.code].http_status

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message or ERROR_CODES[self.code].message,
                "cause": [link.as_dict() for link in self.cause],
                **self.extra,
            }
        }
