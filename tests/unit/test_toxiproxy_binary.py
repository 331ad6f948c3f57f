"""Finding toxiproxy-server: explicit setting, PATH, project tools, user cache, else a message.

Installing is tested with a stand-in ``go`` (a shell script that answers ``go
env`` and writes a fake server where ``go build -o`` says): nothing is built
with the real Go here (tests/toxiproxy/test_build.py builds for real).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ToxiproxyInstallError, ToxiproxyNotFoundError
from harness.toxiproxy.abilities import SERVER_VERSION
from harness.toxiproxy.binary import (
    SOURCES_DIR,
    find_toxiproxy,
    install_dir,
    install_toxiproxy,
    installed_is_current,
    user_tools_dir,
)

FAKE_SERVER = "#!/bin/sh\necho toxiproxy-server version 2.12.0\n"
FAKE_DOMINO_SERVER = f"#!/bin/sh\necho toxiproxy-server version {SERVER_VERSION}\n"


def _executable(path: Path, text: str = FAKE_SERVER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _fake_go(
    folder: Path, *, exit_code: int = 0, go_cache: str | None = None, mod_cache: str | None = None
) -> Path:
    """A `go` that answers `go env GOCACHE GOMODCACHE` (by default: writable folders
    under ``folder``) and "builds" Domino's server where `-o` says (or fails), logging
    each build with its folder and environment."""
    log = folder / "go-calls.log"
    cache = str(folder / "go-cache") if go_cache is None else go_cache
    mods = str(folder / "go-mod") if mod_cache is None else mod_cache
    build = (
        f'echo "go: module lookup disabled" >&2\nexit {exit_code}\n'
        if exit_code
        else f"printf '#!/bin/sh\\necho toxiproxy-server version {SERVER_VERSION}\\n' > \"$out\"\n"
    )
    # Shell builtins only: the tests' PATH holds nothing else.
    script = (
        "#!/bin/sh\n"
        f'if [ "$1" = env ]; then printf \'%s\\n%s\\n\' "{cache}" "{mods}"; exit 0; fi\n'
        'out=""; prev=""\n'
        'for a in "$@"; do if [ "$prev" = "-o" ]; then out="$a"; fi; prev="$a"; done\n'
        f'echo "$* | cwd=$PWD GOCACHE=$GOCACHE GOMODCACHE=$GOMODCACHE '
        f'CGO_ENABLED=$CGO_ENABLED GOFLAGS=$GOFLAGS" >> "{log}"\n' + build
    )
    return _executable(folder / "go", script)


def _go_calls(folder: Path) -> int:
    """How many builds the stand-in `go` ran."""
    log = folder / "go-calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _last_build(folder: Path) -> str:
    return (folder / "go-calls.log").read_text().splitlines()[-1]


@pytest.fixture
def no_toxiproxy_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No binary on PATH, in the project's tools or in the user cache (all in tmp_path)."""
    monkeypatch.delenv("DOMINO_TOXIPROXY_BIN", raising=False)
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path


@pytest.fixture
def other_project(no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is a fresh project without DOMINO_HOME (tools in ./.domino)."""
    project = no_toxiproxy_anywhere / "project-b"
    project.mkdir()
    monkeypatch.delenv("DOMINO_HOME")
    monkeypatch.chdir(project)
    return project


def test_missing_binary_message_lists_every_way_to_get_one(
    no_toxiproxy_anywhere: Path,
) -> None:
    with pytest.raises(ToxiproxyNotFoundError) as info:
        find_toxiproxy()
    message = str(info.value)
    for way in (
        "domino toxiproxy install",
        "go build",
        SERVER_VERSION,
        "go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0",  # a stock one works too
        "brew install toxiproxy",
        "ghcr.io/shopify/toxiproxy:2.12.0",
        "releases",
        "DOMINO_TOXIPROXY_BIN",
        str(no_toxiproxy_anywhere / "xdg-cache" / "domino" / "tools"),  # the user cache
        str(no_toxiproxy_anywhere / "home" / "tools"),  # the project's tools, searched
    ):
        assert way in message
    assert "\n" not in message


def test_explicit_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "toxiproxy-server"
    with pytest.raises(ToxiproxyNotFoundError, match=str(missing)):
        find_toxiproxy(missing)


def test_explicit_setting_wins_over_every_folder(
    no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(no_toxiproxy_anywhere / "home" / "tools" / "toxiproxy-server")
    chosen = _executable(no_toxiproxy_anywhere / "elsewhere" / "toxiproxy-server")
    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(chosen))
    assert find_toxiproxy() == chosen.resolve()


def test_tools_folder_is_used_when_path_has_none(no_toxiproxy_anywhere: Path) -> None:
    binary = _executable(no_toxiproxy_anywhere / "home" / "tools" / "toxiproxy-server")
    assert find_toxiproxy() == binary.resolve()


def test_user_cache_is_used_when_path_and_project_have_none(no_toxiproxy_anywhere: Path) -> None:
    cached = _executable(
        no_toxiproxy_anywhere / "xdg-cache" / "domino" / "tools" / "toxiproxy-server"
    )
    assert find_toxiproxy() == cached.resolve()


def test_order_is_path_then_project_tools_then_user_cache(
    no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = _executable(
        no_toxiproxy_anywhere / "xdg-cache" / "domino" / "tools" / "toxiproxy-server"
    )
    assert find_toxiproxy() == cached.resolve()
    project = _executable(no_toxiproxy_anywhere / "home" / "tools" / "toxiproxy-server")
    assert find_toxiproxy() == project.resolve()
    on_path = _executable(no_toxiproxy_anywhere / "bin" / "toxiproxy-server")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_toxiproxy() == on_path.resolve()


def test_a_file_that_is_not_executable_is_skipped(no_toxiproxy_anywhere: Path) -> None:
    project = no_toxiproxy_anywhere / "home" / "tools" / "toxiproxy-server"
    project.parent.mkdir(parents=True)
    project.write_text(FAKE_SERVER)  # no exec bit: not a usable binary
    cached = _executable(
        no_toxiproxy_anywhere / "xdg-cache" / "domino" / "tools" / "toxiproxy-server"
    )
    assert find_toxiproxy() == cached.resolve()


def test_user_cache_defaults_to_dot_cache_and_ignores_a_relative_xdg(
    no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = no_toxiproxy_anywhere / "user" / ".cache" / "domino" / "tools"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert user_tools_dir() == default
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert user_tools_dir() == default
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec: ignore it
    assert user_tools_dir() == default
    cached = _executable(default / "toxiproxy-server")
    assert find_toxiproxy() == cached.resolve()


def test_install_goes_to_the_user_cache_and_is_found_from_another_project(
    no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_a = no_toxiproxy_anywhere / "project-a"
    project_a.mkdir()
    monkeypatch.delenv("DOMINO_HOME")
    monkeypatch.chdir(project_a)
    go = _fake_go(no_toxiproxy_anywhere)
    installed = install_toxiproxy(go=str(go))
    cache = no_toxiproxy_anywhere / "xdg-cache" / "domino" / "tools"
    assert installed == cache / "toxiproxy-server"
    assert os.access(installed, os.X_OK)
    assert not (project_a / ".domino").exists()
    # The binary and the digest of the sources it was built from; no staging left.
    assert sorted(p.name for p in cache.iterdir()) == [
        "toxiproxy-server",
        "toxiproxy-server.sources",
    ]
    assert installed_is_current()

    project_b = no_toxiproxy_anywhere / "project-b"
    project_b.mkdir()
    monkeypatch.chdir(project_b)
    assert find_toxiproxy() == installed.resolve()


def test_install_honours_domino_home_and_an_explicit_folder(no_toxiproxy_anywhere: Path) -> None:
    go = _fake_go(no_toxiproxy_anywhere)
    assert install_dir() == no_toxiproxy_anywhere / "home" / "tools"
    installed = install_toxiproxy(go=str(go))
    assert installed == no_toxiproxy_anywhere / "home" / "tools" / "toxiproxy-server"
    assert find_toxiproxy() == installed.resolve()
    elsewhere = install_toxiproxy(go=str(go), target_dir=no_toxiproxy_anywhere / "ci-tools")
    assert elsewhere == no_toxiproxy_anywhere / "ci-tools" / "toxiproxy-server"
    assert os.access(elsewhere, os.X_OK)


@pytest.mark.usefixtures("other_project")
def test_install_reuses_a_build_of_the_same_sources_unless_forced(
    no_toxiproxy_anywhere: Path,
) -> None:
    go = _fake_go(no_toxiproxy_anywhere)
    first = install_toxiproxy(go=str(go))
    assert _go_calls(no_toxiproxy_anywhere) == 1
    assert install_toxiproxy(go=str(go)) == first
    assert _go_calls(no_toxiproxy_anywhere) == 1
    assert install_toxiproxy(go=str(go), force=True) == first
    assert _go_calls(no_toxiproxy_anywhere) == 2
    build = _last_build(no_toxiproxy_anywhere)
    assert build.startswith("build -trimpath -buildvcs=false")
    assert f"cwd={SOURCES_DIR}" in build  # Domino's own sources, shipped in the package
    assert "CGO_ENABLED=0" in build
    assert "GOFLAGS=-mod=readonly" in build  # go.sum as shipped


@pytest.mark.usefixtures("other_project")
def test_install_builds_again_when_the_sources_changed_or_a_stock_server_is_there(
    no_toxiproxy_anywhere: Path,
) -> None:
    go = _fake_go(no_toxiproxy_anywhere)
    installed = install_toxiproxy(go=str(go))
    stamp = installed.with_name("toxiproxy-server.sources")
    stamp.write_text("0" * 64 + "\n")  # built from other sources
    assert not installed_is_current()
    install_toxiproxy(go=str(go))
    assert _go_calls(no_toxiproxy_anywhere) == 2
    assert installed_is_current()
    _executable(installed, FAKE_SERVER)  # a stock server put in its place
    assert not installed_is_current()
    install_toxiproxy(go=str(go))
    assert _go_calls(no_toxiproxy_anywhere) == 3
    assert installed_is_current()


@pytest.mark.usefixtures("other_project")
def test_install_uses_the_go_caches_when_usable_and_throwaway_ones_otherwise(
    no_toxiproxy_anywhere: Path,
) -> None:
    go = _fake_go(no_toxiproxy_anywhere)
    install_toxiproxy(go=str(go))
    # go's own caches are usable: left to go (nothing set), so a second build is quick.
    assert " GOCACHE= GOMODCACHE= " in _last_build(no_toxiproxy_anywhere)
    assert (no_toxiproxy_anywhere / "go-cache").is_dir()  # made if missing, as go would

    # No HOME: go says the build cache is "off" and knows no module cache.
    go = _fake_go(no_toxiproxy_anywhere, go_cache="off", mod_cache="")
    install_toxiproxy(go=str(go), force=True)
    build = _last_build(no_toxiproxy_anywhere)
    scratch = build.split("GOCACHE=", 1)[1].split()[0]
    assert Path(scratch).name == "build-cache"
    assert Path(scratch).parent.name.startswith("domino-go-")
    assert f"GOMODCACHE={Path(scratch).parent / 'module-cache'} " in build
    assert not Path(scratch).parent.exists()  # removed after the build


@pytest.mark.usefixtures("other_project")
def test_a_failed_build_names_the_command_and_leaves_nothing_behind(
    no_toxiproxy_anywhere: Path,
) -> None:
    go = _fake_go(no_toxiproxy_anywhere, exit_code=1)
    with pytest.raises(ToxiproxyInstallError) as info:
        install_toxiproxy(go=str(go))
    message = str(info.value)
    assert "go build" in message
    assert str(SOURCES_DIR) in message
    assert "exit 1" in message
    assert "module lookup disabled" in message
    assert "\n" not in message
    cache = no_toxiproxy_anywhere / "xdg-cache" / "domino" / "tools"
    assert not (cache / "toxiproxy-server").exists()
    assert not cache.exists() or not list(cache.iterdir())


@pytest.mark.usefixtures("other_project")
def test_install_without_go_says_how_else_to_get_it(no_toxiproxy_anywhere: Path) -> None:
    with pytest.raises(ToxiproxyNotFoundError, match="`go` is not on PATH") as info:
        install_toxiproxy()
    assert "brew install toxiproxy" in str(info.value)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        env=dict(os.environ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_install_in_one_project_is_found_by_where_in_another(
    no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOMINO_HOME")
    fake_bin = no_toxiproxy_anywhere / "fake-bin"
    _fake_go(fake_bin)
    monkeypatch.setenv("PATH", str(fake_bin))  # only the stand-in go; no toxiproxy-server
    project_a, project_b = no_toxiproxy_anywhere / "a", no_toxiproxy_anywhere / "b"
    project_a.mkdir()
    project_b.mkdir()
    cached = no_toxiproxy_anywhere / "xdg-cache" / "domino" / "tools" / "toxiproxy-server"

    installed = _cli("toxiproxy", "install", cwd=project_a)
    assert installed.returncode == 0, installed.stderr
    assert str(cached) in installed.stdout
    assert f"version {SERVER_VERSION}, Domino's build with domino_hang" in installed.stdout

    where = _cli("toxiproxy", "where", cwd=project_b)
    assert where.returncode == 0, where.stderr
    assert str(cached.resolve()) in where.stdout
    assert not (project_a / ".domino" / "tools").exists()


def test_cli_install_says_when_a_stock_server_found_first_is_the_one_domino_runs(
    no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = no_toxiproxy_anywhere / "fake-bin"
    _fake_go(bin_dir)
    stock = _executable(bin_dir / "toxiproxy-server")
    monkeypatch.setenv("PATH", str(bin_dir))
    installed = _cli("toxiproxy", "install", cwd=no_toxiproxy_anywhere)
    assert installed.returncode == 0, installed.stderr
    assert "note: Domino runs " + str(stock.resolve()) in installed.stderr
    assert "stock: without Domino's toxics" in installed.stderr
    where = _cli("toxiproxy", "where", cwd=no_toxiproxy_anywhere)
    assert str(stock.resolve()) in where.stdout
    assert "stock: without Domino's toxics" in where.stdout


def test_cli_install_without_go_keeps_a_server_it_finds_and_says_so(
    no_toxiproxy_anywhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = no_toxiproxy_anywhere / "only-stock"
    stock = _executable(bin_dir / "toxiproxy-server")
    monkeypatch.setenv("PATH", str(bin_dir))  # no go
    kept = _cli("toxiproxy", "install", cwd=no_toxiproxy_anywhere)
    assert kept.returncode == 0, kept.stderr
    assert "`go` is not on PATH" in kept.stderr
    assert f"keeping {stock.resolve()}" in kept.stderr
    stock.unlink()
    nothing = _cli("toxiproxy", "install", cwd=no_toxiproxy_anywhere)
    assert nothing.returncode == 3
    assert "`go` is not on PATH" in nothing.stderr
    assert "Traceback" not in nothing.stderr


def test_cli_without_toxiproxy_exits_3_with_the_message_and_starts_nothing(
    no_toxiproxy_anywhere: Path,
) -> None:
    result = _cli("up", cwd=Path.cwd())
    assert result.returncode == 3
    assert "toxiproxy-server is not installed" in result.stderr
    assert "Traceback" not in result.stderr
    runs = no_toxiproxy_anywhere / "home" / "runs"
    assert not runs.exists() or not list(runs.iterdir())
