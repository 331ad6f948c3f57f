"""The experiment a run takes (harness/model/incident.py): what an incident gives per profile,
and what an incident run keeps of the experiment it ran (harness/experiment/run.py)."""

from __future__ import annotations

import dataclasses

import pytest

from harness.experiment import RunResult
from harness.model.faults import Crash, Latency, Timeout
from harness.model.incident import Expectation, FaultStep, IncidentSpec, JourneyLoad
from harness.model.topology import Slo
from tests.specs_made import experiment_result, incident_spec

FRAGILE = Expectation({"card-tab": ("failed",)}, {}, {})
HARDENED = Expectation({"card-tab": ("degraded",)}, {}, {})


def _spec() -> IncidentSpec:
    return incident_spec(
        profiles=("fragile", "hardened"),
        journeys=(JourneyLoad("card-tab", 1, 100, Slo(1000.0, 0.99)),),
        background=(JourneyLoad("login", 2, 200, Slo(800.0, 0.99), True),),
        timeline=(
            FaultStep(Timeout(edge="card->pay"), 0.0, 4.0),
            FaultStep(Crash(service="remit"), 1.0, 5.0),
            FaultStep(Latency(edge="bank->card", latency_ms=300), 2.0, 1.0, ramp_s=1.0),
        ),
        expect={"fragile": FRAGILE, "hardened": HARDENED},
        steady_state_s=3.0,
        recovery_s=2.5,
        client_timeout_s=8.0,
    )


def test_an_incident_gives_each_profile_its_experiment() -> None:
    spec = _spec()
    fragile = spec.experiment("fragile")
    assert (fragile.journeys, fragile.background, fragile.timeline) == (
        spec.journeys,
        spec.background,
        spec.timeline,
    )
    assert (fragile.steady_state_s, fragile.recovery_s, fragile.client_timeout_s) == (3, 2.5, 8)
    assert fragile.expect == FRAGILE
    assert spec.experiment("hardened").expect == HARDENED
    assert spec.experiment().expect == Expectation.nothing()
    with pytest.raises(KeyError):
        spec.experiment("unknown")


def test_the_phases_and_faulted_places_are_the_experiments() -> None:
    spec = _spec()
    run = spec.experiment("fragile")
    assert run.fault_span_s == 6.0  # the crash, applied 1 s in and held 5 s, ends last
    assert (run.steady_window_s, run.fault_window_s, run.recovery_window_s) == (
        (0.0, 3.0),
        (3.0, 9.0),
        (9.0, 11.5),
    )
    assert run.floor_s == 11.5
    assert run.faulted_edges == {"card->pay", "bank->card"}
    assert run.faulted_services == {"remit"}
    # The spec says the same: its run has one shape whatever the profile.
    assert (spec.fault_span_s, spec.floor_s) == (run.fault_span_s, run.floor_s)
    assert (spec.faulted_edges, spec.faulted_services) == (
        run.faulted_edges,
        run.faulted_services,
    )


def test_an_incident_run_keeps_what_its_experiment_measured_and_the_spec() -> None:
    spec = _spec()
    measured = experiment_result(
        spec, "hardened", duration_s=12.0, service_invariants={"bank": {"ok": True}}
    )
    run = RunResult.of(spec, measured)
    assert run.spec is spec
    assert run.experiment == measured.experiment
    assert {f.name: getattr(run, f.name) for f in dataclasses.fields(measured)} == vars(measured)
    assert run.overhead_s == pytest.approx(0.5)
