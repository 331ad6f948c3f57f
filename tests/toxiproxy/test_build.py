"""Domino's toxiproxy-server builds from the sources the package ships, as `go build` does it.

A real build (seconds with the Go caches warm): the binary reports Domino's
version, is reused while the sources are the same, and every source file is
package data (what setuptools' globs in pyproject.toml take).
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from harness.toxiproxy.abilities import SERVER_VERSION
from harness.toxiproxy.binary import (
    SOURCES_DIR,
    binary_version,
    install_toxiproxy,
    installed_is_current,
    sources_digest,
)

ROOT = Path(__file__).resolve().parents[2]


def test_install_builds_domino_server_from_the_shipped_sources_and_reuses_it(
    tmp_path: Path,
) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.fail("building Domino's toxiproxy-server needs `go` on PATH (make setup does)")
    built = install_toxiproxy(go=go, target_dir=tmp_path)
    assert binary_version(built) == SERVER_VERSION
    assert installed_is_current(tmp_path)
    made_ns = built.stat().st_mtime_ns
    assert install_toxiproxy(go=go, target_dir=tmp_path) == built
    assert built.stat().st_mtime_ns == made_ns  # reused, not rebuilt
    # Static (CGO_ENABLED=0): runs in a FROM-scratch image with no libc.
    described = subprocess.run(
        [go, "version", "-m", str(built)], capture_output=True, text=True, check=True
    ).stdout
    assert "CGO_ENABLED=0" in described
    assert "github.com/Shopify/toxiproxy/v2\tv2.12.0" in described


def test_the_digest_follows_every_source_file(tmp_path: Path) -> None:
    copy = tmp_path / "server"
    shutil.copytree(SOURCES_DIR, copy)
    assert sources_digest(copy) == sources_digest()
    hang = copy / "toxics" / "hang.go"
    hang.write_text(hang.read_text() + "\n// changed\n")
    assert sources_digest(copy) != sources_digest()
    (copy / "toxics" / "hang_test.go").write_text("package toxics\n")  # tests do not count
    hang.write_text((SOURCES_DIR / "toxics" / "hang.go").read_text())
    assert sources_digest(copy) == sources_digest()


def test_every_source_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["harness"]
    harness = ROOT / "harness"
    shipped = {
        Path(found)
        for pattern in patterns
        for found in glob.glob(pattern, root_dir=harness, recursive=True)
    }
    sources = {
        p.relative_to(harness)
        for p in SOURCES_DIR.rglob("*")
        if p.is_file() and (p.suffix == ".go" or p.name in ("go.mod", "go.sum"))
    }
    assert {"main.go", "go.mod", "go.sum", "toxics/hang.go", "toxics/refuse.go"} <= {
        p.relative_to(SOURCES_DIR.relative_to(harness)).as_posix() for p in sources
    }
    assert sources <= shipped, sorted(sources - shipped)
