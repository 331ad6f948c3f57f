"""Every shipped incident, under every profile it declares, meets its expectations —
and gives the same verdict on every check in three runs (floods: one run each; the
fragile K Bank floods' reports also count the failed actions that moved money).

The three runs go side by side, each on a stack of its own (the session's, and two
more started for the test): an incident's time is its holds, mostly spent waiting,
and isolated stacks share nothing (own ports, proxies, data and run record), so
running them at once is also a test that one run cannot disturb another.

The long proof is a soak: ``.venv/bin/domino run --all --profile all --repeat 20``
(docs/reliability.md has its figures)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from harness.backends import start_stack
from harness.experiment import run_incident
from harness.library import list_incidents
from harness.model.faults import Flood
from harness.model.incident import IncidentSpec
from harness.pytest_plugin import StackPool
from harness.report import report_data
from harness.report.terminal import render_summary
from tests.incidents.flood_outcomes import KBANK_FLOODS, assert_failed_actions_moved_money

pytestmark = pytest.mark.chaos

#: Runs of each incident that is not a flood. Incidents with a flood (open-loop load,
#: ~25-40 s a run, then the drain) run once here, alone on their worker's stack (their
#: load engine's lag is judged); their stability is the soak's (20 repeats,
#: docs/reliability.md).
RUNS = 3
CASES = [(spec, profile) for spec in list_incidents() for profile in spec.profiles]


@pytest.mark.parametrize(("spec", "profile"), CASES, ids=[f"{s.id}-{p}" for s, p in CASES])
def test_incident_meets_its_expectations_in_three_runs(
    spec: IncidentSpec, profile: str, domino_stack_pool: StackPool, request: pytest.FixtureRequest
) -> None:
    backend = request.config.getoption("--domino-backend")
    stack = domino_stack_pool.get(backend, profile)
    verdicts = []
    floods = any(isinstance(step.fault, Flood) for step in spec.timeline)
    with ExitStack() as more:
        if floods:
            results = [run_incident(stack, spec, profile)]
        else:
            with ThreadPoolExecutor(max_workers=RUNS) as pool:
                starting = [
                    start_stack(backend, topology=stack.topology, profile=profile)
                    for _ in range(RUNS - 1)
                ]
                stacks = [stack, *pool.map(more.enter_context, starting)]
                results = list(pool.map(lambda s: run_incident(s, spec, profile), stacks))
    for run, result in enumerate(results):
        summary = render_summary(report_data([result]))
        assert result.verdict.outcome == "pass", f"run {run + 1}:\n{summary}"
        # Every fault reached traffic (otherwise the outcome would be inconclusive).
        assert all(window.touched for window in result.faults), summary
        if spec.id in KBANK_FLOODS and profile == "fragile":
            assert_failed_actions_moved_money(result, summary)
        verdicts.append(tuple((c.name, c.passed) for c in result.verdict.checks))
    assert len(set(verdicts)) == 1, verdicts
