"""Wall-clock times as the APIs show them: ISO 8601 in UTC, with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["epoch_of", "iso_utc"]


def iso_utc(epoch_s: float) -> str:
    """An epoch time as ``2024-12-04T00:20:00.000+00:00``."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def epoch_of(iso: str) -> float:
    """The epoch seconds of an ISO 8601 time (naive times are taken as UTC)."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
