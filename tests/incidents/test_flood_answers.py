"""Flood verdicts tell "told to wait before anything happened" from "failed after applying".

- A remittance flood while the remittance network is in maintenance
  (``specs/remit-flood.yaml``): fragile bank debits each remittance, then
  answers NT003, a 503 that looked like "wait" to the old judge, which let
  ``surge_answered`` hold; now each is a false wait and failed but applied,
  and the check is broken. Hardened answers MT001 before debiting: told to
  wait, nothing applied, the check holds.
- The K Bank floods (fragile): the app's timeouts were all reported failed,
  yet bank's books hold every one of them; the report says how many
  (``tests/incidents/flood_outcomes.py``, checked on the incident suite's own
  run of each in ``test_incidents.py``).

Each fails on the judge that counted every 429/503 as an answer and never
asked the system what it applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.experiment import run_incident
from harness.library import find_incident
from harness.pytest_plugin import StackPool
from harness.report import report_data
from harness.report.terminal import render_summary
from tests.incidents.flood_outcomes import flood_of as _flood

pytestmark = pytest.mark.chaos

REMIT_FLOOD = Path(__file__).parent / "specs" / "remit-flood.yaml"


def test_a_fragile_remittance_flood_under_a_remit_outage_breaks_surge_answered(
    domino_stack_pool: StackPool, request: pytest.FixtureRequest
) -> None:
    spec = find_incident(str(REMIT_FLOOD))
    stack = domino_stack_pool.get(request.config.getoption("--domino-backend"), "fragile")
    result = run_incident(stack, spec, "fragile")
    summary = render_summary(report_data([result]))
    assert result.verdict.outcome == "pass", summary
    answered = next(i for i in result.verdict.invariants if i.name == "surge_answered")
    assert not answered.holds, summary
    outcomes = _flood(result)["outcomes"]
    assert isinstance(outcomes, dict)
    # Every NT003 was sent after the money had left: a false wait, failed but applied.
    assert outcomes["told_to_wait"] == 0, outcomes
    assert outcomes["false_waits"] > 0, outcomes
    assert outcomes["failed_but_applied"] == outcomes["failed"] > 0, outcomes
    assert f"{outcomes['failed_but_applied']} failed but applied" in summary


def test_a_hardened_remittance_flood_under_a_remit_outage_is_told_to_wait(
    domino_stack_pool: StackPool, request: pytest.FixtureRequest
) -> None:
    spec = find_incident(str(REMIT_FLOOD))
    stack = domino_stack_pool.get(request.config.getoption("--domino-backend"), "hardened")
    result = run_incident(stack, spec, "hardened")
    summary = render_summary(report_data([result]))
    assert result.verdict.outcome == "pass", summary
    outcomes = _flood(result)["outcomes"]
    assert isinstance(outcomes, dict)
    assert outcomes["told_to_wait"] > 0, outcomes  # MT001, nothing debited
    assert outcomes["false_waits"] == outcomes["failed_but_applied"] == 0, outcomes
    assert "0 failed but applied" in summary
