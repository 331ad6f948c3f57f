"""A service that dies during a run with no fault to explain it is a finding, never a
silent restart; a crash fault's own target is not such a death."""

from __future__ import annotations

import os
import signal
from xml.etree import ElementTree as ET

import pytest

from harness.backends.local import _LocalServices
from harness.experiment import RunResult, run_incident
from harness.experiment.observe import TrafficStats
from harness.files.incident_file import parse_spec
from harness.report import report_data
from harness.report.junit import render_junit
from harness.report.terminal import render_summary
from harness.stack import Stack

pytestmark = pytest.mark.chaos

# pay is crashed by the timeline (its death is the fault's); card is killed by the test.
SPEC = """\
id: card-dies-unexplained
title: pay crashed by the run, card killed by hand
date: "2026-12-06"
sources: [tests/chaos]
profiles: [hardened]
steady_state_s: 1
recovery_s: 1.5
journeys:
  - {journey: balance, users: 1, think_ms: 50}
  - {journey: card-tab, users: 1, think_ms: 50}
timeline:
  - {fault: crash, service: pay, onset_s: 0, hold_s: 2.5}
expect:
  hardened:
    journeys: {balance: [healthy, degraded, failed], card-tab: [healthy, degraded, failed]}
"""


def _run_killing(stack: Stack, service: str, at_s: float) -> tuple[RunResult, int]:
    """Run SPEC, SIGKILLing ``service`` by hand once the run's clock passes ``at_s``."""
    control = stack.injector.services
    assert isinstance(control, _LocalServices)
    killed: list[int] = []

    def progress(phase: str, elapsed_s: float, _left_s: float, _stats: TrafficStats) -> None:
        if not killed and elapsed_s >= at_s:
            pid = control.running[service].pid
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    spec = parse_spec(SPEC, source="card-dies-unexplained", topology=stack.topology)
    result = run_incident(stack, spec, "hardened", progress=progress)
    assert killed, "the run ended before the test could kill the service"
    return result, killed[0]


@pytest.mark.domino_profile("hardened")
def test_a_service_killed_by_hand_mid_run_is_named_with_its_exit_and_logs_and_the_run_is_not_a_pass(
    domino_stack: Stack,
) -> None:
    result, pid = _run_killing(domino_stack, "card", at_s=1.8)

    # card is the finding; pay, which the crash fault killed, is not.
    assert [d.service for d in result.service_deaths] == ["card"], result.service_deaths
    (death,) = result.service_deaths
    assert death.exit_code == -signal.SIGKILL
    assert death.exit_status == "killed by SIGKILL"
    assert death.log_tail, "its last log lines are kept"
    # Seen within the run's look (twice a second) of the kill, in the fault window.
    assert 1.8 <= death.at_s <= 1.8 + 1.5, death
    assert result.verdict.outcome == "inconclusive"
    assert result.verdict.reasons[0].startswith("service card was found dead at "), (
        result.verdict.reasons
    )
    assert "killed by SIGKILL" in result.verdict.reasons[0]
    # Started again once the faults were gone, before leftovers were read: a death is not
    # a fault left behind, and an error naming the dead card is not a lie.
    invariants = {i.name: i for i in result.verdict.invariants}
    assert invariants["no_fault_left"].holds, invariants["no_fault_left"]
    assert invariants["codes_truthful"].holds, invariants["codes_truthful"]
    control = domino_stack.injector.services
    assert isinstance(control, _LocalServices)
    assert control.running["card"].pid != pid
    assert control.running["card"].alive()

    # Every report says it: which service, when, its exit status, its last lines.
    data = report_data([result])
    (run,) = data["runs"]
    assert [d["service"] for d in run["service_deaths"]] == ["card"]
    assert run["service_deaths"][0]["exit_code"] == -9
    assert run["service_deaths"][0]["log_tail"] == list(death.log_tail)
    assert data["outcome"] == "inconclusive"
    summary = render_summary(data)
    assert "card at " in summary
    assert "killed by SIGKILL" in summary
    suites = ET.fromstring(render_junit(data))
    errors = [c for c in suites.iter("testcase") if c.find("error") is not None]
    assert [c.get("name") for c in errors] == ["service card lived through the run"]
    error = errors[0].find("error")
    assert error is not None
    assert "killed by SIGKILL" in error.get("message", "")
    assert death.log_tail[-1] in (error.text or "")
    assert suites.get("errors") == "1"


@pytest.mark.domino_profile("hardened")
def test_a_crash_faults_own_target_is_not_an_unexplained_death(domino_stack: Stack) -> None:
    spec = parse_spec(SPEC, source="card-dies-unexplained", topology=domino_stack.topology)
    result = run_incident(domino_stack, spec, "hardened")
    assert result.faults[0].touched
    assert result.service_deaths == []
    assert not any("found dead" in r or "died" in r for r in result.verdict.reasons)
    assert report_data([result])["runs"][0]["service_deaths"] == []
