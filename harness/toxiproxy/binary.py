"""Finding the ``toxiproxy-server`` binary, or building it with ``go install``.

Search order: an explicit path (argument or ``DOMINO_TOXIPROXY_BIN``), then
``toxiproxy-server`` on PATH, then the project's tools folder
(``$DOMINO_HOME/tools``, default ``./.domino/tools``). Installing builds the
pinned release from the Go module proxy, which also works on machines that
reach no container registry and no GitHub downloads (air-gapped mode).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import ToxiproxyInstallError, ToxiproxyNotFoundError
from harness.home import domino_home

__all__ = ["BINARY_NAME", "TOXIPROXY_VERSION", "find_toxiproxy", "install_toxiproxy", "tools_dir"]

TOXIPROXY_VERSION = "2.12.0"
BINARY_NAME = "toxiproxy-server"
_MODULE = "github.com/Shopify/toxiproxy/v2"

HOW_TO_GET = (
    "get toxiproxy-server v" + TOXIPROXY_VERSION + " in one of these ways: "
    "`domino toxiproxy install` (needs Go; runs `go install "
    + _MODULE
    + "/cmd/server@v"
    + TOXIPROXY_VERSION
    + "`); a release binary from github.com/Shopify/toxiproxy/releases "
    "on PATH as toxiproxy-server; `brew install toxiproxy` (macOS); or the Docker image "
    "ghcr.io/shopify/toxiproxy:" + TOXIPROXY_VERSION + " with `--backend docker`. "
    "Point DOMINO_TOXIPROXY_BIN at a binary kept elsewhere."
)


def tools_dir() -> Path:
    """The project-local folder Domino installs tools into (git-ignored)."""
    return domino_home() / "tools"


def find_toxiproxy(explicit: str | Path | None = None) -> Path:
    """Locate toxiproxy-server; raise ToxiproxyNotFoundError listing every way to get it."""
    configured = explicit if explicit is not None else os.environ.get("DOMINO_TOXIPROXY_BIN")
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path.resolve()
        raise ToxiproxyNotFoundError(
            f"toxiproxy-server not found at {path} (from --toxiproxy-bin or "
            f"DOMINO_TOXIPROXY_BIN): no executable file there; {HOW_TO_GET}"
        )
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path).resolve()
    local = tools_dir() / BINARY_NAME
    if local.is_file() and os.access(local, os.X_OK):
        return local.resolve()
    raise ToxiproxyNotFoundError(f"toxiproxy-server is not installed; {HOW_TO_GET}")


def install_toxiproxy(*, force: bool = False, go: str | None = None) -> Path:
    """Build toxiproxy-server with `go install` into the tools folder and return its path.

    Reuses an existing binary unless ``force``. The Go build and module caches
    are the user's own, so a second install on the same machine is quick.
    """
    target = tools_dir() / BINARY_NAME
    if target.is_file() and not force:
        return target
    go_bin = go or shutil.which("go")
    if go_bin is None:
        raise ToxiproxyNotFoundError(f"cannot install Toxiproxy: `go` is not on PATH; {HOW_TO_GET}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="domino-go-") as gobin:
        env = dict(os.environ, GOBIN=gobin, GOFLAGS=os.environ.get("GOFLAGS", "-mod=mod"))
        command = [
            go_bin,
            "install",
            f"-ldflags=-X {_MODULE}.Version={TOXIPROXY_VERSION}",
            f"{_MODULE}/cmd/server@v{TOXIPROXY_VERSION}",
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = " | ".join(result.stderr.strip().splitlines()[-3:])
            raise ToxiproxyInstallError(
                f"`{' '.join(command)}` failed (exit {result.returncode}): {tail}; {HOW_TO_GET}"
            )
        shutil.move(str(Path(gobin) / "server"), target)
    target.chmod(0o755)
    return target


def binary_version(binary: Path) -> str:
    """The version a toxiproxy-server binary reports (``-version``)."""
    result = subprocess.run(
        [str(binary), "-version"], capture_output=True, text=True, check=False, timeout=10
    )
    words = result.stdout.split()
    return words[-1] if words else "unknown"
