"""`domino run FILE`: exit codes 0 / 1 / 3, and the reports it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness.toxiproxy.binary import find_toxiproxy

pytestmark = pytest.mark.chaos

SPEC = """\
id: {id}
title: A user's own spec
date: "2026-11-21"
sources: [the team's postmortem]
profiles: [hardened]
steady_state_s: 1
recovery_s: 1.5
journeys:
  - {{journey: balance, users: 1, think_ms: 50}}
{extra_journey}
timeline:
  - {{fault: latency, edge: "{edge}", latency_ms: 300, hold_s: 2, ramp_s: 1}}
expect:
  hardened:
    journeys: {{balance: {balance}}}
    invariants: {{no_fault_left: holds}}
"""


CARD_TAB = "  - {journey: card-tab, users: 1, think_ms: 50}"


def _run(tmp_path: Path, **fields: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(**{"extra_journey": CARD_TAB, **fields}))
    report = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(spec), "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=dict(
            os.environ,
            DOMINO_HOME=str(tmp_path / "home"),
            DOMINO_TOXIPROXY_BIN=str(find_toxiproxy()),
        ),
    )
    return result, report


def test_a_met_expectation_exits_0_and_writes_json_junit_and_html(tmp_path: Path) -> None:
    result, report = _run(tmp_path, id="own-pass", edge="card->pay", balance="healthy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "own-pass [hardened] on local: PASS" in result.stdout
    data = json.loads((report / "report.json").read_text())
    assert data["outcome"] == "pass"
    run = data["runs"][0]
    assert run["faults"][0]["touched"] is True
    assert run["timeseries"]["balance"], "every call is recorded"
    suite = ET.parse(report / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == len(run["verdict"]["checks"])
    assert (report / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert not list((tmp_path / "home" / "runs").iterdir())  # the stack is gone


def test_a_failed_expectation_exits_1_and_junit_lists_the_failure(tmp_path: Path) -> None:
    result, report = _run(tmp_path, id="own-fail", edge="card->pay", balance="failed")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "journey balance during the fault: expected failed" in result.stdout
    failures = ET.parse(report / "junit.xml").getroot().findall(".//failure")
    assert len(failures) == 1


def test_a_fault_that_touches_no_traffic_is_inconclusive_and_exits_3(tmp_path: Path) -> None:
    # Only the balance journey runs: nothing crosses card->pay, so the fault proves nothing.
    result, report = _run(
        tmp_path, id="own-untouched", edge="card->pay", balance="healthy", extra_journey=""
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "INCONCLUSIVE" in result.stdout
    assert "fault never touched traffic" in result.stdout
    data = json.loads((report / "report.json").read_text())
    assert data["outcome"] == "inconclusive"
    assert data["runs"][0]["faults"][0]["touched"] is False
