"""A shop whose services read their addresses from files, copied per test (it is written in)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.infra.readiness import wait_until
from harness.infra.runstate import RunRecord

SYSTEM = Path(__file__).parent / "system"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and permission bits, by relative path."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mode & 0o7777)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def sigkill_domino_up(system: Path, backend: str, *, timeout_s: float) -> Path:
    """Start ``domino up`` on ``system``, SIGKILL it once its stack is up; its run record."""
    runner = subprocess.Popen(
        [
            *(sys.executable, "-m", "harness.cli", "up", "--backend", backend),
            *("--topology", str(system / "domino.yaml")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    record_path = Path(os.environ["DOMINO_HOME"]) / "runs" / f"{backend}-{runner.pid}.json"

    def up() -> bool:
        assert runner.poll() is None, "domino up ended"
        return record_path.is_file() and "stack" in RunRecord.load(record_path).extra

    try:
        wait_until(up, timeout_s=timeout_s, what=f"domino up --backend {backend}")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    return record_path


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``system/`` to run (a user's working copy), with its own DOMINO_HOME."""
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    copy = tmp_path / "shop"
    shutil.copytree(SYSTEM, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy
