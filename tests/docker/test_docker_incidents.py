"""The KB Pay incident on the Docker backend, under both profiles, meets its expectations."""

from __future__ import annotations

import pytest

from harness.experiment import run_incident
from harness.library import find_incident
from harness.pytest_plugin import StackPool
from harness.report import report_data
from harness.report.terminal import render_summary

pytestmark = [pytest.mark.chaos, pytest.mark.docker]


@pytest.mark.parametrize("profile", ["fragile", "hardened"])
def test_kbpay_on_docker_meets_its_expectations(profile: str, domino_stack_pool: StackPool) -> None:
    spec = find_incident("kbpay-2023-01-25")
    stack = domino_stack_pool.get("docker", profile)
    result = run_incident(stack, spec, profile)
    assert result.backend == "docker"
    assert result.verdict.outcome == "pass", render_summary(report_data([result]))
    assert all(window.touched for window in result.faults)
