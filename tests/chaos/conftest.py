"""Fixtures of the chaos tests that run stacks of their own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOMINO_HOME that still finds the project's Toxiproxy binary."""
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
