"""The shop example: its binaries built once per session by its own build script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SHOP_DIR = Path(__file__).resolve().parents[2] / "examples" / "shop"


@pytest.fixture(scope="session")
def shop_binaries() -> Path:
    """``examples/shop/bin/``, built with the shop's own ``build.sh`` (static Go, no network)."""
    result = subprocess.run(
        ["bash", str(SHOP_DIR / "build.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"examples/shop/build.sh failed: {result.stderr[-2000:]}"
    return SHOP_DIR / "bin"
