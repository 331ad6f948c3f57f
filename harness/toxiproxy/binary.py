"""Finding the ``toxiproxy-server`` binary, or building it with ``go install``.

Search order: an explicit path (argument or ``DOMINO_TOXIPROXY_BIN``), then
``toxiproxy-server`` on PATH, then the project's tools folder
(``$DOMINO_HOME/tools``, default ``./.domino/tools``), then the per-user cache
(``$XDG_CACHE_HOME/domino/tools``, default ``~/.cache/domino/tools``), so a
binary installed once is found from every project on the machine.

Installing builds the pinned release from the Go module proxy, which also
works on machines that reach no container registry and no GitHub downloads
(air-gapped mode). It installs into the per-user cache, or into
``$DOMINO_HOME/tools`` when ``DOMINO_HOME`` is set (a project that keeps its
own tools).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import ToxiproxyInstallError, ToxiproxyNotFoundError
from harness.infra.home import domino_home

__all__ = [
    "BINARY_NAME",
    "TOXIPROXY_VERSION",
    "binary_version",
    "find_toxiproxy",
    "install_dir",
    "install_toxiproxy",
    "search_dirs",
    "tools_dir",
    "user_tools_dir",
]

TOXIPROXY_VERSION = "2.12.0"
BINARY_NAME = "toxiproxy-server"
_MODULE = "github.com/Shopify/toxiproxy/v2"


def tools_dir() -> Path:
    """The project-local folder for tools (``$DOMINO_HOME/tools``, git-ignored)."""
    return domino_home() / "tools"


def user_tools_dir() -> Path:
    """The per-user tools cache: ``$XDG_CACHE_HOME/domino/tools``, default ``~/.cache/...``.

    A relative or empty ``XDG_CACHE_HOME`` is ignored, as the XDG spec asks.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "domino" / "tools"


def search_dirs() -> list[Path]:
    """The folders searched after PATH, in order: the project's tools, then the user cache."""
    dirs = [tools_dir(), user_tools_dir()]
    return [d for n, d in enumerate(dirs) if d not in dirs[:n]]


def install_dir() -> Path:
    """Where `domino toxiproxy install` puts the binary.

    ``$DOMINO_HOME/tools`` when ``DOMINO_HOME`` is set (the project keeps its
    own tools), otherwise the per-user cache, found from any project.
    """
    return tools_dir() if os.environ.get("DOMINO_HOME") else user_tools_dir()


def _how_to_get() -> str:
    return (
        "get toxiproxy-server v" + TOXIPROXY_VERSION + " in one of these ways: "
        "`domino toxiproxy install` (needs Go; runs `go install "
        + _MODULE
        + "/cmd/server@v"
        + TOXIPROXY_VERSION
        + "` and puts the binary in "
        + str(install_dir())
        + ", found from every project); a release binary from "
        "github.com/Shopify/toxiproxy/releases on PATH as toxiproxy-server, or copied to "
        + str(user_tools_dir() / BINARY_NAME)
        + "; `brew install toxiproxy` (macOS); or the Docker image "
        "ghcr.io/shopify/toxiproxy:" + TOXIPROXY_VERSION + " with `--backend docker`. "
        "Point DOMINO_TOXIPROXY_BIN at a binary kept elsewhere."
    )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_toxiproxy(explicit: str | Path | None = None) -> Path:
    """Locate toxiproxy-server; raise ToxiproxyNotFoundError listing every way to get it."""
    configured = explicit if explicit is not None else os.environ.get("DOMINO_TOXIPROXY_BIN")
    if configured:
        path = Path(configured).expanduser()
        if _executable(path):
            return path.resolve()
        raise ToxiproxyNotFoundError(
            f"toxiproxy-server not found at {path} (from --toxiproxy-bin or "
            f"DOMINO_TOXIPROXY_BIN): no executable file there; {_how_to_get()}"
        )
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path).resolve()
    folders = search_dirs()
    for folder in folders:
        candidate = folder / BINARY_NAME
        if _executable(candidate):
            return candidate.resolve()
    searched = ", ".join(["PATH", *(str(f) for f in folders)])
    raise ToxiproxyNotFoundError(
        f"toxiproxy-server is not installed (searched {searched}); {_how_to_get()}"
    )


def install_toxiproxy(
    *, force: bool = False, go: str | None = None, target_dir: str | Path | None = None
) -> Path:
    """Build toxiproxy-server with `go install` into ``target_dir`` and return its path.

    ``target_dir`` defaults to :func:`install_dir` (the per-user cache unless
    ``DOMINO_HOME`` is set). Reuses an existing binary unless ``force``. The
    binary is moved into place with one rename, so a project that looks for it
    while another installs sees the old file or the new one, never half a file.
    The Go build and module caches are the user's own, so a second install on
    the same machine is quick.
    """
    folder = Path(target_dir).expanduser() if target_dir is not None else install_dir()
    target = folder / BINARY_NAME
    if _executable(target) and not force:
        return target
    go_bin = go or shutil.which("go")
    if go_bin is None:
        raise ToxiproxyNotFoundError(
            f"cannot install Toxiproxy: `go` is not on PATH; {_how_to_get()}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToxiproxyInstallError(
            f"cannot create {folder} for toxiproxy-server: {exc}; {_how_to_get()}"
        ) from None
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
                f"`{' '.join(command)}` failed (exit {result.returncode}): {tail}; {_how_to_get()}"
            )
        staged = folder / f".{BINARY_NAME}.{os.getpid()}.tmp"
        try:
            shutil.copyfile(Path(gobin) / "server", staged)
            staged.chmod(0o755)
            os.replace(staged, target)
        finally:
            staged.unlink(missing_ok=True)
    return target


def binary_version(binary: Path) -> str:
    """The version a toxiproxy-server binary reports (``-version``)."""
    result = subprocess.run(
        [str(binary), "-version"], capture_output=True, text=True, check=False, timeout=10
    )
    words = result.stdout.split()
    return words[-1] if words else "unknown"
