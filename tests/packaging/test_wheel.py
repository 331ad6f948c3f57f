"""The built wheel carries everything a user without the checkout needs.

The end-to-end install (a fresh virtualenv, the shop's pytest file, `domino run
kbpay-2023-01-25`) is ``.ci/wheel.sh``, run by ``.ci/run`` after the suite: it
takes about two minutes of pip and incident holds. These checks are the fast part.
"""

from __future__ import annotations

import ast
import email
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_STACK = ("fastapi", "uvicorn", "pydantic")


def _tracked(*folders: str) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [path for path in listed if (ROOT / path).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel, built from a copy of the package sources (the checkout stays untouched)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    for path in [*_tracked("harness", "services"), "pyproject.toml", "README.md"]:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, source / path)
    built = subprocess.run(
        [
            sys.executable,
            *("-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"),
            *("-w", str(work / "dist"), str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (path,) = (work / "dist").glob("domino_chaos-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_every_file_of_the_packages_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    """Incidents, topologies, the toxiproxy-server Go sources, py.typed: nothing left behind."""
    names = set(wheel.namelist())
    missing = [p for p in _tracked("harness", "services") if p not in names]
    assert missing == []
    for needed in (
        "harness/py.typed",
        "harness/systems/bank/domino.yaml",
        "harness/systems/bank/incidents/kbpay-2023-01-25.yaml",
        "harness/toxiproxy/server/go.mod",
        "harness/toxiproxy/server/main.go",
        "services/bank/__main__.py",
    ):
        assert needed in names


def test_the_banks_web_framework_is_an_extra_not_a_core_dependency(
    wheel: zipfile.ZipFile,
) -> None:
    (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = email.message_from_bytes(wheel.read(metadata_name))
    requires = metadata.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    bank = [r for r in requires if 'extra == "bank"' in r]
    assert "bank" in (metadata.get_all("Provides-Extra") or [])
    for name in WEB_STACK:
        assert not any(r.lower().startswith(name) for r in core), core
        assert any(r.lower().startswith(name) for r in bank), bank


def test_dominos_own_code_never_imports_the_banks_web_framework() -> None:
    """The core install (no extra) can test any system: only services/ use the web stack."""
    offenders = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in WEB_STACK
            ]
    assert offenders == []


def test_running_the_bank_without_its_extra_names_the_extra_before_anything_starts() -> None:
    hide = "import sys; sys.modules.update(fastapi=None, uvicorn=None, pydantic=None); "
    run = "from harness.cli import main; sys.exit(main(['run', 'kbpay-2023-01-25']))"
    result = subprocess.run(
        [sys.executable, "-c", hide + run],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "domino: error: the shipped bank's services need fastapi, uvicorn, pydantic, not "
        "installed in this Python; install them with: pip install 'domino-chaos[bank]'"
    ]
