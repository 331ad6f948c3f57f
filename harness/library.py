"""The incident library: the specs shipped in ``harness/incidents/``, and user files."""

from __future__ import annotations

from pathlib import Path

from harness.errors import SpecError
from harness.profiles import PROFILES
from harness.spec import IncidentSpec, load_spec
from harness.topology import BANK_TOPOLOGY, Topology

__all__ = ["INCIDENTS_DIR", "find_incident", "list_incidents"]

INCIDENTS_DIR = Path(__file__).parent / "incidents"


def list_incidents(topology: Topology = BANK_TOPOLOGY) -> list[IncidentSpec]:
    """Every shipped incident, validated, in id order."""
    specs = [
        load_spec(path, topology=topology, profiles=tuple(PROFILES))
        for path in sorted(INCIDENTS_DIR.glob("*.yaml"))
    ]
    return sorted(specs, key=lambda s: s.id)


def find_incident(name: str, topology: Topology = BANK_TOPOLOGY) -> IncidentSpec:
    """An incident by id from the library, or a spec file by path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_spec(path, topology=topology, profiles=tuple(PROFILES))
    shipped = INCIDENTS_DIR / f"{name}.yaml"
    if shipped.is_file():
        return load_spec(shipped, topology=topology, profiles=tuple(PROFILES))
    known = ", ".join(s.id for s in list_incidents(topology))
    raise SpecError(f"no incident {name!r}; shipped incidents: {known}; or give a spec file path")
