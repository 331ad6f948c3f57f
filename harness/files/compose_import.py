"""``domino import-compose``: a user's Docker Compose file turned into a ``domino.yaml``.

A QA team that already runs its system with Compose should not have to
describe it twice. :func:`import_compose` reads the Compose file and writes the
text of a topology file (docs/topologies.md) for the docker backend:

* every Compose service becomes a Domino service with its ``image`` (or the
  name ``docker compose build`` gives a ``build:``-only service),
  ``container_port``, ``env``, ``container_command`` and ``ready``;
* every environment value that names another Compose service
  (``CATALOG_URL: http://catalog:8080/api``, ``REDIS_ADDR: redis:6379``)
  becomes an edge, and the variable moves to that edge's ``env`` with the host
  and port replaced by ``{host}`` and ``{port}``, so the caller reaches its
  dependency through Toxiproxy;
* one client edge, and one placeholder journey the user must replace.

What the file cannot say is returned as :attr:`ImportedTopology.notes`, one
line each. This is pure text processing: no host is resolved or contacted, no
shell variable or ``.env`` file is read (``${VAR:-default}`` takes its
default), so the same file always gives the same text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from harness.errors import ComposeImportError, UsageError
from harness.files.yamldoc import (
    FieldPath,
    YamlDoc,
    describe_kind,
    dotted,
    merge_keys,
    read_text,
)

__all__ = ["ComposeImportError", "ImportedTopology", "import_compose"]

#: The pseudo-service users' devices are (harness.topology.CLIENT); a Compose
#: service may not take this name in the topology.
_CLIENT = "client"
#: docs/topologies.md: a topology name is 3-64 lowercase letters, digits or '-'.
_TOPOLOGY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_MAX_SERVICE_NAME = 40
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_PORT = 8080
#: Variables that say which port a service itself listens on (not a dependency's).
_OWN_PORT_VARS = ("PORT", "HTTP_PORT", "SERVER_PORT", "LISTEN_PORT", "APP_PORT")
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
#: Compose keys this importer reads.
_HANDLED_KEYS = frozenset(
    {
        "image",
        "build",
        "command",
        "environment",
        "expose",
        "ports",
        "healthcheck",
        "depends_on",
        "networks",
        "container_name",
        "links",
    }
)
#: Compose keys that change nothing Domino does, so they are dropped without a note.
_HARMLESS_KEYS = frozenset(
    {
        "restart",
        "labels",
        "hostname",
        "logging",
        "stop_grace_period",
        "stop_signal",
        "init",
        "tty",
        "stdin_open",
        "platform",
        "pull_policy",
        "domainname",
    }
)

_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<userinfo>[^@/\s?#]*@)?"
    r"(?P<host>[A-Za-z0-9_.-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
_SCHEME_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_BARE = re.compile(r"^(?P<host>[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})(?P<rest>/\S*)?$")
_HEALTH_URL = re.compile(
    r"(?P<scheme>https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>/[^\s'\"|;&)>]*)?"
)
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_T = TypeVar("_T")
#: The target of a reference to several hosts in one URL (mongodb://a:1,b:2).
_SEVERAL = ","


@dataclass(frozen=True)
class ImportedTopology:
    """The result of importing a Compose file.

    ``yaml_text`` is the ``domino.yaml`` to write; ``edges`` are its edge names
    in file order (the client edge first); ``notes`` are one line each about
    what the user should check before running it.
    """

    name: str
    yaml_text: str
    edges: tuple[str, ...]
    notes: tuple[str, ...]


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
        return _Importer(source, text, folder=folder, name=name).run()
    except RecursionError:
        # Deeply nested or self-referencing YAML (an alias inside its own anchor).
        raise ComposeImportError(
            f"{source}: the YAML is nested too deeply or refers to itself; "
            "a Compose file is a plain mapping"
        ) from None


# -- the model the importer builds --------------------------------------------------


@dataclass
class _Service:
    compose_name: str
    name: str
    path: FieldPath
    image: str = ""
    container_port: int = _DEFAULT_PORT
    port_known: bool = False
    container_command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    ready: dict[str, Any] = field(default_factory=lambda: {"tcp": True})
    published: bool = False


@dataclass
class _Edge:
    source: str
    target: str
    env: dict[str, str] = field(default_factory=dict)
    #: (variable, port the value named) for comparison with the target's port.
    ports: list[tuple[str, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"


@dataclass(frozen=True)
class _Reference:
    """One place in an env value that names another service: the span to rewrite."""

    start: int
    end: int
    target: str
    port: int | None


class _Quoted(str):
    """A string always written double-quoted (edge names, env values)."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with indented lists, which reads more easily than PyYAML's default."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_quoted(dumper: yaml.SafeDumper, value: _Quoted) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


_Dumper.add_representer(_Quoted, _represent_quoted)


# -- the importer -------------------------------------------------------------------


class _Importer:
    def __init__(self, source: str, text: str, *, folder: str, name: str | None) -> None:
        self.source = source
        self.text = text
        self.folder = folder
        self.requested_name = name
        self.notes: list[str] = []
        # ${VAR...} -> (what it became, the fields it appeared in), in order of first use.
        self.interpolated: dict[str, tuple[str, list[str]]] = {}
        # Services without an HTTP healthcheck, noted together (often databases and caches).
        self.tcp_only: list[str] = []

    # The one-line error at a field (YamlDoc finds the line).
    def error(self, path: FieldPath, problem: str) -> UsageError:
        return self.doc.error(path, problem)

    def run(self) -> ImportedTopology:
        self.doc = YamlDoc(self.source, self.text, error=ComposeImportError, what="a Compose file")
        top = merge_keys(self.doc.data, (), self.doc.lines)
        if not isinstance(top, dict):
            raise self.error(
                (),
                f"a Compose file is a mapping with a 'services' mapping, got {describe_kind(top)}",
            )
        if "services" not in top:
            raise self.error(
                (), "no 'services' mapping; a Compose file lists its containers under 'services:'"
            )
        raw_services = top["services"]
        if not isinstance(raw_services, dict):
            raise self.error(
                ("services",),
                f"must be a mapping of service names to their settings, "
                f"got {describe_kind(raw_services)}",
            )
        if not raw_services:
            raise self.error(("services",), "is empty; there is no service to import")

        project = self.project_name(top)
        topology_name = self.topology_name(top)
        services = self.name_services(raw_services)
        # Every name another container can reach a service by: its name, its
        # container_name and its network aliases (service names win over aliases).
        names: dict[str, str] = {}
        for compose_name, service in services.items():
            for alias in self.aliases(raw_services[compose_name], service.path):
                names.setdefault(alias.lower(), compose_name)
        for compose_name in services:
            names[compose_name.lower()] = compose_name

        for compose_name, service in services.items():
            self.read_service(raw_services[compose_name], service, project)
        if self.tcp_only:
            self.notes.append(
                f"no HTTP healthcheck on localhost for {', '.join(map(_show, self.tcp_only))}: "
                "their ready is {tcp: true} (the port accepts connections); set ready.http to "
                "a health path where they have one"
            )
        edges = self.discover_edges(raw_services, services, names)
        self.infer_ports(services, edges)
        self.check_ports(services, edges)
        self.note_depends_on(raw_services, services, edges)
        client = self.choose_client(services, edges)

        self.notes.extend(self.interpolation_notes())
        self.notes.append(
            "the topology runs on the docker backend as imported (image, container_port); "
            "Domino never pulls or builds images, so run `docker compose pull` and "
            "`docker compose build` first"
        )
        self.notes.append(
            "for the local backend, add to each service a `command:` (argv list) that starts "
            'its binary and pass it its port, e.g. env PORT: "{port}" (Compose does not say '
            "how a service runs outside its container)"
        )
        all_edges = [_Edge(_CLIENT, client.name), *edges]
        notes = tuple(_one_line(n) for n in self.notes)
        text = _render(
            source=self.source,
            name=topology_name,
            services=services,
            edges=all_edges,
            client=client,
            notes=notes,
        )
        return ImportedTopology(
            name=topology_name,
            yaml_text=text,
            edges=tuple(e.name for e in all_edges),
            notes=notes,
        )

    # -- names --------------------------------------------------------------------

    def project_name(self, top: dict[str, Any]) -> str:
        """The Compose project name, as ``docker compose`` derives it (for built images)."""
        raw = top.get("name")
        base = self.folder
        if isinstance(raw, str | int) and not isinstance(raw, bool):
            base = self.interpolate(str(raw), ("name",))
        # compose-go: lowercase, keep [-_a-z0-9], no leading '-' or '_'.
        project = re.sub(r"[^-_a-z0-9]+", "", base.lower()).lstrip("-_")
        return project or "default"

    def topology_name(self, top: dict[str, Any]) -> str:
        if self.requested_name is not None:
            if not _TOPOLOGY_NAME.fullmatch(self.requested_name):
                raise ComposeImportError(
                    f"{self.source}: topology name {self.requested_name!r} is not allowed; "
                    "a topology name is 3-64 lowercase letters, digits or '-' (e.g. 'shop')"
                )
            return self.requested_name
        raw = top.get("name")
        base = self.folder
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
            base = self.interpolate(str(raw), ("name",))
        candidate = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:64].rstrip("-")
        if not candidate:
            candidate = "imported"
        elif len(candidate) < 3:
            candidate = f"{candidate}-system"
        if candidate != base:
            self.notes.append(
                f"the topology is named {candidate!r} (from {_show(base)}: a topology name is "
                "3-64 lowercase letters, digits or '-')"
            )
        return candidate

    def name_services(self, raw_services: dict[str, Any]) -> dict[str, _Service]:
        """Domino names for the Compose services, which follow the topology's name rule."""
        taken: set[str] = set()
        services: dict[str, _Service] = {}
        for compose_name, raw in raw_services.items():
            path: FieldPath = ("services", compose_name)
            if not isinstance(raw, dict):
                raise self.error(
                    path,
                    "must be a mapping of Compose settings (image, ports, environment, ...), "
                    f"got {describe_kind(raw)}",
                )
            # The topology's rule: a lowercase letter, then letters, digits, '-' or '_'.
            base = re.sub(r"[^a-z0-9_-]+", "-", compose_name.lower())
            base = re.sub(r"^[^a-z]+", "", base)[:_MAX_SERVICE_NAME].rstrip("-_") or "service"
            if base == _CLIENT:
                # "client" stands for users' devices in every topology.
                base = "client-app"
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base[: _MAX_SERVICE_NAME - 3]}-{n}"
            taken.add(name)
            if name != compose_name:
                self.notes.append(
                    f"Compose service {_show(compose_name)} is called {name!r} in the topology "
                    "(a service name is lowercase letters, digits, '-' or '_' after a letter, "
                    "at most 40, and not 'client')"
                )
            services[compose_name] = _Service(compose_name, name, path)
        return services

    def aliases(self, raw: dict[str, Any], path: FieldPath) -> list[str]:
        """container_name and network aliases: other names the service is reachable by."""
        found: list[str] = []
        container_name = raw.get("container_name")
        if isinstance(container_name, str) and container_name.strip():
            found.append(self.interpolate(container_name.strip(), (*path, "container_name")))
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
                    raise self.error(
                        apath, f"must be a list of names, got {describe_kind(aliases)}"
                    )
                for i, alias in enumerate(aliases):
                    if not isinstance(alias, str):
                        raise self.error((*apath, i), f"must be a name, got {describe_kind(alias)}")
                    found.append(self.interpolate(alias.strip(), (*apath, i)))
        return [a for a in found if a]

    # -- one service ----------------------------------------------------------------

    def read_service(self, raw: dict[str, Any], service: _Service, project: str) -> None:
        path = service.path
        label = _show(service.compose_name)
        image = raw.get("image")
        if image is not None and not isinstance(image, str):
            raise self.error((*path, "image"), f"must be an image name, got {describe_kind(image)}")
        image = self.interpolate(image.strip(), (*path, "image")) if image else ""
        if image:
            service.image = image
        elif raw.get("build") is not None:
            # `docker compose build` tags a service's image <project>-<service>.
            service.image = f"{project}-{service.compose_name.lower()}"
            self.notes.append(
                f"service {label} is built by Compose (build:); its image is "
                f"{service.image!r}, the name `docker compose build` gives it; build it first"
            )
        else:
            service.image = f"{project}-{service.compose_name.lower()}"
            self.notes.append(
                f"service {label} has neither image nor build (extends?); "
                f"its image is set to {service.image!r}: replace it with the real one"
            )

        service.published = bool(self.ports(raw, path, published_only=True))
        if "command" in raw:
            service.container_command = self.command(raw["command"], (*path, "command"))
        service.env = self.environment(raw, path)
        self.choose_port(raw, service)
        service.ready = self.readiness(raw, service)

        ignored = [
            key
            for key in raw
            if key not in _HANDLED_KEYS and key not in _HARMLESS_KEYS and not key.startswith("x-")
        ]
        if ignored:
            shown = ", ".join(_show(k) for k in ignored)
            self.notes.append(
                f"service {label}: Compose settings not imported: {shown} "
                "(Domino has no field for them; bake what the service needs into its image)"
            )

    def command(self, raw: Any, path: FieldPath) -> list[str] | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            try:
                argv = shlex.split(self.interpolate(raw, path))
            except ValueError as exc:
                raise self.error(path, f"cannot split this command: {exc}") from None
            return argv or None
        if isinstance(raw, list):
            argv = []
            for i, item in enumerate(raw):
                if item is None or isinstance(item, dict | list | bool):
                    raise self.error((*path, i), f"must be text, got {describe_kind(item)}")
                argv.append(self.interpolate(str(item), (*path, i)))
            return argv or None
        raise self.error(path, f"must be a command (text or a list), got {describe_kind(raw)}")

    def environment(self, raw: dict[str, Any], path: FieldPath) -> dict[str, str]:
        """The service's environment in file order, values interpolated (not yet escaped)."""
        label = _show(str(path[-1]))
        env, unset = self.environment_entries(raw.get("environment"), (*path, "environment"))
        dropped = [k for k in env if not _ENV_NAME.fullmatch(k)]
        for key in dropped:
            del env[key]
        if dropped:
            self.notes.append(
                f"service {label}: environment {', '.join(repr(k) for k in dropped)} dropped: "
                "a topology's variable names are letters, digits and '_', not starting "
                "with a digit"
            )
        if unset:
            self.notes.append(
                f"service {label}: environment {', '.join(_show(k) for k in unset)} has no "
                "value in the file (Compose takes it from the shell); Domino reads no shell, "
                "so it is not set: add it to env if it matters"
            )
        if raw.get("env_file") is not None:
            self.notes.append(
                f"service {label} reads env_file; those variables are not imported (and "
                "no edge is discovered in them): copy what it needs into its env"
            )
        return env

    def environment_entries(
        self, raw_env: Any, epath: FieldPath
    ) -> tuple[dict[str, str], list[str]]:
        """``environment`` in mapping or list form: the values, and the names with none."""
        env: dict[str, str] = {}
        unset: list[str] = []
        if raw_env is None:
            return env, unset
        if isinstance(raw_env, dict):
            for key, value in raw_env.items():
                vpath: FieldPath = (*epath, key)
                if value is None:
                    unset.append(key)
                elif isinstance(value, dict | list):
                    raise self.error(vpath, f"must be text, got {describe_kind(value)}")
                else:
                    text = str(value).lower() if isinstance(value, bool) else str(value)
                    env[key] = self.interpolate(text, vpath)
            return env, unset
        if not isinstance(raw_env, list):
            raise self.error(
                epath, f"must be a mapping or a list of 'NAME=value', got {describe_kind(raw_env)}"
            )
        for i, item in enumerate(raw_env):
            if not isinstance(item, str):
                raise self.error((*epath, i), f"must be 'NAME=value', got {describe_kind(item)}")
            key, eq, value = self.interpolate(item, (*epath, i)).partition("=")
            if eq:
                env[key] = value
            else:
                unset.append(key)
        return env, unset

    def ports(self, raw: dict[str, Any], path: FieldPath, *, published_only: bool) -> list[int]:
        """Container-side TCP ports of ``ports`` (every entry publishes) or also ``expose``."""
        keys = ("ports",) if published_only else ("expose", "ports")
        found: list[int] = []
        for key in keys:
            entries = raw.get(key)
            if entries is None:
                continue
            kpath: FieldPath = (*path, key)
            if not isinstance(entries, list):
                raise self.error(kpath, f"must be a list of ports, got {describe_kind(entries)}")
            for i, entry in enumerate(entries):
                port = self.container_side(entry, (*kpath, i))
                if port is not None:
                    found.append(port)
        return found

    def container_side(self, entry: Any, path: FieldPath) -> int | None:
        """The container port of one ``ports``/``expose`` entry; None for UDP/SCTP."""
        example = "expected e.g. 8080, '8080:80', '127.0.0.1:8080:80' or {target: 80}"
        if isinstance(entry, dict):
            protocol = str(entry.get("protocol", "tcp")).lower()
            target = entry.get("target")
            if target is None:
                raise self.error(path, f"has no 'target' (the container port); {example}")
            text = self.interpolate(str(target), (*path, "target"))
        elif isinstance(entry, int | str) and not isinstance(entry, bool):
            text = self.interpolate(str(entry), path).strip()
            text, _, protocol = text.partition("/")
            protocol = protocol.lower() or "tcp"
            text = text.rsplit(":", 1)[-1]
        else:
            raise self.error(path, f"is not a port ({describe_kind(entry)}); {example}")
        if protocol != "tcp":
            return None  # Toxiproxy carries TCP only
        text = text.strip().split("-", 1)[0]  # a range: its first port
        if not _port_text(text):
            raise self.error(path, f"{text!r} is not a port number (1-65535); {example}")
        return int(text)

    def choose_port(self, raw: dict[str, Any], service: _Service) -> None:
        label = _show(service.compose_name)
        ports = _unique(self.ports(raw, service.path, published_only=False))
        if ports:
            service.container_port, service.port_known = ports[0], True
            if len(ports) > 1:
                self.notes.append(
                    f"service {label} listens on several ports ({', '.join(map(str, ports))}); "
                    f"container_port is {ports[0]}, the first: Domino proxies one port per "
                    "service, check it is the one its callers use"
                )
            return
        for key in _OWN_PORT_VARS:
            value = service.env.get(key, "").strip()
            if _port_text(value):
                service.container_port, service.port_known = int(value), True
                return

    def readiness(self, raw: dict[str, Any], service: _Service) -> dict[str, Any]:
        label = _show(service.compose_name)
        hpath: FieldPath = (*service.path, "healthcheck")
        check = raw.get("healthcheck")
        test: Any = check.get("test") if isinstance(check, dict) else None
        disabled = isinstance(check, dict) and check.get("disable") is True
        if isinstance(test, list):
            words = [str(w) for w in test]
            if words and words[0] in ("CMD", "CMD-SHELL", "NONE"):
                disabled = disabled or words[0] == "NONE"
                words = words[1:]
            test = " ".join(words)
        if isinstance(test, str) and not disabled:
            probe = _HEALTH_URL.search(self.interpolate(test, (*hpath, "test")))
            if probe is not None and probe["scheme"] == "http":
                if probe["port"] is not None and not service.port_known:
                    service.container_port, service.port_known = int(probe["port"]), True
                elif probe["port"] is not None and int(probe["port"]) != service.container_port:
                    self.notes.append(
                        f"service {label}: its healthcheck probes port {probe['port']} but "
                        f"container_port is {service.container_port}; Domino probes "
                        "container_port, check ready"
                    )
                return {"http": _escape(probe["path"] or "/")}
            if probe is not None:
                self.notes.append(
                    f"service {label}: its healthcheck probes HTTPS; ready.http uses plain "
                    "HTTP, so ready is {tcp: true}"
                )
                return {"tcp": True}
        self.tcp_only.append(service.compose_name)
        return {"tcp": True}

    # -- edges ------------------------------------------------------------------------

    def discover_edges(
        self, raw_services: dict[str, Any], services: dict[str, _Service], names: dict[str, str]
    ) -> list[_Edge]:
        edges: dict[tuple[str, str], _Edge] = {}
        for compose_name, service in services.items():
            label = _show(compose_name)
            visible = dict(names)
            visible.update(self.link_aliases(raw_services[compose_name], service.path, services))
            kept: dict[str, str] = {}
            moved: set[str] = set()
            for key, value in service.env.items():
                if key in moved:
                    continue
                refs = _references(value, visible, compose_name)
                targets = _unique([r.target for r in refs])
                if any(r.target == _SEVERAL for r in refs):
                    self.notes.append(
                        f"service {label}: {key} lists several hosts in one URL; it is kept as "
                        "it is and bypasses Toxiproxy: make one edge per host by hand"
                    )
                    kept[key] = _escape(value)
                    continue
                if len(targets) > 1:
                    shown = ", ".join(_show(t) for t in targets)
                    self.notes.append(
                        f"service {label}: {key} names several services ({shown}); one variable "
                        "can follow one edge, so it is kept as it is and bypasses Toxiproxy"
                    )
                    kept[key] = _escape(value)
                    continue
                if targets:
                    edge = self.edge(edges, service, services[targets[0]])
                    edge.env[key] = _template(value, refs)
                    port = refs[0].port
                    if port is not None:
                        edge.ports.append((key, port))
                    continue
                pair = self.host_port_pair(key, value, service.env, visible, compose_name)
                if pair is not None:
                    target, port_key, port = pair
                    edge = self.edge(edges, service, services[target])
                    edge.env[key] = "{host}"
                    edge.env[port_key] = "{port}"
                    edge.ports.append((port_key, port))
                    moved.add(port_key)
                    kept.pop(port_key, None)
                    continue
                bare = visible.get(value.strip().lower())
                if bare is not None and bare != compose_name:
                    self.notes.append(
                        f"service {label}: {key} names service {_show(bare)} without a port; "
                        f"no edge was made: if {label} calls it, add the edge by hand with "
                        f'{key}: "{{host}}" and the port in another variable as "{{port}}"'
                    )
                kept[key] = _escape(value)
            service.env = kept
        return list(edges.values())

    def edge(
        self, edges: dict[tuple[str, str], _Edge], source: _Service, target: _Service
    ) -> _Edge:
        key = (source.name, target.name)
        if key not in edges:
            edges[key] = _Edge(source.name, target.name)
        return edges[key]

    def link_aliases(
        self, raw: dict[str, Any], path: FieldPath, services: dict[str, _Service]
    ) -> dict[str, str]:
        """``links: [db:database]``: names only this service reaches another one by."""
        links = raw.get("links")
        found: dict[str, str] = {}
        if not isinstance(links, list):
            return found
        for i, link in enumerate(links):
            if not isinstance(link, str):
                continue
            target, _, alias = self.interpolate(link, (*path, "links", i)).partition(":")
            if target in services:
                found[(alias or target).strip().lower()] = target
        return found

    def host_port_pair(
        self, key: str, value: str, env: dict[str, str], visible: dict[str, str], own: str
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
        if _port_text(port):
            return target, port_key, int(port)
        return None

    def infer_ports(self, services: dict[str, _Service], edges: list[_Edge]) -> None:
        """A service that declares no port listens where its callers say it does."""
        for service in services.values():
            if service.port_known:
                continue
            named = _unique(
                [port for e in edges if e.target == service.name for _, port in e.ports]
            )
            if named:
                service.container_port, service.port_known = named[0], True
                continue
            # registry.example/library/postgres:16 -> postgres
            repository = service.image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
            if repository in _IMAGE_PORTS:
                service.container_port, service.port_known = _IMAGE_PORTS[repository], True
                self.notes.append(
                    f"service {_show(service.compose_name)} declares no port; container_port is "
                    f"{service.container_port}, the usual port of the {repository} image"
                )
                continue
            self.notes.append(
                f"service {_show(service.compose_name)} declares no port (expose, ports, PORT) "
                f"and no caller names one; container_port is {_DEFAULT_PORT}: check it"
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

    def check_ports(self, services: dict[str, _Service], edges: list[_Edge]) -> None:
        by_name = {s.name: s for s in services.values()}
        for edge in edges:
            target = by_name[edge.target]
            for key, port in edge.ports:
                if port != target.container_port:
                    self.notes.append(
                        f"edge {edge.name}: {key} names port {port} but {target.name}'s "
                        f"container_port is {target.container_port}; Domino proxies the edge to "
                        "container_port: check which one is right"
                    )
            if any(v.startswith(("https://", "wss://")) for v in edge.env.values()):
                self.notes.append(
                    f"edge {edge.name} uses TLS; Toxiproxy passes it through, but {edge.source} "
                    f"will check {edge.target}'s certificate against Toxiproxy's host name"
                )

    def note_depends_on(
        self, raw_services: dict[str, Any], services: dict[str, _Service], edges: list[_Edge]
    ) -> None:
        pairs = {(e.source, e.target) for e in edges}
        for compose_name, service in services.items():
            deps = raw_services[compose_name].get("depends_on")
            if isinstance(deps, dict):
                deps = list(deps)
            if not isinstance(deps, list):
                continue
            for dep in deps:
                if not isinstance(dep, str):
                    continue
                label, target = _show(compose_name), _show(dep)
                if dep not in services:
                    self.notes.append(
                        f"service {label} depends_on {target}, which is no service in this file"
                    )
                elif (service.name, services[dep].name) not in pairs:
                    self.notes.append(
                        f"service {label} depends_on {target} but no environment value names "
                        f"{target}; add the edge by hand if {label} calls {target}"
                    )

    def choose_client(self, services: dict[str, _Service], edges: list[_Edge]) -> _Service:
        called = {e.target for e in edges}
        candidates = [s for s in services.values() if s.published and s.name not in called]
        if candidates:
            chosen = candidates[0]
            if len(candidates) > 1:
                others = ", ".join(s.name for s in candidates[1:])
                self.notes.append(
                    f"the client edge is client->{chosen.name}, the first service with published "
                    f"ports that no other service calls; other candidates: {others} (a topology "
                    "has one client edge: change it if users enter elsewhere)"
                )
        else:
            uncalled = [s for s in services.values() if s.name not in called]
            chosen = (uncalled or list(services.values()))[0]
            self.notes.append(
                f"no service publishes ports without being called by another; the client edge "
                f"is client->{chosen.name}: change it to where users' requests enter"
            )
        for service in services.values():
            if service is not chosen and service.name not in called and not service.published:
                self.notes.append(
                    f"service {service.name} has no published port and no other service calls "
                    "it; no edge points at it"
                )
        return chosen

    # -- ${VAR} interpolation ------------------------------------------------------------

    def interpolate(self, text: str, path: FieldPath) -> str:
        """Compose interpolation with no variable set: defaults are taken, the rest is empty."""
        where = dotted(path)

        def record(expression: str, result: str, how: str) -> None:
            entry = self.interpolated.setdefault(expression, (f"{result!r} ({how})", []))
            if where not in entry[1]:
                entry[1].append(where)

        try:
            return _interpolate(text, record)
        except _InterpolationError as exc:
            raise self.error(path, f"{exc}; write a literal '$' as '$$'") from None

    def interpolation_notes(self) -> Iterator[str]:
        for expression, (result, places) in self.interpolated.items():
            yield (
                f"{_show(expression)} became {result} in {', '.join(places)}: Domino reads "
                "neither your shell nor .env; edit the value in domino.yaml if it should differ"
            )


# -- pure helpers ---------------------------------------------------------------------


class _InterpolationError(ValueError):
    pass


def _interpolate(text: str, record: Callable[[str, str, str], None]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise _InterpolationError(f"unclosed '${{' in {text!r}")
            expression = text[i : end + 1]
            out.append(_resolve(expression, text[i + 2 : end], record))
            i = end + 1
            continue
        match = _VAR_NAME.match(text, i + 1)
        if match is None:
            out.append("$")  # a lone '$' is kept as written
            i += 1
            continue
        record(text[i : match.end()], "", "not set")
        i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _resolve(expression: str, body: str, record: Callable[[str, str, str], None]) -> str:
    match = _VAR_NAME.match(body)
    if match is None:
        raise _InterpolationError(f"invalid interpolation {expression!r}")
    rest = body[match.end() :]
    for operator in (":-", "-", ":?", "?", ":+", "+"):
        if rest.startswith(operator):
            argument = rest[len(operator) :]
            break
    else:
        if rest:
            raise _InterpolationError(f"invalid interpolation {expression!r}")
        record(expression, "", "not set")
        return ""
    if operator in (":-", "-"):
        # Defaults may hold further ${...}; they are unset too.
        result = _interpolate(argument, record)
        record(expression, result, "its default")
        return result
    if operator in (":?", "?"):
        record(expression, "", "required, not set")
        return ""
    record(expression, "", "unset, so the alternative is not used")
    return ""


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
        refs.append(_Reference(match.start("host"), match.end(), target, port))
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
        out.append(_escape(value[last : ref.start]))
        out.append("{host}:{port}")
        last = ref.end
    out.append(_escape(value[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    """Literal braces in a template (docs/topologies.md: ``{{`` and ``}}``)."""
    return text.replace("{", "{{").replace("}", "}}")


def _port_text(text: str) -> bool:
    """True for a TCP port number written in ASCII digits (``str.isdigit`` also takes '²')."""
    return re.fullmatch(r"[0-9]{1,5}", text) is not None and 1 <= int(text) <= 65535


def _unique(items: list[_T]) -> list[_T]:
    seen: list[_T] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


_PLAIN = re.compile(r"^[A-Za-z0-9_.-]+$")


def _show(text: str) -> str:
    """A user's name in a note: as is when plain, quoted (one line) otherwise."""
    return text if _PLAIN.fullmatch(text) else repr(text)


def _one_line(text: str) -> str:
    # YAML (and terminals) also break lines at NEL and the Unicode separators.
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


# -- writing domino.yaml ----------------------------------------------------------------


def _render(
    *,
    source: str,
    name: str,
    services: dict[str, _Service],
    edges: list[_Edge],
    client: _Service,
    notes: tuple[str, ...],
) -> str:
    header = [
        f"# Generated by `domino import-compose` from {Path(source).name}.",
        "# Review before running:",
        "#   - journeys: Domino cannot discover them; 'home' below is a placeholder;",
        "#   - ready: how Domino knows each service is up ({tcp: true} where Compose",
        "#     had no HTTP healthcheck on localhost);",
        "#   - the notes:",
        *(f"#       {_one_line(note)}" for note in notes),
    ]
    body: dict[str, Any] = {"name": name, "services": {}, "edges": {}}
    for service in services.values():
        entry: dict[str, Any] = {"image": service.image, "container_port": service.container_port}
        if service.container_command is not None:
            # container_command is a template too ({port}, ...): braces are literal here.
            entry["container_command"] = [_escape(a) for a in service.container_command]
        if service.env:
            entry["env"] = {k: _Quoted(v) for k, v in service.env.items()}
        entry["ready"] = service.ready
        body["services"][service.name] = entry
    for edge in edges:
        body["edges"][_Quoted(edge.name)] = (
            {"env": {k: _Quoted(v) for k, v in edge.env.items()}} if edge.env else {}
        )
    journeys = {
        "journeys": {
            "home": {
                "method": "GET",
                "path": "/",
                "slo": {"p95_ms": 1000},
                "hard": [_Quoted(f"{_CLIENT}->{client.name}")],
            }
        }
    }
    journey_comment = [
        "",
        "# Describe your users' journeys here: the requests they make, their SLOs, the",
        "# edges each cannot succeed without (hard) and those whose loss should only",
        "# degrade it (soft). 'home' is a placeholder. See docs/topologies.md.",
    ]
    return "\n".join([*header, "", _dump(body).rstrip("\n"), *journey_comment, _dump(journeys)])


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
    )
