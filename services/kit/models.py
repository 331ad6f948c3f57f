"""The API vocabulary every service shares: error body, notices, text, Idempotency-Key.

These models exist for the OpenAPI documents (and so for the schema-driven
fuzz run): every status a route may answer is declared with its body, so
a client generated from the schema, or schemathesis, knows exactly what
to expect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Header
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.kit.errors import ERROR_CODES, CauseLink
from services.kit.idempotency import KEY_PATTERN

__all__ = [
    "ERROR_STATUSES",
    "CauseLinkOut",
    "ErrorBody",
    "IdempotencyKey",
    "Notice",
    "RequestModel",
    "Text",
    "error_responses",
    "notice",
]


def _encodable(value: str) -> str:
    # JSON may carry lone surrogates ("\ud800"); they are not text and SQLite cannot store them.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


#: A string that is valid Unicode without NUL, safe to store and echo.
Text = Annotated[str, AfterValidator(_encodable)]

#: The optional ``Idempotency-Key`` header of money operations.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        max_length=128,
        description="Retrying with the same key returns the first answer; the operation "
        "is applied exactly once, across retries and restarts.",
    ),
]


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are refused, and types are strict.

    Strict because these bodies carry money: ``true`` is not the amount 1 and
    ``"100"`` is not 100; a client that sends them gets 422 with the field named.
    """

    model_config = ConfigDict(extra="forbid", strict=True)


class CauseLinkOut(BaseModel):
    """``service`` saw ``kind`` on ``edge`` (null: inside the service)."""

    service: str
    edge: str | None
    kind: str
    detail: str = ""


class Waiting(BaseModel):
    position: int = Field(description="Requests held in the last second, this one included.")
    retry_after_s: int = Field(description="Come back after this many seconds.")


class MaintenanceWindow(BaseModel):
    id: str
    starts_at: str = Field(description="ISO 8601, UTC")
    ends_at: str = Field(description="ISO 8601, UTC")
    reason: str = ""


class SuspendedFeature(BaseModel):
    feature: str
    since: str
    until: str | None
    exceptions: list[str]


class ErrorDetail(BaseModel):
    code: str = Field(description="A code from GET /error-codes.")
    message: str = Field(description="The message the user sees.")
    cause: list[CauseLinkOut] = Field(description="Where the failure started, first.")
    waiting: Waiting | None = None
    maintenance: MaintenanceWindow | None = None
    suspended: SuspendedFeature | None = None


class ErrorBody(BaseModel):
    """Every error answer."""

    error: ErrorDetail


class Notice(BaseModel):
    """Attached to a degraded success: what is missing and why."""

    code: str
    message: str
    cause: list[CauseLinkOut] = Field(default_factory=list)


#: HTTP statuses of every code in the table.
ERROR_STATUSES = sorted({c.http_status for c in ERROR_CODES.values()})


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring the error body for each status, with its codes."""
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        codes = sorted(c.code for c in ERROR_CODES.values() if c.http_status == status)
        declared[status] = {
            "model": ErrorBody,
            "description": "Error: " + ", ".join(codes) if codes else "Error",
        }
    return declared


def notice(code: str, message: str, cause: Iterable[CauseLink]) -> Notice:
    """A notice for a degraded answer, carrying the cause chain of what failed."""
    return Notice(
        code=code, message=message, cause=[CauseLinkOut(**link.as_dict()) for link in cause]
    )
