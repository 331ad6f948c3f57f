"""Edges: environment values that name another service, depends_on compared, and the client edge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.files.compose_import.compose_file import ComposeFile, show
from harness.files.compose_import.model import Edge, Service
from harness.files.compose_import.ports import port_text
from harness.files.compose_import.render import escape
from harness.files.yamldoc import FieldPath

__all__ = ["choose_client", "discover_edges", "note_depends_on"]

#: Ports implied by a URL without one, so a reference can still be compared.
_SCHEME_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "grpc": 443,
    "redis": 6379,
    "rediss": 6379,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "mongodb": 27017,
    "amqp": 5672,
    "nats": 4222,
}
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<userinfo>[^@/\s?#]*@)?"
    r"(?P<host>[A-Za-z0-9_.-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
_SCHEME_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_BARE = re.compile(r"^(?P<host>[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})(?P<rest>/\S*)?$")
#: The target of a reference to several hosts in one URL (mongodb://a:1,b:2).
_SEVERAL = ","


@dataclass(frozen=True)
class _Reference:
    """One place in an env value that names another service: the span to rewrite."""

    start: int
    end: int
    target: str
    port: int | None
    #: The URL's scheme (lowercase); None for a bare ``host:port``.
    scheme: str | None = None


def discover_edges(
    compose: ComposeFile, services: dict[str, Service], names: dict[str, str]
) -> list[Edge]:
    """The edges the services' environment values imply, in file order.

    ``names`` maps every name a service is reached by (lowercase) to its
    Compose name. A variable that follows an edge moves from its service's
    ``env`` to the edge's, its host and port written ``{host}`` and ``{port}``.
    """
    edges: dict[tuple[str, str], Edge] = {}
    for compose_name, service in services.items():
        label = show(compose_name)
        visible = dict(names)
        raw = compose.raw_services[compose_name]
        visible.update(_link_aliases(compose, raw, service.path, services))
        kept: dict[str, str] = {}
        moved: set[str] = set()
        for key, value in service.env.items():
            if key in moved:
                continue
            refs = _references(value, visible, compose_name)
            targets = list(dict.fromkeys(r.target for r in refs))
            if any(r.target == _SEVERAL for r in refs):
                compose.notes.append(
                    f"service {label}: {key} lists several hosts in one URL; it is kept as "
                    "it is and bypasses Toxiproxy: make one edge per host by hand"
                )
                kept[key] = escape(value)
                continue
            if len(targets) > 1:
                shown = ", ".join(show(t) for t in targets)
                compose.notes.append(
                    f"service {label}: {key} names several services ({shown}); one variable "
                    "can follow one edge, so it is kept as it is and bypasses Toxiproxy"
                )
                kept[key] = escape(value)
                continue
            if targets:
                edge = _edge(edges, service, services[targets[0]])
                edge.env[key] = _template(value, refs)
                _note_protocol(compose, edge, key, value, refs[0].scheme)
                port = refs[0].port
                if port is not None:
                    edge.ports.append((key, port))
                continue
            pair = _host_port_pair(key, value, service.env, visible, compose_name)
            if pair is not None:
                target, port_key, port = pair
                edge = _edge(edges, service, services[target])
                edge.env[key] = "{host}"
                edge.env[port_key] = "{port}"
                edge.ports.append((port_key, port))
                moved.add(port_key)
                kept.pop(port_key, None)
                continue
            bare = visible.get(value.strip().lower())
            if bare is not None and bare != compose_name:
                compose.notes.append(
                    f"service {label}: {key} names service {show(bare)} without a port; "
                    f"no edge was made: if {label} calls it, add the edge by hand with "
                    f'{key}: "{{host}}" and the port in another variable as "{{port}}"'
                )
            kept[key] = escape(value)
        service.env = kept
    return list(edges.values())


#: URL schemes whose traffic is HTTP/1.x: every fault kind applies on such an edge.
_HTTP_SCHEMES = frozenset({"http", "ws"})


def _note_protocol(
    compose: ComposeFile, edge: Edge, key: str, value: str, scheme: str | None
) -> None:
    """An edge named by a non-HTTP URL carries ``protocol: tcp``; a bare host:port is said."""
    if scheme is None:
        compose.notes.append(
            f"edge {edge.name}: {key} names {show(value.strip())} with no scheme; the edge is "
            "taken as HTTP: add protocol: tcp if it carries anything else (gRPC, a database)"
        )
    elif scheme not in _HTTP_SCHEMES and edge.protocol != "tcp":
        edge.protocol = "tcp"
        why = "TLS, which Toxiproxy passes unread" if scheme in ("https", "wss") else "not HTTP"
        compose.notes.append(
            f"edge {edge.name} is protocol: tcp ({key} is a {scheme}:// URL, {why}); the "
            "HTTP fault kinds are refused there and the matrix plans none on it"
        )


def _edge(edges: dict[tuple[str, str], Edge], source: Service, target: Service) -> Edge:
    key = (source.name, target.name)
    if key not in edges:
        edges[key] = Edge(source.name, target.name)
    return edges[key]


def _link_aliases(
    compose: ComposeFile, raw: dict[str, Any], path: FieldPath, services: dict[str, Service]
) -> dict[str, str]:
    """``links: [db:database]``: names only this service reaches another one by."""
    links = raw.get("links")
    found: dict[str, str] = {}
    if not isinstance(links, list):
        return found
    for i, link in enumerate(links):
        if not isinstance(link, str):
            continue
        target, _, alias = compose.interpolate(link, (*path, "links", i)).partition(":")
        if target in services:
            found[(alias or target).strip().lower()] = target
    return found


def _host_port_pair(
    key: str, value: str, env: dict[str, str], visible: dict[str, str], own: str
) -> tuple[str, str, int] | None:
    """``DB_HOST: db`` with ``DB_PORT: 5432``: a host and its port in two variables."""
    target = visible.get(value.strip().lower())
    if target is None or target == own:
        return None
    upper = key.upper()
    suffix = next((x for x in ("_HOSTNAME", "_HOST") if upper.endswith(x)), None)
    if suffix is not None:
        port_key = key[: -len(suffix)] + "_PORT"
    elif upper in ("HOST", "HOSTNAME"):
        port_key = "PORT"
    else:
        return None
    port_key = next((k for k in env if k.upper() == port_key.upper()), port_key)
    port = env.get(port_key, "").strip()
    if port_text(port):
        return target, port_key, int(port)
    return None


def _references(value: str, names: dict[str, str], own: str) -> list[_Reference]:
    """Where ``value`` names another service: ``scheme://host[:port]`` or all of ``host:port``."""
    refs: list[_Reference] = []
    for match in _URL.finditer(value):
        target = names.get(match["host"].lower())
        if target is None or target == own:
            continue
        after = value[match.end() :]
        if after.startswith(",") and not _SCHEME_START.match(after, 1):
            # Several hosts in one URL (mongodb://a:1,b:2): not one edge.
            refs.append(_Reference(0, 0, _SEVERAL, None))
            continue
        port = int(match["port"]) if match["port"] else _SCHEME_PORTS.get(match["scheme"].lower())
        scheme = match["scheme"].lower()
        refs.append(_Reference(match.start("host"), match.end(), target, port, scheme))
    if refs:
        return refs
    bare = _BARE.fullmatch(value.strip())
    if bare is not None:
        target = names.get(bare["host"].lower())
        if target is not None and target != own:
            offset = len(value) - len(value.lstrip())
            return [
                _Reference(
                    offset + bare.start("host"),
                    offset + bare.end("port"),
                    target,
                    int(bare["port"]),
                )
            ]
    return []


def _template(value: str, refs: list[_Reference]) -> str:
    """``value`` with each reference's host and port as ``{host}:{port}``, the rest escaped."""
    out: list[str] = []
    last = 0
    for ref in refs:
        out.append(escape(value[last : ref.start]))
        out.append("{host}:{port}")
        last = ref.end
    out.append(escape(value[last:]))
    return "".join(out)


def note_depends_on(compose: ComposeFile, services: dict[str, Service], edges: list[Edge]) -> None:
    """Notes where ``depends_on`` names a service that no environment value leads to."""
    pairs = {(e.source, e.target) for e in edges}
    for compose_name, service in services.items():
        deps = compose.raw_services[compose_name].get("depends_on")
        if isinstance(deps, dict):
            deps = list(deps)
        if not isinstance(deps, list):
            continue
        for dep in deps:
            if not isinstance(dep, str):
                continue
            label, target = show(compose_name), show(dep)
            if dep not in services:
                compose.notes.append(
                    f"service {label} depends_on {target}, which is no service in this file"
                )
            elif (service.name, services[dep].name) not in pairs:
                compose.notes.append(
                    f"service {label} depends_on {target} but no environment value names "
                    f"{target}; add the edge by hand if {label} calls {target}"
                )


def choose_client(compose: ComposeFile, services: dict[str, Service], edges: list[Edge]) -> Service:
    """The service users' requests enter: the first with published ports that nobody calls."""
    called = {e.target for e in edges}
    candidates = [s for s in services.values() if s.published and s.name not in called]
    if candidates:
        chosen = candidates[0]
        if len(candidates) > 1:
            others = ", ".join(s.name for s in candidates[1:])
            compose.notes.append(
                f"the client edge is client->{chosen.name}, the first service with published "
                f"ports that no other service calls; other candidates: {others} (a topology "
                "has one client edge: change it if users enter elsewhere)"
            )
    else:
        uncalled = [s for s in services.values() if s.name not in called]
        chosen = (uncalled or list(services.values()))[0]
        compose.notes.append(
            f"no service publishes ports without being called by another; the client edge "
            f"is client->{chosen.name}: change it to where users' requests enter"
        )
    for service in services.values():
        if service is not chosen and service.name not in called and not service.published:
            compose.notes.append(
                f"service {service.name} has no published port and no other service calls "
                "it; no edge points at it"
            )
    return chosen
