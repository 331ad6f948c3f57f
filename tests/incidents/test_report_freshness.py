"""`domino run --report DIR`: every report in DIR is this run's, or says the run did not
finish; a second run into DIR meanwhile is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness.infra.readiness import wait_until
from harness.toxiproxy.binary import find_toxiproxy

pytestmark = pytest.mark.chaos

SPEC = """\
id: {id}
title: A run whose reports must be its own
date: "2026-12-06"
sources: [tests/incidents]
profiles: [hardened]
steady_state_s: {steady_s}
recovery_s: 1.5
journeys:
  - {{journey: balance, users: 1, think_ms: 50}}
  - {{journey: card-tab, users: 1, think_ms: 50}}
timeline:
  - {{fault: latency, edge: "card->pay", latency_ms: 300, hold_s: 2}}
expect:
  hardened:
    journeys: {{balance: healthy}}
    invariants: {{no_fault_left: holds}}
"""


def _start(tmp_path: Path, name: str, report: Path, steady_s: float = 1) -> subprocess.Popen[str]:
    """``domino run`` of a spec named ``name`` into ``report``; stderr goes to NAME.err."""
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(id=name, steady_s=steady_s))
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(spec), "--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / f"{name}.err").open("w"),
        text=True,
        env=dict(
            os.environ,
            DOMINO_HOME=str(tmp_path / f"home-{name}"),
            DOMINO_TOXIPROXY_BIN=str(find_toxiproxy()),
        ),
    )


def _wait_for(path: Path, text: str, process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    wait_until(
        lambda: path.exists() and text in path.read_text(),
        timeout_s=timeout_s,
        interval_s=0.05,
        what=f"{text!r} in {path}",
        abort=lambda: None if process.poll() is None else f"the run ended ({process.returncode})",
    )


def _cases(junit: Path) -> list[tuple[str, str]]:
    """Each test case of a JUnit file: (name, failure / error / skipped / passed)."""
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        status = next(
            (tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None),
            "passed",
        )
        found.append((case.get("name", ""), status))
    return found


def test_a_run_interrupted_after_a_passing_one_leaves_no_passing_junit(tmp_path: Path) -> None:
    report = tmp_path / "report"
    first = _start(tmp_path, "first", report)
    out, _ = first.communicate(timeout=180)
    assert first.returncode == 0, out + (tmp_path / "first.err").read_text()
    assert {status for _, status in _cases(report / "junit.xml")} == {"passed"}

    second = _start(tmp_path, "second", report, steady_s=30)
    _wait_for(tmp_path / "second.err", "stack ready", second)
    second.send_signal(signal.SIGINT)
    second.communicate(timeout=60)
    assert second.returncode == 130, (tmp_path / "second.err").read_text()

    # Nothing of the first run is left to be read as this one's pass.
    cases = _cases(report / "junit.xml")
    assert cases == [("the run finished", "error")], cases
    root = ET.parse(report / "junit.xml").getroot()
    assert root.get("errors") == "1"
    error = root.find("testsuite/testcase/error")
    assert error is not None
    assert error.get("message", "").startswith("the run did not finish: interrupted")
    data = json.loads((report / "report.json").read_text())
    assert data["complete"] is False
    assert data["outcome"] == "incomplete"
    assert data["reason"].startswith("interrupted")
    assert data["runs"] == []
    assert "did not finish" in (report / "report.html").read_text()
    assert sorted(p.name for p in report.iterdir()) == ["junit.xml", "report.html", "report.json"]


def test_a_second_run_into_a_busy_report_folder_is_refused_and_the_first_keeps_its_reports(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report"
    first = _start(tmp_path, "first", report, steady_s=4)
    _wait_for(tmp_path / "first.err", "stack ready", first)
    # While the first runs, its reports say so.
    assert json.loads((report / "report.json").read_text())["complete"] is False

    began = time.monotonic()
    second = _start(tmp_path, "second", report)
    out, _ = second.communicate(timeout=60)
    refused = (tmp_path / "second.err").read_text()
    assert second.returncode == 2, out + refused
    assert time.monotonic() - began < 15
    assert refused.count("\n") == 1, refused
    assert refused.startswith(f"domino: error: --report {report}: another domino run (pid ")
    assert "is writing its reports there" in refused
    assert "starting" not in refused  # refused before anything started
    assert not (tmp_path / "home-second" / "runs").exists() or not list(
        (tmp_path / "home-second" / "runs").iterdir()
    )

    out, _ = first.communicate(timeout=180)
    assert first.returncode == 0, out + (tmp_path / "first.err").read_text()
    data = json.loads((report / "report.json").read_text())
    assert data["complete"] is True
    assert [run["incident"]["id"] for run in data["runs"]] == ["first"]
    assert {status for _, status in _cases(report / "junit.xml")} == {"passed"}
    assert not (report / ".domino-report.lock").exists()
