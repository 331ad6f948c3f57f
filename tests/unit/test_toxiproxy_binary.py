"""Finding toxiproxy-server: explicit setting, PATH, tools folder, else a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ToxiproxyNotFoundError
from harness.toxiproxy.binary import find_toxiproxy


@pytest.fixture
def no_toxiproxy_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DOMINO_TOXIPROXY_BIN", raising=False)
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    return tmp_path


@pytest.mark.usefixtures("no_toxiproxy_anywhere")
def test_missing_binary_message_lists_every_way_to_get_one() -> None:
    with pytest.raises(ToxiproxyNotFoundError) as info:
        find_toxiproxy()
    message = str(info.value)
    for way in (
        "domino toxiproxy install",
        "go install",
        "brew install toxiproxy",
        "ghcr.io/shopify/toxiproxy:2.12.0",
        "releases",
        "DOMINO_TOXIPROXY_BIN",
    ):
        assert way in message
    assert "\n" not in message


def test_explicit_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "toxiproxy-server"
    with pytest.raises(ToxiproxyNotFoundError, match=str(missing)):
        find_toxiproxy(missing)


def test_tools_folder_is_used_when_path_has_none(no_toxiproxy_anywhere: Path) -> None:
    tools = no_toxiproxy_anywhere / "home" / "tools"
    tools.mkdir(parents=True)
    binary = tools / "toxiproxy-server"
    binary.write_text("#!/bin/sh\necho toxiproxy-server version 2.12.0\n")
    binary.chmod(0o755)
    assert find_toxiproxy() == binary.resolve()


def test_cli_without_toxiproxy_exits_3_with_the_message_and_starts_nothing(
    no_toxiproxy_anywhere: Path,
) -> None:
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "toxiproxy-server is not installed" in result.stderr
    assert "Traceback" not in result.stderr
    runs = no_toxiproxy_anywhere / "home" / "runs"
    assert not runs.exists() or not list(runs.iterdir())
