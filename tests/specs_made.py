"""Incident specs and run results built in code for unit tests: every field needed,
overridable."""

from __future__ import annotations

from typing import Any

from harness.experiment import ExperimentResult
from harness.model.incident import IncidentSpec
from harness.model.outcomes import RunVerdict

__all__ = ["experiment_result", "incident_spec"]


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


def experiment_result(spec: IncidentSpec, profile: str, **fields: Any) -> ExperimentResult:
    """What a run of ``spec``'s experiment under ``profile`` measured: nothing observed, a
    pass, each window as the experiment gives it, unless given."""
    experiment = spec.experiment(profile)
    defaults: dict[str, Any] = {
        "backend": "local",
        "toxiproxy_version": "2.12.0",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration_s": experiment.floor_s,
        "steady_window_s": experiment.steady_window_s,
        "fault_window_s": experiment.fault_window_s,
        "recovery_window_s": experiment.recovery_window_s,
        "faults": [],
        "observations": [],
        "background": [],
        "verdict": RunVerdict("pass", (), (), (), (), (), ()),
    }
    return ExperimentResult(experiment=experiment, profile=profile, **{**defaults, **fields})
