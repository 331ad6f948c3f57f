"""Names: the Compose project's, the topology's, each service's, and those it is reached by."""

from __future__ import annotations

import re
from typing import Any

from harness.errors import ComposeImportError
from harness.files.compose_import.compose_file import ComposeFile, show
from harness.files.compose_import.model import CLIENT, Service
from harness.files.yamldoc import FieldPath, describe_kind

__all__ = ["name_project", "name_services", "name_topology", "reachable_names"]

#: docs/topologies.md: a topology name is 3-64 lowercase letters, digits or '-'.
_TOPOLOGY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_MAX_SERVICE_NAME = 40


def name_project(compose: ComposeFile, folder: str) -> str:
    """The Compose project name, as ``docker compose`` derives it (for built images).

    ``folder`` is the name of the folder holding the Compose file.
    """
    raw = compose.top.get("name")
    base = folder
    if isinstance(raw, str | int) and not isinstance(raw, bool):
        base = compose.interpolate(str(raw), ("name",))
    # compose-go: lowercase, keep [-_a-z0-9], no leading '-' or '_'.
    project = re.sub(r"[^-_a-z0-9]+", "", base.lower()).lstrip("-_")
    return project or "default"


def name_topology(compose: ComposeFile, folder: str, requested: str | None) -> str:
    """The topology's name: ``requested`` if allowed, else made from ``name:`` or ``folder``."""
    if requested is not None:
        if not _TOPOLOGY_NAME.fullmatch(requested):
            raise ComposeImportError(
                f"{compose.source}: topology name {requested!r} is not allowed; "
                "a topology name is 3-64 lowercase letters, digits or '-' (e.g. 'shop')"
            )
        return requested
    raw = compose.top.get("name")
    base = folder
    if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
        base = compose.interpolate(str(raw), ("name",))
    candidate = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:64].rstrip("-")
    if not candidate:
        candidate = "imported"
    elif len(candidate) < 3:
        candidate = f"{candidate}-system"
    if candidate != base:
        compose.notes.append(
            f"the topology is named {candidate!r} (from {show(base)}: a topology name is "
            "3-64 lowercase letters, digits or '-')"
        )
    return candidate


def name_services(compose: ComposeFile) -> dict[str, Service]:
    """Domino names for the Compose services, which follow the topology's name rule."""
    taken: set[str] = set()
    services: dict[str, Service] = {}
    for compose_name, raw in compose.raw_services.items():
        path: FieldPath = ("services", compose_name)
        if not isinstance(raw, dict):
            raise compose.error(
                path,
                "must be a mapping of Compose settings (image, ports, environment, ...), "
                f"got {describe_kind(raw)}",
            )
        # The topology's rule: a lowercase letter, then letters, digits, '-' or '_'.
        base = re.sub(r"[^a-z0-9_-]+", "-", compose_name.lower())
        base = re.sub(r"^[^a-z]+", "", base)[:_MAX_SERVICE_NAME].rstrip("-_") or "service"
        if base == CLIENT:
            # "client" stands for users' devices in every topology.
            base = "client-app"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base[: _MAX_SERVICE_NAME - 3]}-{n}"
        taken.add(name)
        if name != compose_name:
            compose.notes.append(
                f"Compose service {show(compose_name)} is called {name!r} in the topology "
                "(a service name is lowercase letters, digits, '-' or '_' after a letter, "
                "at most 40, and not 'client')"
            )
        services[compose_name] = Service(compose_name, name, path)
    return services


def reachable_names(compose: ComposeFile, services: dict[str, Service]) -> dict[str, str]:
    """Every name another container can reach a service by (lowercase) -> its Compose name.

    Its name, its container_name and its network aliases; service names win
    over aliases.
    """
    names: dict[str, str] = {}
    for compose_name, service in services.items():
        for alias in _aliases(compose, compose.raw_services[compose_name], service.path):
            names.setdefault(alias.lower(), compose_name)
    for compose_name in services:
        names[compose_name.lower()] = compose_name
    return names


def _aliases(compose: ComposeFile, raw: dict[str, Any], path: FieldPath) -> list[str]:
    """container_name and network aliases: other names the service is reachable by."""
    found: list[str] = []
    container_name = raw.get("container_name")
    if isinstance(container_name, str) and container_name.strip():
        found.append(compose.interpolate(container_name.strip(), (*path, "container_name")))
    networks = raw.get("networks")
    if isinstance(networks, dict):
        for network, settings in networks.items():
            if not isinstance(settings, dict):
                continue
            aliases = settings.get("aliases")
            apath: FieldPath = (*path, "networks", network, "aliases")
            if aliases is None:
                continue
            if not isinstance(aliases, list):
                raise compose.error(apath, f"must be a list of names, got {describe_kind(aliases)}")
            for i, alias in enumerate(aliases):
                if not isinstance(alias, str):
                    raise compose.error((*apath, i), f"must be a name, got {describe_kind(alias)}")
                found.append(compose.interpolate(alias.strip(), (*apath, i)))
    return [a for a in found if a]
