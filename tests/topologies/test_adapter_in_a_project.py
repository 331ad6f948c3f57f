"""A team's own adapter, named in its domino.yaml by import path, is the one ``domino run``,
``domino matrix`` and the pytest plugin use, in a project outside Domino's checkout.

The project (``tests/topologies/team_project``, copied into a temporary folder)
has two stdlib services, an incident spec, a pytest file and ``team_adapter.py``,
whose adapter leaves a mark each time it reads a journey's answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent / "team_project"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "team"
    shutil.copytree(PROJECT, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "tests").mkdir()
    (folder / "team_tests.py").rename(folder / "tests" / "test_team.py")
    return folder


COMMANDS = {
    "run": ["-m", "harness.cli", "run", "incidents/back-slow.yaml", "--report", "reports"],
    "matrix": [
        "-m",
        "harness.cli",
        "matrix",
        "--topology",
        "domino.yaml",
        "--edges",
        "front->back",
        "--faults",
        "down",
        "--no-observe",
        "--steady-s",
        "1",
        "--hold-s",
        "1",
        "--report",
        "reports",
    ],
    "plugin": ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_teams_adapter_is_used(command: str, project: Path) -> None:
    mark = project / "adapter.mark"
    result = subprocess.run(
        [sys.executable, *COMMANDS[command]],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **os.environ,
            "DOMINO_HOME": str(project / ".domino"),
            "TEAM_ADAPTER_MARK": str(mark),
            # The project's own modules (its adapter) first, then Domino's checkout.
            "PYTHONPATH": os.pathsep.join([str(project), str(ROOT)]),
        },
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert mark.read_text() == "read an answer", "the team's adapter was not the one used"
