"""A shop whose services read their addresses from files, copied per test (it is written in)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SYSTEM = Path(__file__).parent / "system"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and permission bits, by relative path."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mode & 0o7777)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``system/`` to run (a user's working copy), with its own DOMINO_HOME."""
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    copy = tmp_path / "shop"
    shutil.copytree(SYSTEM, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy
