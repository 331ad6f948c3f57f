"""The port each service listens on: from ports/expose, a PORT variable, callers or image."""

from __future__ import annotations

import re
from typing import Any

from harness.files.compose_import.compose_file import ComposeFile, show
from harness.files.compose_import.model import DEFAULT_PORT, Edge, Service
from harness.files.yamldoc import FieldPath, describe_kind

__all__ = ["check_ports", "choose_port", "container_ports", "infer_ports", "port_text"]

#: Variables that say which port a service itself listens on (not a dependency's).
_OWN_PORT_VARS = ("PORT", "HTTP_PORT", "SERVER_PORT", "LISTEN_PORT", "APP_PORT")
#: The ports well-known images listen on, for services that declare none.
_IMAGE_PORTS = {
    "postgres": 5432,
    "redis": 6379,
    "valkey": 6379,
    "mysql": 3306,
    "mariadb": 3306,
    "mongo": 27017,
    "rabbitmq": 5672,
    "memcached": 11211,
    "nats": 4222,
    "elasticsearch": 9200,
    "nginx": 80,
    "httpd": 80,
}


def port_text(text: str) -> bool:
    """True for a TCP port number written in ASCII digits (``str.isdigit`` also takes '²')."""
    return re.fullmatch(r"[0-9]{1,5}", text) is not None and 1 <= int(text) <= 65535


def container_ports(
    compose: ComposeFile, raw: dict[str, Any], path: FieldPath, *, published_only: bool
) -> list[int]:
    """Container-side TCP ports of ``ports`` (every entry publishes) or also ``expose``."""
    keys = ("ports",) if published_only else ("expose", "ports")
    found: list[int] = []
    for key in keys:
        entries = raw.get(key)
        if entries is None:
            continue
        kpath: FieldPath = (*path, key)
        if not isinstance(entries, list):
            raise compose.error(kpath, f"must be a list of ports, got {describe_kind(entries)}")
        for i, entry in enumerate(entries):
            port = _container_side(compose, entry, (*kpath, i))
            if port is not None:
                found.append(port)
    return found


def _container_side(compose: ComposeFile, entry: Any, path: FieldPath) -> int | None:
    """The container port of one ``ports``/``expose`` entry; None for UDP/SCTP."""
    example = "expected e.g. 8080, '8080:80', '127.0.0.1:8080:80' or {target: 80}"
    if isinstance(entry, dict):
        protocol = str(entry.get("protocol", "tcp")).lower()
        target = entry.get("target")
        if target is None:
            raise compose.error(path, f"has no 'target' (the container port); {example}")
        text = compose.interpolate(str(target), (*path, "target"))
    elif isinstance(entry, int | str) and not isinstance(entry, bool):
        text = compose.interpolate(str(entry), path).strip()
        text, _, protocol = text.partition("/")
        protocol = protocol.lower() or "tcp"
        text = text.rsplit(":", 1)[-1]
    else:
        raise compose.error(path, f"is not a port ({describe_kind(entry)}); {example}")
    if protocol != "tcp":
        return None  # Toxiproxy carries TCP only
    text = text.strip().split("-", 1)[0]  # a range: its first port
    if not port_text(text):
        raise compose.error(path, f"{text!r} is not a port number (1-65535); {example}")
    return int(text)


def choose_port(compose: ComposeFile, raw: dict[str, Any], service: Service) -> None:
    """The port the service's own settings say it listens on: expose/ports, else a PORT variable."""
    label = show(service.compose_name)
    ports = list(dict.fromkeys(container_ports(compose, raw, service.path, published_only=False)))
    if ports:
        service.container_port, service.port_known = ports[0], True
        if len(ports) > 1:
            compose.notes.append(
                f"service {label} listens on several ports ({', '.join(map(str, ports))}); "
                f"container_port is {ports[0]}, the first: Domino proxies one port per "
                "service, check it is the one its callers use"
            )
        return
    for key in _OWN_PORT_VARS:
        value = service.env.get(key, "").strip()
        if port_text(value):
            service.container_port, service.port_known = int(value), True
            return


def infer_ports(compose: ComposeFile, services: dict[str, Service], edges: list[Edge]) -> None:
    """A service that declares no port listens where its callers say it does."""
    for service in services.values():
        if service.port_known:
            continue
        named = list(
            dict.fromkeys(port for e in edges if e.target == service.name for _, port in e.ports)
        )
        if named:
            service.container_port, service.port_known = named[0], True
            continue
        # registry.example/library/postgres:16 -> postgres
        repository = service.image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
        if repository in _IMAGE_PORTS:
            service.container_port, service.port_known = _IMAGE_PORTS[repository], True
            compose.notes.append(
                f"service {show(service.compose_name)} declares no port; container_port is "
                f"{service.container_port}, the usual port of the {repository} image"
            )
            continue
        compose.notes.append(
            f"service {show(service.compose_name)} declares no port (expose, ports, PORT) "
            f"and no caller names one; container_port is {DEFAULT_PORT}: check it"
        )
    # PORT: "8080" becomes "{port}" (the same value on docker) so that a
    # `command:` added later for the local backend listens where Domino says.
    for service in services.values():
        for key in _OWN_PORT_VARS:
            if service.env.get(key) == str(service.container_port):
                service.env[key] = "{port}"
        # Likewise "listen on every interface": {bind_host} is 0.0.0.0 on docker
        # and loopback on the local backend.
        for key, value in service.env.items():
            if value == "0.0.0.0":  # noqa: S104 - text compared, nothing is bound
                service.env[key] = "{bind_host}"


def check_ports(compose: ComposeFile, services: dict[str, Service], edges: list[Edge]) -> None:
    """Notes where a caller names another port than its target's, or speaks TLS to it."""
    by_name = {s.name: s for s in services.values()}
    for edge in edges:
        target = by_name[edge.target]
        for key, port in edge.ports:
            if port != target.container_port:
                compose.notes.append(
                    f"edge {edge.name}: {key} names port {port} but {target.name}'s "
                    f"container_port is {target.container_port}; Domino proxies the edge to "
                    "container_port: check which one is right"
                )
        if any(v.startswith(("https://", "wss://")) for v in edge.env.values()):
            compose.notes.append(
                f"edge {edge.name} uses TLS; Toxiproxy passes it through, but {edge.source} "
                f"will check {edge.target}'s certificate against Toxiproxy's host name"
            )
