"""Topology files (``domino.yaml``): a system described as data, validated before anything starts.

The format is in ``docs/topologies.md``. Every mistake is one
:class:`~harness.errors.TopologyError` line naming file, line, field, what is
wrong and what is allowed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from harness.errors import TopologyError, UsageError
from harness.files.yamldoc import (
    FieldPath,
    FieldReader,
    YamlDoc,
    brief,
    describe_kind,
    dotted,
    merge_keys,
    read_text,
    without_extensions,
)
from harness.infra.network_safety import is_loopback_host
from harness.infra.templates import TemplateError, json_strings, placeholders
from harness.model.topology import (
    CLIENT,
    EDGE_PROTOCOLS,
    BodyExpectation,
    BuildStep,
    DeclaredDefences,
    Edge,
    EdgeProtocol,
    FileKind,
    Journey,
    Profile,
    Readiness,
    Service,
    ServiceFile,
    Session,
    Slo,
    Topology,
    User,
)
from harness.plugins import adapter_names, get_adapter

__all__ = ["TOPOLOGY_FILE_NAME", "load_topology", "parse_topology"]

#: The file ``--topology`` defaults to in the current directory.
TOPOLOGY_FILE_NAME = "domino.yaml"

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_PORT = re.compile(r"[0-9]{1,5}")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: A JSON field as a dotted path: ``order.id``, ``products.0.sku``.
_FIELD_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_BODY_FIELDS = ("json", "has", "equals", "contains", "min_bytes")
#: Longest body a journey may require, in bytes (a journey's answer is read whole).
_MAX_MIN_BYTES = 64 * 1024 * 1024

_SERVICE_VALUES = ("port", "listen_fd", "bind_host", "dir", "data_dir", "python", "service")
_EDGE_VALUES = ("host", "port", "edge")
#: A settings file's placeholders besides each outgoing edge's ``{T.host}``, ``{T.port}``,
#: ``{T.url}`` (T: the edge's target or its name). No ``{listen_fd}``: a number that names
#: a socket only in the process that inherits it.
_FILE_VALUES = ("port", "bind_host", "dir", "data_dir", "python", "service")
_ADDRESS_PARTS = ("host", "port", "url")
#: What an edge's caller may declare of its defences (compared by ``domino defences``).
_DEFENCE_FIELDS = ("timeout_ms", "retries", "fallback")
#: Longest deadline an edge may declare, in ms (an hour).
_MAX_TIMEOUT_MS = 3_600_000
#: Most retries an edge may declare.
_MAX_RETRIES = 100
_FILE_KINDS = ("template", "template_file", "dotenv", "json", "yaml", "ini", "toml", "properties")
_EDITS: dict[str, FileKind] = {
    "dotenv": "dotenv",
    "json": "json",
    "yaml": "yaml",
    "ini": "ini",
    "toml": "toml",
    "properties": "properties",
}
#: Kinds whose values are text on one line (their keys name a line, not a path in a tree).
_LINE_KINDS = ("ini", "properties")
_REQUEST_VALUES = ("uuid", "user.id", "user.password")
_TOML_KEY = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")

_TOP_REQUIRED = ("name", "services", "edges", "journeys")
_TOP_OPTIONAL = ("adapter", "build", "profiles", "session", "users")
_SERVICE_FIELDS = (
    "command",
    "cwd",
    "env",
    "image",
    "container_command",
    "container_port",
    "container_healthcheck",
    "url",
    "ready",
    "files",
)


class _TopologyReader:
    def __init__(self, doc: YamlDoc, base_dir: Path) -> None:
        self.doc = doc
        self.r = FieldReader(doc)
        self.base_dir = base_dir
        # Each settings file's templates, checked once the edges (their placeholders) are known.
        self.file_templates: dict[str, list[tuple[FieldPath, str, str]]] = {}
        # Files already declared (working copy: by path; data_dir: by service and path): where.
        self.working_copy_files: dict[Path, str] = {}
        self.data_dir_files: dict[tuple[str, Path], str] = {}
        # The file's edges, once read (a fallback or a profile names them).
        self.edge_names: list[str] = []

    def error(self, path: FieldPath, problem: str) -> UsageError:
        return self.doc.error(path, problem)

    # -- small pieces ---------------------------------------------------------------

    def template(self, value: Any, path: FieldPath, allowed: tuple[str, ...]) -> str:
        text = self.r.raw_text(value, path)
        self.check_template(text, path, allowed)
        return text

    def check_template(self, text: str, path: FieldPath, allowed: tuple[str, ...]) -> None:
        try:
            names = placeholders(text)
        except TemplateError as exc:
            raise self.error(path, str(exc)) from None
        for name in names:
            if name not in allowed:
                shown = ", ".join(f"{{{a}}}" for a in allowed)
                raise self.error(path, f"unknown placeholder {{{name}}}; allowed here: {shown}")

    def argv(self, value: Any, path: FieldPath, allowed: tuple[str, ...]) -> tuple[str, ...]:
        if isinstance(value, str):
            example = f", e.g. [{brief(value.split()[0])}, ...]" if value.split() else ""
            raise self.error(path, f"must be a list of arguments (no shell){example}")
        items = self.r.listing(value, path)
        return tuple(self.template(v, (*path, i), allowed) for i, v in enumerate(items))

    def env(self, value: Any, path: FieldPath, allowed: tuple[str, ...]) -> dict[str, str]:
        raw = self.r.free_mapping(value, path)
        env = {}
        for key, item in raw.items():
            if not _ENV_NAME.fullmatch(str(key)):
                raise self.error((*path, key), "not a valid environment variable name")
            env[str(key)] = self.template(item, (*path, key), allowed)
        return env

    def headers(self, value: Any, path: FieldPath, allowed: tuple[str, ...]) -> dict[str, str]:
        raw = self.r.free_mapping(value, path)
        headers = {}
        for key, item in raw.items():
            if not _HEADER_NAME.fullmatch(str(key)):
                raise self.error((*path, key), "not a valid HTTP header name")
            headers[str(key)] = self.template(item, (*path, key), allowed)
        return headers

    def json_body(self, value: Any, path: FieldPath, allowed: tuple[str, ...]) -> Any:
        self.check_json(value, path)
        for text in json_strings(value):
            self.check_template(text, path, allowed)
        return value

    def check_json(self, value: Any, path: FieldPath) -> None:
        """A request body is sent as JSON: a date, bytes or infinity would fail mid-run."""
        if isinstance(value, dict):
            for key, item in value.items():
                self.check_json(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.check_json(item, (*path, i))
        elif isinstance(value, float) and not math.isfinite(value):
            raise self.error(path, f"must be JSON, got {value!r}; allowed: finite numbers")
        elif value is not None and not isinstance(value, str | int | float | bool):
            raise self.error(
                path,
                f"must be JSON, got {type(value).__name__} {brief(value)}; allowed: text, "
                "numbers, true/false, null, lists and mappings (quote dates)",
            )

    def url_path(self, value: Any, path: FieldPath, allowed: tuple[str, ...]) -> str:
        text = self.template(value, path, allowed)
        if not text.startswith("/"):
            raise self.error(path, f"must be a path starting with '/', got {brief(text)}")
        return text

    def folder(self, value: Any, path: FieldPath) -> Path:
        text = self.template(value, path, ("dir",))
        folder = Path(text.replace("{dir}", str(self.base_dir)))
        return folder if folder.is_absolute() else self.base_dir / folder

    # -- sections ---------------------------------------------------------------------

    def readiness(self, value: Any, path: FieldPath) -> Readiness:
        fields = self.r.mapping(value, path, (), ("http", "status", "tcp", "log", "timeout_s"))
        kinds = [k for k in ("http", "tcp", "log") if k in fields]
        if len(kinds) != 1:
            raise self.error(
                path,
                "give exactly one strategy: http (a path), tcp (true) or log (a text); "
                f"got {', '.join(kinds) or 'none'}",
            )
        timeout_s = self.r.number(
            fields.get("timeout_s", 30), (*path, "timeout_s"), minimum=0.5, maximum=600
        )
        kind = kinds[0]
        if "status" in fields and kind != "http":
            raise self.error((*path, "status"), "only an http readiness check has a status")
        if kind == "http":
            status = None
            if "status" in fields:
                status = self.r.integer(
                    fields["status"], (*path, "status"), minimum=100, maximum=599
                )
            check = self.url_path(fields["http"], (*path, "http"), ())
            return Readiness("http", path=check, status=status, timeout_s=timeout_s)
        if kind == "tcp":
            if fields["tcp"] is not True:
                raise self.error((*path, "tcp"), "write `tcp: true` to wait for the port")
            return Readiness("tcp", timeout_s=timeout_s)
        text = self.r.text(fields["log"], (*path, "log"))
        return Readiness("log", text=text, timeout_s=timeout_s)

    def service(self, name: str, value: Any, path: FieldPath) -> Service:
        if not _SERVICE_NAME.fullmatch(name) or name == CLIENT:
            raise self.error(
                path,
                "a service name is 1-40 lowercase letters, digits, '-' or '_', starting with a "
                f"letter, and not {CLIENT!r}",
            )
        fields = self.r.mapping(value if value is not None else {}, path, (), _SERVICE_FIELDS)
        if not any(k in fields for k in ("command", "image", "url")):
            raise self.error(
                path,
                "say how it runs: command (local backend), image (docker) or url (external)",
            )
        command: tuple[str, ...] = ()
        env: dict[str, str] = {}
        if "command" in fields:
            command = self.argv(fields["command"], (*path, "command"), _SERVICE_VALUES)
        if "env" in fields:
            env = self.env(fields["env"], (*path, "env"), _SERVICE_VALUES)
        files = self.service_files(name, fields.get("files", []), (*path, "files"))
        if command:
            uses = {n for item in (*command, *env.values()) for n in placeholders(item)}
            uses |= {
                n
                for _where, text, _label in self.file_templates.get(name, [])
                for n in placeholders(text)
            }
            if not uses & {"port", "listen_fd"}:
                raise self.error(
                    (*path, "command"),
                    "the service is never told its port: put {port} in its command, an "
                    "env value (e.g. env: {PORT: '{port}'}) or one of its files",
                )
        image = None
        if "image" in fields:
            image = self.r.text(fields["image"], (*path, "image"))
        container_command = None
        if "container_command" in fields:
            container_command = self.argv(
                fields["container_command"], (*path, "container_command"), _SERVICE_VALUES
            )
        container_healthcheck = None
        if "container_healthcheck" in fields:
            container_healthcheck = self.argv(
                fields["container_healthcheck"], (*path, "container_healthcheck"), ()
            )
        url = None
        if "url" in fields:
            url = self.r.text(fields["url"], (*path, "url"))
            try:
                parts = urlsplit(url)
                port = parts.port  # ValueError when out of range or not a number
            except ValueError:
                parts, port = None, None
            if (
                parts is None
                or parts.scheme not in ("http", "https")
                or not parts.hostname
                or not port
            ):
                raise self.error(
                    (*path, "url"), f"must be http://HOST:PORT, got {brief(url)} (give the port)"
                )
        return Service(
            name=name,
            command=command,
            cwd=self.folder(fields["cwd"], (*path, "cwd")) if "cwd" in fields else None,
            env=env,
            image=image,
            container_command=container_command,
            container_port=self.r.integer(
                fields.get("container_port", 8080),
                (*path, "container_port"),
                minimum=1,
                maximum=65535,
            ),
            container_healthcheck=container_healthcheck,
            url=url,
            ready=self.readiness(fields["ready"], (*path, "ready"))
            if "ready" in fields
            else Readiness(),
            files=files,
        )

    # -- a service's settings files (`files:`) ------------------------------------------

    def service_files(self, service: str, value: Any, path: FieldPath) -> tuple[ServiceFile, ...]:
        items = self.r.listing(value, path, non_empty=False)
        return tuple(self.service_file(service, v, (*path, i)) for i, v in enumerate(items))

    def service_file(self, service: str, value: Any, path: FieldPath) -> ServiceFile:
        fields = self.r.mapping(value, path, ("path",), ("from", "container_path", *_FILE_KINDS))
        kinds = [k for k in _FILE_KINDS if k in fields]
        if len(kinds) != 1:
            raise self.error(
                path,
                "say what the file holds with exactly one of "
                f"{', '.join(_FILE_KINDS)}; got {', '.join(kinds) or 'none'}",
            )
        kind, where = kinds[0], (*path, kinds[0])
        target, in_working_copy = self.file_path(service, fields["path"], (*path, "path"))
        container_path = (
            self.container_path(fields["container_path"], (*path, "container_path"))
            if "container_path" in fields
            else None
        )
        templates = self.file_templates.setdefault(service, [])
        if kind in ("template", "template_file"):
            if "from" in fields:
                raise self.error((*path, "from"), f"a {kind} is the whole file: drop from")
            text, label = self.template_text(fields[kind], where, kind)
            templates.append((where, text, label))
            return ServiceFile(
                target, "template", in_working_copy, template=text, container_path=container_path
            )
        source = self.existing_file(fields["from"], (*path, "from")) if "from" in fields else None
        raw = self.r.free_mapping(fields[kind], where)
        if not raw:
            raise self.error(where, "must set at least one key")
        settings: dict[str, Any] = {}
        for key, item in raw.items():
            at = (*where, key)
            if kind == "dotenv" and not _ENV_NAME.fullmatch(str(key)):
                raise self.error(at, "not a valid environment variable name")
            if kind == "ini" and "." not in str(key):
                raise self.error(at, "an INI setting is section.name (e.g. server.port)")
            if kind == "toml" and not _TOML_KEY.fullmatch(str(key)):
                raise self.error(
                    at, "a TOML setting is table.name with bare names (e.g. server.port)"
                )
            if kind in ("dotenv", *_LINE_KINDS):
                settings[str(key)] = self.r.raw_text(item, at)
            else:
                self.field_path(key, at)
                self.check_json(item, at)
                if kind == "toml" and not isinstance(item, str | int | float | bool):
                    raise self.error(at, "a TOML setting here is text, a number or true/false")
                settings[str(key)] = item
            for text in json_strings(settings[str(key)]):
                self.template_names(text, at, "")
                templates.append((at, text, ""))
        return ServiceFile(
            target,
            _EDITS[kind],
            in_working_copy,
            settings=settings,
            source=source,
            container_path=container_path,
        )

    def container_path(self, value: Any, path: FieldPath) -> PurePosixPath:
        """Where the docker backend puts a settings file in the container: an absolute path."""
        text = self.r.text(value, path)
        found = PurePosixPath(text)
        if not found.is_absolute() or ".." in found.parts or text.endswith("/") or "{" in text:
            raise self.error(
                path,
                f"{brief(text)}: give the file's absolute path inside the image, e.g. "
                "/app/config.json",
            )
        return found

    def template_text(self, value: Any, path: FieldPath, kind: str) -> tuple[str, str]:
        """A template's text, and the label its errors start with (a template file's name)."""
        if kind == "template":
            text, label = self.r.raw_text(value, path), ""
        else:
            template_path = self.existing_file(value, path)
            label = f"{template_path.name}: "
            try:
                text = read_text(template_path, error=TopologyError, what="a template")
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise self.error(path, f"cannot read {template_path}: {exc}") from None
        self.template_names(text, path, label)
        return text, label

    def template_names(self, text: str, path: FieldPath, label: str) -> list[str]:
        try:
            return placeholders(text)
        except TemplateError as exc:
            raise self.error(path, f"{label}{exc}") from None

    def file_path(self, service: str, value: Any, path: FieldPath) -> tuple[Path, bool]:
        """Where a settings file goes: inside ``{data_dir}``, or a working-copy file."""
        text = self.r.text(value, path)
        names = self.template_names(text, path, "")
        hint = (
            "write {data_dir}/NAME (this run's folder for the service) or a path under "
            f"the topology's folder {self.base_dir}"
        )
        if "data_dir" in names:
            inside = Path(text.removeprefix("{data_dir}/"))
            if (
                names != ["data_dir"]
                or not text.startswith("{data_dir}/")
                or inside.is_absolute()
                or ".." in inside.parts
                or not inside.parts
            ):
                raise self.error(path, f"{brief(text)}: {hint}")
            self.claim(self.data_dir_files, (service, inside), text, path)
            return inside, False
        if [n for n in names if n != "dir"]:
            raise self.error(path, f"{brief(text)}: {hint}")
        target = Path(text.replace("{dir}", str(self.base_dir)))
        try:
            target = (target if target.is_absolute() else self.base_dir / target).resolve()
            is_dir, has_folder = target.is_dir(), target.parent.is_dir()
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte
            raise self.error(path, f"{brief(text)} is not a file path: {exc}") from None
        if not target.is_relative_to(self.base_dir) or target == self.base_dir:
            raise self.error(path, f"{brief(text)} is outside the topology's folder; {hint}")
        if is_dir:
            raise self.error(path, f"{brief(text)} is a folder; name a file")
        if not has_folder:
            raise self.error(path, f"{brief(text)}: no folder {target.parent}")
        if target == (self.base_dir / Path(self.doc.source).name).resolve():
            raise self.error(path, "is the topology file itself")
        self.claim(self.working_copy_files, target, text, path)
        return target, True

    def claim(self, claimed: dict[Any, str], key: Any, text: str, path: FieldPath) -> None:
        """One declaration per file: a working-copy file has one content per run."""
        taken = claimed.get(key)
        if taken is not None:
            raise self.error(
                path,
                f"{brief(text)} is already written by {taken}; a file has one content per "
                "run: give each service its own copy in its {data_dir}",
            )
        claimed[key] = dotted(path[:-1])

    def existing_file(self, value: Any, path: FieldPath) -> Path:
        text = self.r.text(value, path)
        if [n for n in self.template_names(text, path, "") if n != "dir"]:
            raise self.error(path, f"{brief(text)}: only {{dir}} is allowed here")
        found = Path(text.replace("{dir}", str(self.base_dir)))
        found = found if found.is_absolute() else self.base_dir / found
        if not found.is_file():
            raise self.error(path, f"no such file {found}")
        return found

    def check_file_placeholders(self, edges: tuple[Edge, ...]) -> None:
        """Each settings file names only its service's values and its outgoing edges."""
        for service, templates in self.file_templates.items():
            allowed = list(_FILE_VALUES)
            for edge in edges:
                if edge.source == service:
                    names = (edge.target, edge.name)
                    allowed += [f"{e}.{part}" for e in names for part in _ADDRESS_PARTS]
            for where, text, label in templates:
                for name in placeholders(text):
                    if name not in allowed:
                        shown = ", ".join(f"{{{a}}}" for a in allowed)
                        raise self.error(
                            where, f"{label}unknown placeholder {{{name}}}; allowed here: {shown}"
                        )

    def edge(self, key: str, value: Any, path: FieldPath, services: list[str]) -> Edge:
        source, sep, target = key.partition("->")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise self.error(path, "an edge is named SOURCE->TARGET, e.g. checkout->payments")
        known = ", ".join(services)
        if source != CLIENT and source not in services:
            raise self.error(
                path, f"unknown service {brief(source)}; known services: {known} (and {CLIENT})"
            )
        if target not in services:
            raise self.error(path, f"unknown service {brief(target)}; known services: {known}")
        if source == target:
            raise self.error(path, "an edge joins two different services")
        fields = self.r.mapping(
            value if value is not None else {},
            path,
            (),
            ("env", "listen", "protocol", *_DEFENCE_FIELDS),
        )
        env = self.env(fields["env"], (*path, "env"), _EDGE_VALUES) if "env" in fields else {}
        if source == CLIENT and env:
            raise self.error((*path, "env"), "users' devices take no environment")
        declared = self.declared_defences(fields, path)
        if source == CLIENT and declared.declared:
            first = next(f for f in _DEFENCE_FIELDS if f in fields)
            raise self.error(
                (*path, first),
                "users' devices' defences are not the system's: declare timeout_ms, retries "
                "and fallback on the edges between services",
            )
        listen = None
        if "listen" in fields:
            listen = self.r.text(fields["listen"], (*path, "listen"))
            host, _, port = listen.rpartition(":")
            if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
                raise self.error((*path, "listen"), f"must be HOST:PORT, got {brief(listen)}")
            if not is_loopback_host(host):
                raise self.error(
                    (*path, "listen"), f"Toxiproxy listens on loopback only, not {brief(host)}"
                )
        protocol: EdgeProtocol = "http"
        if "protocol" in fields:
            chosen = self.r.choice(fields["protocol"], (*path, "protocol"), EDGE_PROTOCOLS)
            protocol = "tcp" if chosen == "tcp" else "http"
        return Edge(source, target, env, listen, declared, protocol)

    def declared_defences(self, fields: dict[str, Any], path: FieldPath) -> DeclaredDefences:
        """An edge's ``timeout_ms``, ``retries`` and ``fallback`` (its edges' names are
        checked once every edge is known: :meth:`check_fallbacks`)."""
        timeout_ms: float | None = None
        retries: int | None = None
        fallback: tuple[str, ...] | None = None
        if "timeout_ms" in fields:
            timeout_ms = self.r.number(
                fields["timeout_ms"], (*path, "timeout_ms"), minimum=1, maximum=_MAX_TIMEOUT_MS
            )
        if "retries" in fields:
            retries = self.r.integer(
                fields["retries"], (*path, "retries"), minimum=0, maximum=_MAX_RETRIES
            )
        if "fallback" in fields:
            raw = fields["fallback"]
            where = (*path, "fallback")
            if raw in ("none", []):
                fallback = ()
            elif isinstance(raw, list):
                fallback = tuple(self.r.text(v, (*where, i)) for i, v in enumerate(raw))
            elif isinstance(raw, str):
                fallback = (self.r.text(raw, where),)
            else:
                raise self.error(
                    where,
                    f"must be an edge's name, a list of them, or none; got {describe_kind(raw)}",
                )
        return DeclaredDefences(timeout_ms=timeout_ms, retries=retries, fallback=fallback)

    def check_fallbacks(self, edge: str, declared: DeclaredDefences, path: FieldPath) -> None:
        """Each fallback ``edge`` declares is another edge of the file, not the client edge."""
        known = self.edge_names
        listed = declared.fallback or ()
        for i, name in enumerate(listed):
            where: FieldPath = (*path, "fallback", i) if len(listed) > 1 else (*path, "fallback")
            if name not in known:
                raise self.error(
                    where, f"unknown edge {brief(name)}; known edges: {', '.join(known)}"
                )
            if name == edge:
                raise self.error(where, f"{edge} cannot be its own fallback")
            if name.startswith(f"{CLIENT}->"):
                raise self.error(where, "the client edge is no service's fallback")

    def profiles(self, value: Any, path: FieldPath, services: list[str]) -> tuple[Profile, ...]:
        raw = self.r.free_mapping(value, path)
        if not raw:
            raise self.error(path, "must name at least one profile")
        profiles = []
        for name, item in raw.items():
            where = (*path, name)
            if not _SERVICE_NAME.fullmatch(str(name)):
                raise self.error(where, "a profile name is lowercase letters, digits, '-', '_'")
            fields = self.r.mapping(item if item is not None else {}, where, (), ("env", "edges"))
            per_service: dict[str, dict[str, str]] = {}
            for service, env in self.r.free_mapping(fields.get("env", {}), (*where, "env")).items():
                if service not in services:
                    raise self.error(
                        (*where, "env", service),
                        f"unknown service {brief(service)}; known services: {', '.join(services)}",
                    )
                per_service[service] = self.env(env, (*where, "env", service), _SERVICE_VALUES)
            per_edge: dict[str, DeclaredDefences] = {}
            for edge, raw in self.r.free_mapping(
                fields.get("edges", {}), (*where, "edges")
            ).items():
                at = (*where, "edges", edge)
                if edge not in self.edge_names:
                    raise self.error(
                        at, f"unknown edge {brief(edge)}; known edges: {', '.join(self.edge_names)}"
                    )
                declared = self.declared_defences(
                    self.r.mapping(raw if raw is not None else {}, at, (), _DEFENCE_FIELDS), at
                )
                if edge.startswith(f"{CLIENT}->") and declared.declared:
                    raise self.error(at, "users' devices' defences are not the system's")
                self.check_fallbacks(str(edge), declared, at)
                per_edge[str(edge)] = declared
            profiles.append(Profile(str(name), per_service, per_edge))
        return tuple(profiles)

    def session(self, value: Any, path: FieldPath) -> Session:
        fields = self.r.mapping(value, path, ("path", "provides"), ("method", "json", "headers"))
        provides_raw = self.r.free_mapping(fields["provides"], (*path, "provides"))
        if not provides_raw:
            raise self.error((*path, "provides"), "name at least one header the session gives")
        provides = {}
        for key, item in provides_raw.items():
            where = (*path, "provides", key)
            if not _HEADER_NAME.fullmatch(str(key)):
                raise self.error(where, "not a valid HTTP header name")
            text = self.r.raw_text(item, where)
            try:
                names = placeholders(text)
            except TemplateError as exc:
                raise self.error(where, str(exc)) from None
            for name in names:
                if not name.startswith("body."):
                    raise self.error(
                        where, f"unknown placeholder {{{name}}}; use {{body.FIELD}} of the answer"
                    )
            provides[str(key)] = text
        return Session(
            method=self.r.choice(fields.get("method", "POST"), (*path, "method"), _METHODS),
            path=self.url_path(fields["path"], (*path, "path"), _REQUEST_VALUES),
            json_body=self.json_body(fields.get("json"), (*path, "json"), _REQUEST_VALUES),
            headers=self.headers(fields.get("headers", {}), (*path, "headers"), _REQUEST_VALUES),
            provides=provides,
        )

    def journey(
        self, name: str, value: Any, path: FieldPath, edges: list[str], has_session: bool
    ) -> Journey:
        if not _SERVICE_NAME.fullmatch(name):
            raise self.error(path, "a journey name is lowercase letters, digits, '-' or '_'")
        fields = self.r.mapping(
            value,
            path,
            ("path", "slo"),
            ("method", "headers", "json", "expect", "expect_body", "session", "hard", "soft"),
        )
        slo_raw = self.r.mapping(fields["slo"], (*path, "slo"), ("p95_ms",), ("success_rate",))
        slo = Slo(
            p95_ms=self.r.number(slo_raw["p95_ms"], (*path, "slo", "p95_ms"), minimum=1),
            success_rate=self.r.number(
                slo_raw.get("success_rate", 0.99),
                (*path, "slo", "success_rate"),
                minimum=0,
                maximum=1,
            ),
        )
        deps: dict[str, tuple[str, ...]] = {}
        for kind in ("hard", "soft"):
            items = self.r.listing(fields.get(kind, []), (*path, kind), non_empty=False)
            for i, item in enumerate(items):
                if item not in edges:
                    raise self.error(
                        (*path, kind, i),
                        f"unknown edge {brief(item)}; known edges: {', '.join(edges)}",
                    )
            deps[kind] = tuple(items)
        expect: tuple[int, ...] = ()
        if "expect" in fields:
            listed = self.r.listing(fields["expect"], (*path, "expect"))
            expect = tuple(
                self.r.integer(s, (*path, "expect", i), minimum=100, maximum=599)
                for i, s in enumerate(listed)
            )
        session = has_session
        if "session" in fields:
            session = self.r.boolean(fields["session"], (*path, "session"))
            if session and not has_session:
                raise self.error(
                    (*path, "session"), "the file has no session: add a top-level session"
                )
        return Journey(
            name=name,
            method=self.r.choice(fields.get("method", "GET"), (*path, "method"), _METHODS),
            path=self.url_path(fields["path"], (*path, "path"), _REQUEST_VALUES),
            slo=slo,
            hard_deps=deps["hard"],
            soft_deps=deps["soft"],
            session=session,
            json_body=self.json_body(fields.get("json"), (*path, "json"), _REQUEST_VALUES),
            headers=self.headers(fields.get("headers", {}), (*path, "headers"), _REQUEST_VALUES),
            expect=expect,
            expect_body=self.expect_body(fields["expect_body"], (*path, "expect_body"))
            if "expect_body" in fields
            else None,
        )

    def field_path(self, value: Any, path: FieldPath) -> str:
        text = self.r.raw_text(value, path)
        if not _FIELD_PATH.fullmatch(text):
            raise self.error(
                path,
                f"{brief(text)} is not a JSON field; write a dotted path such as order.id "
                "or products.0.sku",
            )
        return text

    def non_empty_text(self, value: Any, path: FieldPath) -> str:
        text = self.r.raw_text(value, path)
        if not text:
            raise self.error(path, "must not be empty text")
        return text

    def expect_body(self, value: Any, path: FieldPath) -> BodyExpectation:
        fields = self.r.mapping(value, path, (), _BODY_FIELDS)
        if not fields:
            raise self.error(
                path, f"say what a good answer holds: one or more of {', '.join(_BODY_FIELDS)}"
            )
        has_raw = self.r.listing(fields.get("has", []), (*path, "has"), non_empty="has" in fields)
        has = tuple(self.field_path(item, (*path, "has", i)) for i, item in enumerate(has_raw))
        equals: dict[str, Any] = {}
        for key, item in self.r.free_mapping(fields.get("equals", {}), (*path, "equals")).items():
            where = (*path, "equals", key)
            self.check_json(item, where)
            equals[self.field_path(key, where)] = item
        if "equals" in fields and not equals:
            raise self.error((*path, "equals"), "must name at least one field")
        wants_json = self.r.boolean(fields.get("json", False), (*path, "json"))
        if "json" in fields and not wants_json and (has or equals):
            raise self.error((*path, "json"), "has and equals read a JSON answer: drop json: false")
        contains: tuple[str, ...] = ()
        if "contains" in fields:
            raw = fields["contains"]
            if isinstance(raw, list):
                items = self.r.listing(raw, (*path, "contains"))
                contains = tuple(
                    self.non_empty_text(t, (*path, "contains", i)) for i, t in enumerate(items)
                )
            else:
                contains = (self.non_empty_text(raw, (*path, "contains")),)
        min_bytes = 0
        if "min_bytes" in fields:
            min_bytes = self.r.integer(
                fields["min_bytes"], (*path, "min_bytes"), minimum=1, maximum=_MAX_MIN_BYTES
            )
        return BodyExpectation(
            json=wants_json, has=has, equals=equals, contains=contains, min_bytes=min_bytes
        )

    def users(self, value: Any, path: FieldPath) -> tuple[User, ...]:
        users = []
        for i, item in enumerate(self.r.listing(value, path)):
            fields = self.r.mapping(item, (*path, i), ("id",), ("password",))
            users.append(
                User(
                    self.r.text(fields["id"], (*path, i, "id")),
                    self.r.raw_text(fields.get("password", ""), (*path, i, "password")),
                )
            )
        return tuple(users)

    def build(self, value: Any, path: FieldPath) -> BuildStep:
        fields = self.r.mapping(value, path, ("command",), ("cwd", "timeout_s"))
        return BuildStep(
            command=self.argv(fields["command"], (*path, "command"), ("dir", "python")),
            cwd=self.folder(fields["cwd"], (*path, "cwd")) if "cwd" in fields else self.base_dir,
            timeout_s=self.r.number(
                fields.get("timeout_s", 300), (*path, "timeout_s"), minimum=1, maximum=3600
            ),
        )

    # -- the file ---------------------------------------------------------------------

    def topology(self) -> Topology:
        r = self.r
        top = r.mapping(self.doc.data, (), _TOP_REQUIRED, _TOP_OPTIONAL, extensions=True)
        name = r.text(top["name"], ("name",))
        if not _NAME.fullmatch(name):
            raise self.error(
                ("name",), f"{brief(name)} must be 3-64 lowercase letters, digits or '-'"
            )
        adapter = "http"
        if "adapter" in top:
            adapter = r.text(top["adapter"], ("adapter",))
            if ":" in adapter:  # a user's own adapter, package.module:attribute
                try:
                    get_adapter(adapter)
                except UsageError as exc:
                    raise self.error(("adapter",), str(exc)) from None
            elif adapter not in adapter_names():
                raise self.error(
                    ("adapter",),
                    f"unknown adapter {brief(adapter)}; "
                    f"known adapters: {', '.join(adapter_names())} "
                    "(or a package.module:attribute of your own)",
                )

        services_raw = r.free_mapping(top["services"], ("services",))
        if not services_raw:
            raise self.error(("services",), "must declare at least one service")
        services = tuple(self.service(str(k), v, ("services", k)) for k, v in services_raw.items())
        service_names = [s.name for s in services]

        edges_raw = r.free_mapping(top["edges"], ("edges",))
        edges = tuple(
            self.edge(str(k), v, ("edges", k), service_names) for k, v in edges_raw.items()
        )
        seen: dict[str, str] = {}
        for raw_key, edge in zip(edges_raw, edges, strict=True):
            if edge.name in seen:
                raise self.error(("edges", raw_key), f"the same edge as {seen[edge.name]!r}")
            seen[edge.name] = str(raw_key)
        clients = [e for e in edges if e.source == CLIENT]
        if not clients:
            raise self.error(
                ("edges",),
                f"no client edge: add `{CLIENT}->{service_names[0]}: {{}}` for where users enter",
            )
        if len(clients) > 1:
            raise self.error(
                ("edges",),
                "more than one client edge ("
                + ", ".join(e.name for e in clients)
                + "); Domino drives one entry per topology: keep one",
            )
        self._check_env_clashes(services, edges)
        self.check_file_placeholders(edges)
        self.edge_names = [e.name for e in edges]
        for raw_key, edge in zip(edges_raw, edges, strict=True):
            self.check_fallbacks(edge.name, edge.declared, ("edges", raw_key))

        session = self.session(top["session"], ("session",)) if "session" in top else None
        edge_names = [e.name for e in edges]
        journeys_raw = r.free_mapping(top["journeys"], ("journeys",))
        if not journeys_raw:
            raise self.error(("journeys",), "must declare at least one journey")
        journeys = tuple(
            self.journey(str(k), v, ("journeys", k), edge_names, session is not None)
            for k, v in journeys_raw.items()
        )
        profiles = (
            self.profiles(top["profiles"], ("profiles",), service_names)
            if "profiles" in top
            else (Profile("default"),)
        )
        return Topology(
            name=name,
            services=services,
            edges=edges,
            journeys=journeys,
            adapter=adapter,
            profiles=profiles,
            session=session,
            users=self.users(top["users"], ("users",)) if "users" in top else (),
            build=self.build(top["build"], ("build",)) if "build" in top else None,
            base_dir=self.base_dir,
        )

    def _check_env_clashes(self, services: tuple[Service, ...], edges: tuple[Edge, ...]) -> None:
        """An edge's env var must not be set twice on its source (by the service or an edge)."""
        owner: dict[tuple[str, str], str] = {}
        for service in services:
            for key in service.env:
                owner[(service.name, key)] = f"services.{service.name}.env"
        for edge in edges:
            for key in edge.env:
                taken = owner.get((edge.source, key))
                if taken is not None:
                    raise self.error(
                        ("edges", edge.name, "env", key),
                        f"{key} is already set on {edge.source} by {taken}",
                    )
                owner[(edge.source, key)] = f"edges.{edge.name}.env"


def parse_topology(text: str, *, source: str, base_dir: Path) -> Topology:
    """Validate topology text; ``source`` names it in errors, ``base_dir`` is ``{dir}``."""
    doc = YamlDoc(source, text, error=TopologyError, what="a topology file")
    if not isinstance(doc.data, dict):
        raise doc.error((), f"must be a mapping, got {describe_kind(doc.data)}")
    # Compose's habits: `x-` keys hold anchors, `<<: *anchor` merges them in.
    doc.data = merge_keys(without_extensions(doc.data), (), doc.lines, refuse=doc.error)
    return _TopologyReader(doc, base_dir.resolve()).topology()


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file."""
    try:
        text = read_text(path, error=TopologyError, what="a topology file")
    except FileNotFoundError:
        raise TopologyError(f"{path}: no such topology file") from None
    except IsADirectoryError:
        raise TopologyError(f"{path}: is a folder; give the domino.yaml inside it") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # ValueError: a path holding a NUL byte.
        raise TopologyError(f"{path}: cannot read the topology file: {exc}") from None
    topology = parse_topology(text, source=str(path), base_dir=path.parent)
    return _with_path(topology, path)


def _with_path(topology: Topology, path: Path) -> Topology:
    import dataclasses

    return dataclasses.replace(topology, path=path.resolve())
