"""Settings files a service reads, rendered per process before it starts (``files:``).

Many services learn their port and their dependencies' addresses from a file
rather than their environment: a JSON address book, a Spring
``application.yml``, a ``.env``. A service's ``files`` (:class:`ServiceFile`)
say which; :func:`render_files` makes each one's content for one process,
from a template or by setting keys in the user's own file, with the same
values as its environment plus each outgoing edge's listener, by target or
edge name (``{payments.url}``, ``{checkout->payments.port}``).
:func:`write_files` writes them: inside the service's ``{data_dir}``, or in
the user's working copy, whose original is first kept in the run's record
(:func:`~harness.infra.runstate.keep_original`) so that the run, or the next
run's reconcile if this one is killed, puts it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.backends.settings_lines import set_ini, set_properties, set_toml
from harness.errors import UsageError
from harness.infra.runstate import RunRecord, keep_original, write_atomically
from harness.infra.templates import TemplateError, render, render_json
from harness.model.topology import Edge, Service, ServiceFile, Topology

__all__ = ["RenderedFile", "address_values", "render_files", "write_files"]

#: Largest file Domino edits in place: settings files are small, and a working-copy
#: file's original is kept whole in the run's record.
MAX_EDITED_BYTES = 1024 * 1024

#: A template that is one port and nothing else (``{port}``, ``{payments.port}``).
_ONLY_PORT = re.compile(r"^\{(?:[^{}]+\.)?port\}$")
#: A ``.env`` line that sets a variable: ``KEY=...`` or ``export KEY=...``.
_DOTENV_LINE = re.compile(r"^\s*(export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
#: A ``.env`` value written without quotes.
_DOTENV_PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")


@dataclass(frozen=True, slots=True)
class RenderedFile:
    """One settings file's content for one process, and where it goes (an absolute path)."""

    path: Path
    content: bytes
    in_working_copy: bool


def address_values(
    topology: Topology, service: Service, edge_address: Callable[[Edge], tuple[str, int]]
) -> dict[str, str]:
    """``{T.host}``, ``{T.port}`` and ``{T.url}`` of each outgoing edge, T its target or name."""
    values = {}
    for edge in topology.dependencies_of(service.name):
        host, port = edge_address(edge)
        for name in (edge.target, edge.name):
            values.update(
                {
                    f"{name}.host": host,
                    f"{name}.port": str(port),
                    f"{name}.url": f"http://{host}:{port}",
                }
            )
    return values


def render_files(
    service: Service, values: Mapping[str, str], *, data_dir: Path
) -> list[RenderedFile]:
    """Each of ``service``'s files for one process; ``values`` fill the placeholders.

    UsageError (one line) when a file to edit cannot be read or a key cannot be set.
    """
    rendered = []
    for index, spec in enumerate(service.files):
        where = f"service {service.name}: files[{index}]"
        path = spec.path if spec.in_working_copy else data_dir / spec.path
        try:
            content = _content(spec, path, values, where)
        except TemplateError as exc:
            raise UsageError(f"{where}: {exc}") from None
        rendered.append(RenderedFile(path, content.encode(), spec.in_working_copy))
    return rendered


def write_files(files: list[RenderedFile], record: RunRecord) -> None:
    """Write ``files``, each whole or not at all; a working-copy file's original is kept first.

    The original goes into ``record`` (saved) before the file is touched, once
    per run: a restart writes the file again but keeps nothing more.
    """
    for rendered in files:
        if rendered.in_working_copy:
            keep_original(record, rendered.path)
        try:
            if not rendered.in_working_copy:  # nothing is made in the user's folders
                rendered.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(rendered.path, rendered.content)
        except OSError as exc:
            raise UsageError(f"cannot write {rendered.path}: {exc.strerror or exc}") from None


def _content(spec: ServiceFile, path: Path, values: Mapping[str, str], where: str) -> str:
    if spec.kind == "template":
        return render(spec.template, values)
    base_path = spec.source or path
    base = _read_base(base_path, where) if spec.source or path.is_file() else ""
    if spec.kind == "dotenv":
        return _dotenv(base, {k: render(str(v), values) for k, v in spec.settings.items()})
    if spec.kind in ("ini", "toml", "properties"):
        return _line_edited(spec, base, values, f"{where}: {base_path}")
    if spec.kind == "json":
        try:
            doc = json.loads(base) if base.strip() else {}
        except ValueError as exc:
            raise UsageError(f"{where}: {base_path} is not JSON: {exc}") from None
        doc = _edited(doc, spec.settings, values, f"{where}: {base_path}")
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    try:
        docs = list(yaml.safe_load_all(base)) or [None]
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise UsageError(f"{where}: {base_path} is not YAML: {problem}") from None
    # A Spring file's later documents (`---`) are profiles: the keys are set in the first.
    docs[0] = _edited(docs[0] or {}, spec.settings, values, f"{where}: {base_path}")
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _line_edited(spec: ServiceFile, base: str, values: Mapping[str, str], where: str) -> str:
    """An INI, TOML or Java properties file with these keys' lines set, the rest kept."""
    if spec.kind == "toml":
        return set_toml(
            base,
            {k: render_json(v, values) for k, v in spec.settings.items()},
            where,
            port_only=lambda key: _ONLY_PORT.match(str(spec.settings[key])) is not None,
        )
    texts = {k: render(str(v), values) for k, v in spec.settings.items()}
    return (set_ini if spec.kind == "ini" else set_properties)(base, texts, where)


def _read_base(path: Path, where: str) -> str:
    try:
        if path.stat().st_size > MAX_EDITED_BYTES:
            raise UsageError(f"{where}: {path} is over {MAX_EDITED_BYTES:,} bytes; is it settings?")
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: cannot read {path}: {exc}") from None


def _dotenv(base: str, settings: Mapping[str, str]) -> str:
    """``base`` with each key's line replaced (kept in place), new keys appended."""
    lines = base.splitlines()
    done = set()
    for i, line in enumerate(lines):
        match = _DOTENV_LINE.match(line)
        if match and match.group(2) in settings:
            key = match.group(2)
            lines[i] = f"{match.group(1) or ''}{key}={_dotenv_value(settings[key])}"
            done.add(key)
    lines += [f"{k}={_dotenv_value(v)}" for k, v in settings.items() if k not in done]
    return "\n".join(lines) + "\n"


def _dotenv_value(value: str) -> str:
    if _DOTENV_PLAIN.fullmatch(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"  # taken literally by every .env reader: no $ expansion
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _edited(doc: Any, settings: Mapping[str, Any], values: Mapping[str, str], where: str) -> Any:
    """``doc`` with each dotted key set; a value that is only a port becomes a number,
    unless the value it replaces is text."""
    if not isinstance(doc, dict | list):
        raise UsageError(f"{where}: holds {type(doc).__name__}, not a mapping of settings")
    for key, template in settings.items():
        parts = key.split(".")
        node = doc
        for depth, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[: depth + 1]), where)
        last = parts[-1]
        value = render_json(template, values)
        if isinstance(template, str) and _ONLY_PORT.match(template):
            old = _get(node, last)
            value = value if isinstance(old, str) else int(value)
        _put(node, last, value, key, where)
    return doc


def _get(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    index = int(part) if part.isdigit() else -1
    return node[index] if 0 <= index < len(node) else None


def _child(node: Any, part: str, key: str, where: str) -> Any:
    """The mapping or list at ``part`` of ``node`` (a new mapping when there is none)."""
    child = _get(node, part)
    if child is None:
        child = {}
        _put(node, part, child, key, where)
    if not isinstance(child, dict | list):
        raise UsageError(f"{where}: cannot set keys under {key}: it holds {child!r}")
    return child


def _put(node: Any, part: str, value: Any, key: str, where: str) -> None:
    if isinstance(node, dict):
        node[part] = value
        return
    if not part.isdigit() or int(part) >= len(node):
        raise UsageError(f"{where}: cannot set {key}: the list there has {len(node)} items")
    node[int(part)] = value
