"""Every shipped incident, under every profile it declares, meets its expectations —
and gives the same verdict on every check three runs in a row (floods: one run each;
the fragile K Bank floods' reports also count the failed actions that moved money).

The long proof is a soak: ``.venv/bin/domino run --all --profile all --repeat 20``
(docs/reliability.md has its figures)."""

from __future__ import annotations

import pytest

from harness.experiment import run_incident
from harness.library import list_incidents
from harness.model.faults import Flood
from harness.model.incident import IncidentSpec
from harness.pytest_plugin import StackPool
from harness.report import report_data
from harness.report.terminal import render_summary
from tests.incidents.flood_outcomes import KBANK_FLOODS, assert_failed_actions_moved_money

pytestmark = pytest.mark.chaos

REPEATS = 3
#: Incidents with a flood (open-loop load, ~25-40 s a run, then the drain) run once here;
#: their stability is the soak's (20 repeats, docs/reliability.md).
FLOOD_REPEATS = 1
CASES = [(spec, profile) for spec in list_incidents() for profile in spec.profiles]


@pytest.mark.parametrize(("spec", "profile"), CASES, ids=[f"{s.id}-{p}" for s, p in CASES])
def test_incident_meets_its_expectations_three_runs_in_a_row(
    spec: IncidentSpec, profile: str, domino_stack_pool: StackPool, request: pytest.FixtureRequest
) -> None:
    stack = domino_stack_pool.get(request.config.getoption("--domino-backend"), profile)
    verdicts = []
    floods = any(isinstance(step.fault, Flood) for step in spec.timeline)
    for run in range(FLOOD_REPEATS if floods else REPEATS):
        result = run_incident(stack, spec, profile)
        summary = render_summary(report_data([result]))
        assert result.verdict.outcome == "pass", f"run {run + 1}:\n{summary}"
        # Every fault reached traffic (otherwise the outcome would be inconclusive).
        assert all(window.touched for window in result.faults), summary
        if spec.id in KBANK_FLOODS and profile == "fragile":
            assert_failed_actions_moved_money(result, summary)
        verdicts.append(tuple((c.name, c.passed) for c in result.verdict.checks))
    assert len(set(verdicts)) == 1, verdicts
