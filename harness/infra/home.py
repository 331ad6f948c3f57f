"""Where Domino keeps its own files: run records for reconciling, logs, per-run data, the
matrix's observed graphs (``observed/``), tools.

The state folder is ``--state-dir DIR`` (every command takes it), else
``$DOMINO_HOME``, else ``./.domino`` in the working directory (like
``.pytest_cache``: a project's own, git-ignored). ``--state-dir`` sets
``DOMINO_HOME`` for the command and everything it starts, so one value holds
everywhere. Reports go elsewhere: ``--report DIR`` (default ``reports/...``).
A read-only checkout works with both pointed at writable places.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UsageError

__all__ = ["DEFAULT_HOME", "HOME_ENV", "domino_home", "make_state_folder", "use_state_dir"]

#: The environment variable that names the state folder (``--state-dir`` sets it).
HOME_ENV = "DOMINO_HOME"
#: The state folder when neither ``--state-dir`` nor ``DOMINO_HOME`` says one.
DEFAULT_HOME = ".domino"


def domino_home() -> Path:
    """The folder for Domino's run records, logs, per-run data and project tools."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().absolute()


def use_state_dir(folder: str | Path) -> Path:
    """Make ``folder`` the state folder of this process and of everything it starts."""
    path = Path(folder).expanduser().absolute()
    os.environ[HOME_ENV] = str(path)
    return path


def make_state_folder(folder: Path) -> Path:
    """``folder`` (in the state folder) made if missing.

    UsageError, one line, when it cannot be: a read-only checkout with the
    default ``./.domino``, say, is told how to choose another place.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(
            f"cannot write Domino's state folder {domino_home()} ({reason}: {folder}); "
            f"choose a writable one with --state-dir DIR or {HOME_ENV}=DIR"
        ) from None
    return folder
