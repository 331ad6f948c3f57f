"""Where Domino keeps its own files: tools, run state for reconciling, logs, data.

``DOMINO_HOME`` overrides the default ``./.domino`` (relative to the working
directory, like ``.pytest_cache``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["domino_home"]


def domino_home() -> Path:
    """The folder for Domino's tools, run state and per-run data."""
    return Path(os.environ.get("DOMINO_HOME", ".domino")).expanduser().absolute()
