"""What ships with Domino and what users bring: topologies and incident specs, found by name.

A topology is named by a shipped system's name (``bank``) or a path to a
``domino.yaml``; without one, a ``domino.yaml`` in the current directory is
used, else the bank. Incidents ship in each system's ``incidents/`` folder;
a spec file may name its own topology (``topology:``, relative to the spec).

A topology file is code: the local backend runs its commands and its build
step, and an adapter named by import path is imported as it is read. So a
spec may name a topology file only inside its own folder tree (or, for a
spec in an ``incidents/`` folder, the folder above it: a project's
``domino.yaml`` beside its ``incidents/``), or in a folder listed in
``$DOMINO_ALLOW_TOPOLOGY_PATHS``; any other is refused before it is read.
A shipped system's name, and ``--topology`` on the command line (the user's
own choice), are always taken.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from harness.errors import SpecError, TopologyError
from harness.files.incident_file import load_spec
from harness.files.topology_file import TOPOLOGY_FILE_NAME, load_topology
from harness.model.incident import IncidentSpec
from harness.model.topology import Topology
from harness.plugins import shipped_systems

__all__ = [
    "ALLOW_TOPOLOGY_PATHS_ENV",
    "DEFAULT_SYSTEM",
    "default_topology",
    "find_incident",
    "find_topology",
    "incident_dirs",
    "list_incidents",
]

#: The system a run uses when nothing else is named.
DEFAULT_SYSTEM = "bank"
#: Folders (separated like PATH) whose topology files any incident spec may name.
ALLOW_TOPOLOGY_PATHS_ENV = "DOMINO_ALLOW_TOPOLOGY_PATHS"


@functools.cache
def _load(path: Path) -> Topology:
    return load_topology(path)


def find_topology(ref: str | Path | None = None, *, base: Path | None = None) -> Topology:
    """A topology by shipped name or file path (relative to ``base``), or the default one."""
    if ref is None:
        return default_topology()
    systems = shipped_systems()
    if isinstance(ref, str) and ref in systems:
        return _load(systems[ref].resolve())
    return _load(_topology_path(ref, base))


def _topology_path(ref: str | Path, base: Path | None) -> Path:
    """The topology file ``ref`` names (relative to ``base``), resolved."""
    path = Path(ref)
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_dir():
        path = path / TOPOLOGY_FILE_NAME
    if not path.exists() and path.suffix not in (".yaml", ".yml"):
        raise TopologyError(
            f"no topology {str(ref)!r}: not a shipped system ({', '.join(shipped_systems())}) "
            "and no such file"
        )
    return path.resolve()


def _spec_topology(ref: str | Path | None = None, *, base: Path | None = None) -> Topology:
    """The topology a spec's ``topology:`` names, refused before it is read when it is a file
    outside the places a spec may name (see the module docstring). ``base``: the spec's folder."""
    if ref is None or (isinstance(ref, str) and ref in shipped_systems()) or base is None:
        return find_topology(ref, base=base)
    path = _topology_path(ref, base)
    allowed = _allowed_topology_folders(base.resolve())
    if not any(path.is_relative_to(folder) for folder in allowed):
        raise TopologyError(
            f"{str(ref)!r} is {path}, outside the spec's folder {allowed[0]}; a topology file "
            "is code (Domino runs its commands), so a spec names only one in its own folder "
            f"tree. To use this one: give --topology {path}, or allow its folder with "
            f"{ALLOW_TOPOLOGY_PATHS_ENV}={path.parent}"
        )
    return _load(path)


def _allowed_topology_folders(spec_folder: Path) -> list[Path]:
    """Where a spec in ``spec_folder`` may name a topology file, its own folder first."""
    allowed = [spec_folder]
    if spec_folder.name == "incidents":  # a project's domino.yaml beside its incidents/
        allowed.append(spec_folder.parent)
    allowed += [path.parent.resolve() for path in shipped_systems().values()]
    listed = os.environ.get(ALLOW_TOPOLOGY_PATHS_ENV, "")
    entries = [entry.strip() for entry in listed.split(os.pathsep)]
    allowed += [Path(entry).expanduser().resolve() for entry in entries if entry]
    return allowed


def default_topology() -> Topology:
    """``./domino.yaml`` when there is one, else the bank Domino ships."""
    here = Path.cwd() / TOPOLOGY_FILE_NAME
    if here.is_file():
        return _load(here.resolve())
    return find_topology(DEFAULT_SYSTEM)


def incident_dirs() -> dict[str, Path]:
    """Each shipped system's incidents folder."""
    return {
        name: path.parent / "incidents"
        for name, path in shipped_systems().items()
        if (path.parent / "incidents").is_dir()
    }


def _spec(path: Path, topology: Topology | None) -> IncidentSpec:
    return load_spec(path, topology=topology, find_topology=_spec_topology)


def list_incidents() -> list[IncidentSpec]:
    """Every shipped incident, validated against its system, in id order."""
    specs = [
        _spec(path, find_topology(system))
        for system, folder in incident_dirs().items()
        for path in sorted(folder.glob("*.yaml"))
    ]
    return sorted(specs, key=lambda s: s.id)


def find_incident(name: str, topology: Topology | None = None) -> IncidentSpec:
    """An incident by id from the library, or a spec file by path.

    ``topology`` (given on the command line) overrides the spec's own
    ``topology:`` field; without either, the default topology is used.
    """
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return _spec(path, topology)
    for system, folder in incident_dirs().items():
        shipped = folder / f"{name}.yaml"
        if shipped.is_file():
            return _spec(shipped, topology or find_topology(system))
    known = ", ".join(s.id for s in list_incidents())
    raise SpecError(f"no incident {name!r}; shipped incidents: {known}; or give a spec file path")
