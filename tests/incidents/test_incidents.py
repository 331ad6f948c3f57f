"""Every shipped incident, under every profile it declares, meets its expectations."""

from __future__ import annotations

import pytest

from harness.experiment import run_incident
from harness.library import list_incidents
from harness.pytest_plugin import StackPool
from harness.report import report_data
from harness.report.terminal import render_summary

pytestmark = pytest.mark.chaos

CASES = [(spec, profile) for spec in list_incidents() for profile in spec.profiles]


@pytest.mark.parametrize(("spec", "profile"), CASES, ids=[f"{s.id}-{p}" for s, p in CASES])
def test_incident_meets_its_expectations(
    spec,
    profile: str,
    domino_stack_pool: StackPool,
    request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
) -> None:
    backend = request.config.getoption("--domino-backend")
    stack = domino_stack_pool.get(backend, profile)
    result = run_incident(stack, spec, profile)
    summary = render_summary(report_data([result]))
    assert result.verdict.outcome == "pass", summary
    # The fault reached traffic: otherwise the outcome would be inconclusive.
    assert all(window.touched for window in result.faults), summary
