"""A spec names a topology file only in its own folder tree, unless the user allows more.

A topology file is code: ``domino run`` starts its services' commands and
build step, and imports an adapter it names by import path as the file is
read. A spec handed to someone could name any ``domino.yaml`` on their
machine. Here a topology outside the spec's folder tree names an adapter
module that leaves a mark when imported: the spec is refused in one line
(exit 2) before that file is read (no mark), also through a symlink inside
the spec's folder; ``$DOMINO_ALLOW_TOPOLOGY_PATHS`` or ``--topology`` let
the user take it (the mark appears: the test sees a read). Shipped system
names and a project's ``domino.yaml`` beside its ``incidents/`` folder (the
shop example's layout) keep working.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import SpecError
from harness.library import ALLOW_TOPOLOGY_PATHS_ENV, find_incident

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"

_ADAPTER = """\
from pathlib import Path
from harness import HttpAdapter

Path(__file__).with_name("imported.mark").write_text("read")


class Adapter(HttpAdapter):
    name = "elsewhere"
"""

_SPEC = """\
id: elsewhere
title: a spec naming a topology file
date: "2024-01-01"
sources: [tests]
topology: {topology}
profiles: [naive]
journeys:
  - {{journey: browse, users: 1}}
timeline:
  - {{fault: latency, edge: "checkout->catalog", latency_ms: 100, onset_s: 0, hold_s: 1}}
expect:
  naive:
    journeys:
      browse: [healthy, degraded, failed]
"""


def _elsewhere(tmp_path: Path) -> Path:
    """The shop's topology in a folder of its own, with an adapter module that marks a read."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "elsewhere_adapter.py").write_text(_ADAPTER)
    text = (SHOP / "domino.yaml").read_text()
    text = text.replace("adapter: http", "adapter: elsewhere_adapter:Adapter", 1)
    text = text.replace("{dir}", str(SHOP))  # its commands stay the shop's
    assert "elsewhere_adapter" in text
    (folder / "domino.yaml").write_text(text)
    return folder


def _spec(folder: Path, topology: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "elsewhere.yaml"
    path.write_text(_SPEC.format(topology=topology))
    return path


def _domino(
    tmp_path: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={
            **os.environ,
            "DOMINO_HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(tmp_path / "elsewhere"),
            **(env or {}),
        },
    )


@pytest.mark.parametrize("command", ["validate", "show", "run"])
def test_a_spec_naming_a_topology_outside_its_folder_is_refused_before_it_is_read(
    command: str, tmp_path: Path
) -> None:
    elsewhere = _elsewhere(tmp_path)
    spec = _spec(tmp_path / "specs", "../elsewhere/domino.yaml")

    result = _domino(tmp_path, command, str(spec))

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"domino: error: {spec}:5: topology: '../elsewhere/domino.yaml'")
    assert "a topology file is code" in lines[0]
    assert f"{ALLOW_TOPOLOGY_PATHS_ENV}={elsewhere}" in lines[0]
    assert not (elsewhere / "imported.mark").exists(), "the topology file was read"
    assert not (tmp_path / "home" / "runs").exists(), "something was started"


def test_a_symlink_in_the_specs_folder_to_a_topology_elsewhere_is_refused(
    tmp_path: Path,
) -> None:
    elsewhere = _elsewhere(tmp_path)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "domino.yaml").symlink_to(elsewhere / "domino.yaml")
    spec = _spec(specs, "domino.yaml")

    result = _domino(tmp_path, "validate", str(spec))

    assert result.returncode == 2, result.stderr
    assert f"is {elsewhere / 'domino.yaml'}, outside the spec's folder" in result.stderr
    assert not (elsewhere / "imported.mark").exists()


def test_the_user_can_allow_a_folder_or_name_the_topology_themselves(tmp_path: Path) -> None:
    elsewhere = _elsewhere(tmp_path)
    spec = _spec(tmp_path / "specs", "../elsewhere/domino.yaml")

    allowed = _domino(
        tmp_path,
        "validate",
        str(spec),
        env={ALLOW_TOPOLOGY_PATHS_ENV: f"/nonexistent{os.pathsep}{elsewhere}"},
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "is valid on the shop system" in allowed.stdout
    assert (elsewhere / "imported.mark").exists()

    (elsewhere / "imported.mark").unlink()
    chosen = _domino(tmp_path, "validate", str(spec), "--topology", str(elsewhere / "domino.yaml"))
    assert chosen.returncode == 0, chosen.stderr
    assert (elsewhere / "imported.mark").exists()


def test_shipped_names_and_a_projects_own_layout_keep_working(tmp_path: Path) -> None:
    # The shop example: incidents/catalog-slow.yaml names ../domino.yaml.
    shop = find_incident(str(SHOP / "incidents" / "catalog-slow.yaml"))
    assert shop.topology is not None
    assert shop.topology.name == "shop"
    # A shipped system by name, from anywhere.
    bank_spec = tmp_path / "anywhere" / "kbpay.yaml"
    bank_spec.parent.mkdir()
    shipped = ROOT / "harness" / "systems" / "bank" / "incidents" / "kbpay-2023-01-25.yaml"
    bank_spec.write_text(shipped.read_text())
    assert find_incident(str(bank_spec)).topology.name == "bank"  # type: ignore[union-attr]
    # A project's own topology in the spec's folder or below it.
    project = tmp_path / "project"
    (project / "system").mkdir(parents=True)
    topology = (SHOP / "domino.yaml").read_text().replace("{dir}", str(SHOP))
    (project / "system" / "domino.yaml").write_text(topology)
    assert find_incident(str(_spec(project, "system/domino.yaml"))).topology.name == "shop"  # type: ignore[union-attr]


def test_only_the_folder_above_incidents_is_the_projects_not_further_up(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "incidents").mkdir(parents=True)
    (tmp_path / "domino.yaml").write_text((SHOP / "domino.yaml").read_text())
    spec = _spec(project / "incidents", "../../domino.yaml")
    with pytest.raises(
        SpecError, match=r"elsewhere\.yaml:5: topology: .*outside the spec's folder"
    ):
        find_incident(str(spec))
