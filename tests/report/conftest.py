"""Report tests: the sample report data, and a real Chromium for the rendering test.

``sample_report.json`` is what ``domino run`` wrote for the KB Pay 2023
incident under the fragile and hardened profiles; every test gets a fresh copy
so it may change it freely.

The rendering test needs a headless Chromium (Debian: ``apt-get install -y
chromium``; elsewhere point ``DOMINO_CHROMIUM`` at a Chrome or Chromium
binary). Without one it is skipped with the reason, unless
``DOMINO_REQUIRE_CHROMIUM=1`` (CI sets it and installs chromium): then it
fails, so a CI machine that lost its browser can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.report.samples import load_sample

REQUIRE_ENV = "DOMINO_REQUIRE_CHROMIUM"
BINARY_ENV = "DOMINO_CHROMIUM"
#: Names the browser goes by on PATH: Debian's package, other distributions, Google's build.
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture
def sample() -> dict[str, Any]:
    """The sample report data (two runs), freshly loaded."""
    return load_sample()


def find_chromium() -> tuple[Path | None, str]:
    """The browser binary, or None and why none was found."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return path, ""
        return None, f"{BINARY_ENV}={explicit} is not an executable file"
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return Path(found), ""
    return None, (
        f"no Chromium on PATH (looked for {', '.join(_NAMES)}); "
        f"install it (Debian: apt-get install -y chromium) or set {BINARY_ENV}"
    )


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary; skips (or fails under ``DOMINO_REQUIRE_CHROMIUM=1``) without one."""
    path, problem = find_chromium()
    if path is not None:
        return path
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {problem}", pytrace=False)
    pytest.skip(problem)
