"""Incident specs built in code for unit tests: every field a run needs, overridable."""

from __future__ import annotations

from typing import Any

from harness.model.incident import IncidentSpec

__all__ = ["incident_spec"]


def incident_spec(**fields: Any) -> IncidentSpec:
    """An :class:`IncidentSpec` with no journeys, faults or expectations unless given."""
    defaults: dict[str, Any] = {
        "id": "made-in-a-test",
        "title": "made in a test",
        "date": "2026-01-01",
        "sources": (),
        "summary": "",
        "profiles": ("hardened",),
        "journeys": (),
        "background": (),
        "timeline": (),
        "expect": {},
        "steady_state_s": 1.0,
        "recovery_s": 1.0,
        "client_timeout_s": 5.0,
    }
    return IncidentSpec(**{**defaults, **fields})
