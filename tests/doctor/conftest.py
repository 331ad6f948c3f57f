"""The doctor's test shop, copied per test (a test writes the developer's own.json into it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SYSTEM = Path(__file__).parent / "system"


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``system/`` (its domino.yaml at ``shop / "domino.yaml"``), own DOMINO_HOME."""
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    copy = tmp_path / "shop"
    shutil.copytree(SYSTEM, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy
