"""Finding ``toxiproxy-server``, or building Domino's own with ``go build``.

Search order: an explicit path (argument or ``DOMINO_TOXIPROXY_BIN``), then
``toxiproxy-server`` on PATH, then the project's tools folder
(``$DOMINO_HOME/tools``, default ``./.domino/tools``), then the per-user cache
(``$XDG_CACHE_HOME/domino/tools``, default ``~/.cache/domino/tools``), so a
binary installed once is found from every project on the machine. Any
Toxiproxy 2.12.0 server works; a stock one lacks Domino's own toxics
(:mod:`.abilities`).

Installing builds Domino's server (Toxiproxy v2.12.0 plus Domino's toxics)
from the Go sources shipped in this package (``server/``), fetching Toxiproxy
and its dependencies from the Go module proxy, which also works on machines
that reach no container registry and no GitHub downloads (air-gapped mode).
It installs into the per-user cache, or into ``$DOMINO_HOME/tools`` when
``DOMINO_HOME`` is set (a project that keeps its own tools). Next to the
binary, ``toxiproxy-server.sources`` records a digest of the sources it was
built from, so an install after the sources change builds again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import ToxiproxyInstallError, ToxiproxyNotFoundError
from harness.infra.home import domino_home
from harness.toxiproxy.abilities import SERVER_VERSION, TOXIPROXY_VERSION

__all__ = [
    "BINARY_NAME",
    "SOURCES_DIR",
    "TOXIPROXY_VERSION",
    "binary_version",
    "find_toxiproxy",
    "install_dir",
    "install_toxiproxy",
    "installed_is_current",
    "search_dirs",
    "sources_digest",
    "tools_dir",
    "user_tools_dir",
]

BINARY_NAME = "toxiproxy-server"
#: Domino's server as Go sources (a Go module), shipped as package data.
SOURCES_DIR = Path(__file__).resolve().parent / "server"
_STAMP_SUFFIX = ".sources"
_MODULE = "github.com/Shopify/toxiproxy/v2"
#: A cold build (empty Go caches, every module fetched) takes about a minute on 2 cores.
_BUILD_TIMEOUT_S = 1200.0


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
        "get toxiproxy-server in one of these ways: `domino toxiproxy install` (needs Go; "
        f"builds Domino's server {SERVER_VERSION}, Toxiproxy {TOXIPROXY_VERSION} with "
        "Domino's own toxics, from this package's Go sources with `go build` and puts it in "
        + str(install_dir())
        + ", found from every project). A stock Toxiproxy "
        + TOXIPROXY_VERSION
        + " also works, without Domino's own toxics (faults that need them are refused): "
        "`go install " + _MODULE + "/cmd/server@v" + TOXIPROXY_VERSION + "`; a release binary "
        "from github.com/Shopify/toxiproxy/releases on PATH as toxiproxy-server, or copied to "
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


def _source_files(sources: Path) -> list[Path]:
    """What a build reads: go.mod, go.sum and every Go file except tests, in a fixed order."""
    files = [
        p
        for p in sources.rglob("*")
        if p.is_file()
        and (p.name in ("go.mod", "go.sum") or (p.suffix == ".go" and not p.stem.endswith("_test")))
    ]
    return sorted(files, key=lambda p: p.relative_to(sources).as_posix())


def sources_digest(sources: Path = SOURCES_DIR) -> str:
    """A SHA-256 over Domino's server sources (each file's path and content digest)."""
    files = _source_files(sources)
    if not any(p.name == "go.mod" for p in files):
        raise ToxiproxyInstallError(
            f"Domino's toxiproxy-server sources are missing from {sources} (no go.mod); "
            "reinstall the domino-chaos package"
        )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(sources).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def _stamp(folder: Path) -> Path:
    return folder / (BINARY_NAME + _STAMP_SUFFIX)


def installed_is_current(target_dir: str | Path | None = None) -> bool:
    """True when ``target_dir`` (default :func:`install_dir`) holds Domino's server built
    from this package's sources: its version is :data:`SERVER_VERSION` and its stamp matches."""
    folder = Path(target_dir).expanduser() if target_dir is not None else install_dir()
    target, stamp = folder / BINARY_NAME, _stamp(folder)
    try:
        recorded = stamp.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return (
        _executable(target)
        and recorded == sources_digest()
        and binary_version(target) == SERVER_VERSION
    )


def install_toxiproxy(
    *, force: bool = False, go: str | None = None, target_dir: str | Path | None = None
) -> Path:
    """Build Domino's toxiproxy-server with `go build` into ``target_dir``; return its path.

    ``target_dir`` defaults to :func:`install_dir` (the per-user cache unless
    ``DOMINO_HOME`` is set). A binary already built from the same sources is
    reused unless ``force``. The binary is moved into place with one rename,
    so a project that looks for it while another installs sees the old file
    or the new one, never half a file. The user's Go build and module caches
    are used when they are usable (a second install on the machine takes
    seconds), and a throwaway pair otherwise (no ``HOME``, read-only caches).
    """
    folder = Path(target_dir).expanduser() if target_dir is not None else install_dir()
    target = folder / BINARY_NAME
    if not force and installed_is_current(folder):
        return target
    go_bin = go or shutil.which("go")
    if go_bin is None:
        raise ToxiproxyNotFoundError(
            f"cannot build Domino's toxiproxy-server: `go` is not on PATH; {_how_to_get()}"
        )
    digest = sources_digest()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToxiproxyInstallError(
            f"cannot create {folder} for toxiproxy-server: {exc}; {_how_to_get()}"
        ) from None
    staged = folder / f".{BINARY_NAME}.{os.getpid()}.tmp"
    staged_stamp = folder / f".{BINARY_NAME}{_STAMP_SUFFIX}.{os.getpid()}.tmp"
    try:
        _go_build(go_bin, staged)
        staged.chmod(0o755)
        os.replace(staged, target)
        staged_stamp.write_text(digest + "\n", encoding="utf-8")
        os.replace(staged_stamp, _stamp(folder))
    finally:
        staged.unlink(missing_ok=True)
        staged_stamp.unlink(missing_ok=True)
    return target


def _go_build(go_bin: str, output: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="domino-go-") as scratch:
        env = _build_env(go_bin, Path(scratch))
        command = [
            go_bin,
            "build",
            "-trimpath",
            "-buildvcs=false",
            "-ldflags=-s -w",
            "-o",
            str(output),
            ".",
        ]
        shown = f"`{' '.join(command[:-3])} ...` in {SOURCES_DIR}"
        try:
            result = subprocess.run(
                command,
                cwd=SOURCES_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=_BUILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise ToxiproxyInstallError(
                f"{shown} did not finish within {_BUILD_TIMEOUT_S:.0f}s; is the Go module "
                f"proxy ({env.get('GOPROXY') or 'proxy.golang.org'}) reachable?"
            ) from None
        except OSError as exc:
            raise ToxiproxyInstallError(f"cannot run {go_bin}: {exc}; {_how_to_get()}") from None
        if result.returncode != 0:
            tail = " | ".join(result.stderr.strip().splitlines()[-3:])
            raise ToxiproxyInstallError(
                f"{shown} failed (exit {result.returncode}): {tail}; {_how_to_get()}"
            )


def _build_env(go_bin: str, scratch: Path) -> dict[str, str]:
    """The environment of the build: the user's Go caches when usable, else ``scratch``."""
    env = dict(os.environ)
    # A static binary (no C toolchain needed; the same one the Docker image holds),
    # go.sum exactly as shipped, and no go.work from a folder above the sources.
    env.update(CGO_ENABLED="0", GOFLAGS="-mod=readonly", GOWORK="off")
    build_cache, module_cache = _go_env(go_bin, env, "GOCACHE", "GOMODCACHE")
    if not _writable_dir(build_cache):
        env["GOCACHE"] = str(scratch / "build-cache")
    if not _writable_dir(module_cache):
        env["GOMODCACHE"] = str(scratch / "module-cache")
    return env


def _go_env(go_bin: str, env: dict[str, str], *names: str) -> list[str]:
    """``go env NAME...`` (empty strings when go cannot say)."""
    try:
        result = subprocess.run(
            [go_bin, "env", *names],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return [""] * len(names)
    values = result.stdout.splitlines() if result.returncode == 0 else []
    return (values + [""] * len(names))[: len(names)]


def _writable_dir(value: str) -> bool:
    """True for an absolute folder that exists or can be made, and can be written."""
    if not value or value == "off" or not os.path.isabs(value):
        return False
    try:
        Path(value).mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(value, os.W_OK | os.X_OK)


def binary_version(binary: Path) -> str:
    """The version a toxiproxy-server binary reports (``-version``); "unknown" if it cannot."""
    try:
        result = subprocess.run(
            [str(binary), "-version"], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    words = result.stdout.split()
    return words[-1] if words else "unknown"
