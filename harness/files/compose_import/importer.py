"""``import_compose``: the stages that turn a Compose file into a ``domino.yaml``, in order."""

from __future__ import annotations

from pathlib import Path

from harness.errors import ComposeImportError
from harness.files.compose_import.compose_file import ComposeFile, one_line
from harness.files.compose_import.edges import choose_client, discover_edges, note_depends_on
from harness.files.compose_import.model import CLIENT, Edge, ImportedTopology
from harness.files.compose_import.names import (
    name_project,
    name_services,
    name_topology,
    reachable_names,
)
from harness.files.compose_import.ports import check_ports, infer_ports
from harness.files.compose_import.render import render
from harness.files.compose_import.services import read_services
from harness.files.yamldoc import read_text

__all__ = ["ComposeImportError", "ImportedTopology", "import_compose"]


def import_compose(path: Path, *, name: str | None = None) -> ImportedTopology:
    """Read the Compose file at ``path`` and return the ``domino.yaml`` it implies.

    ``name`` is the topology's name; by default the Compose ``name:`` or the
    file's folder name, made to fit the topology name rule. Raises
    :class:`ComposeImportError` (one line) for a file that is not a Compose
    file; never resolves or contacts a host.
    """
    source = str(path)
    try:
        text = read_text(path, error=ComposeImportError, what="a Compose file")
    except UnicodeDecodeError:
        raise ComposeImportError(f"{source}: not UTF-8 text; a Compose file is YAML text") from None
    except OSError as exc:
        raise ComposeImportError(f"{source}: cannot read the file: {exc.strerror or exc}") from None
    except ValueError as exc:  # a path holding a NUL byte
        raise ComposeImportError(f"{source}: cannot read the file: {exc}") from None
    folder = path.absolute().parent.name
    try:
        return _import(source, text, folder=folder, name=name, base=path.absolute().parent)
    except RecursionError:
        # Deeply nested or self-referencing YAML (an alias inside its own anchor).
        raise ComposeImportError(
            f"{source}: the YAML is nested too deeply or refers to itself; "
            "a Compose file is a plain mapping"
        ) from None


def _import(
    source: str, text: str, *, folder: str, name: str | None, base: Path | None = None
) -> ImportedTopology:
    compose = ComposeFile(source, text, folder=base)
    project = name_project(compose, folder)
    topology_name = name_topology(compose, folder, name)
    services = name_services(compose)
    names = reachable_names(compose, services)
    read_services(compose, services, project)
    edges = discover_edges(compose, services, names)
    infer_ports(compose, services, edges)
    check_ports(compose, services, edges)
    note_depends_on(compose, services, edges)
    client = choose_client(compose, services, edges)

    compose.notes.extend(compose.interpolation_notes())
    compose.notes.append(
        "the topology runs on the docker backend as imported (image, container_port); "
        "Domino never pulls or builds images, so run `docker compose pull` and "
        "`docker compose build` first"
    )
    compose.notes.append(
        "for the local backend, add to each service a `command:` (argv list) that starts "
        'its binary and pass it its port, e.g. env PORT: "{port}" (Compose does not say '
        "how a service runs outside its container)"
    )
    all_edges = [Edge(CLIENT, client.name), *edges]
    notes = tuple(one_line(n) for n in compose.notes)
    yaml_text = render(
        source=source,
        name=topology_name,
        services=services,
        edges=all_edges,
        client=client,
        notes=notes,
    )
    return ImportedTopology(
        name=topology_name,
        yaml_text=yaml_text,
        edges=tuple(e.name for e in all_edges),
        notes=notes,
    )
