"""Setting keys in line-oriented settings files, keeping every other line as it is.

For the ``ini``, ``toml`` and ``properties`` kinds of a service's ``files:``
(:mod:`harness.backends.service_files`): the lines that set the given keys are
replaced where they are, comments, order and the rest of the file kept, and a
key the file lacks is added (in its section or table, made when missing).

- ``ini``: a key is ``section.name`` (the longest section of the file that
  ends before a dot, else the part before the first dot); values are written
  as they are.
- ``toml``: a key is ``table.name`` (``a.b.name`` for table ``[a.b]``; a key
  with no dot is set before the first table); text is a TOML string, a value
  that is only a port an integer unless the value it replaces is a string,
  numbers and booleans as themselves.
- ``properties`` (Java): a key is the property's whole name (``server.port``);
  values are escaped as Java's ``Properties.load`` reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from harness.errors import UsageError

__all__ = ["set_ini", "set_properties", "set_toml"]

_SECTION = re.compile(r"^\s*\[([^\[\]]+)\]\s*(?:[#;].*)?$")
_INI_KEY = re.compile(r"^\s*([^=:#;\s][^=:]*?)\s*[=:]")
_TOML_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"]+?)\s*\]\s*(?:#.*)?$")
_TOML_ARRAY_TABLE = re.compile(r"^\s*\[\[")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
_TOML_STRING_VALUE = re.compile(r"^\s*[A-Za-z0-9_\-]+\s*=\s*[\"']")
_PROPERTY_KEY = re.compile(r"^\s*((?:\\.|[^=:\s\\])+)\s*[=:\s]?")


def set_ini(base: str, settings: Mapping[str, str], where: str) -> str:
    """``base`` (INI text) with each ``section.name`` set to its value."""
    lines = base.splitlines()
    sections = [m.group(1).strip() for line in lines if (m := _SECTION.match(line))]
    wanted: dict[tuple[str, str], str] = {}
    for key, value in settings.items():
        section = max(
            (s for s in sections if key.startswith(f"{s}.") and len(key) > len(s) + 1),
            key=len,
            default=None,
        )
        if section is None:
            if "." not in key:
                raise UsageError(f"{where}: an INI setting is section.name, got {key!r}")
            section = key.split(".", 1)[0]
        wanted[(section, key[len(section) + 1 :])] = _one_line(value, key, where)
    return _set_lines(
        lines,
        wanted,
        header=lambda line: _header(_SECTION, line),
        key_of=lambda line: _key(_INI_KEY, line),
        render=lambda name, value, _old: f"{name} = {value}",
        new_section=lambda section: f"[{section}]",
    )


def set_toml(
    base: str, settings: Mapping[str, Any], where: str, *, port_only: Callable[[str], bool]
) -> str:
    """``base`` (TOML text) with each ``table.name`` set; ``port_only(key)``: the value is
    one port and nothing else (an integer unless it replaces a string)."""
    lines = base.splitlines()
    if any(_TOML_ARRAY_TABLE.match(line) for line in lines):
        raise UsageError(
            f"{where}: arrays of tables ([[...]]) are not edited; use a template for this file"
        )
    wanted: dict[tuple[str, str], Any] = {}
    for key, value in settings.items():
        table, _, name = key.rpartition(".")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
            raise UsageError(f"{where}: {key!r}: a TOML key here is bare (letters, digits, _ -)")
        wanted[(table, name)] = (value, port_only(key))

    def render(name: str, spec: Any, old: str | None) -> str:
        value, only_port = spec
        return f"{name} = {_toml_value(value, only_port, old, f'{where}: {name}')}"

    return _set_lines(
        lines,
        wanted,
        header=_toml_header,
        key_of=lambda line: _key(_TOML_KEY, line),
        render=render,
        new_section=lambda table: f"[{table}]",
    )


def set_properties(base: str, settings: Mapping[str, str], where: str) -> str:
    """``base`` (a Java ``.properties`` file) with each property set."""
    lines = base.splitlines()
    done = set()
    continued = False
    for i, line in enumerate(lines):
        if continued:  # a value continued from the line before (a trailing backslash)
            continued = _continues(line)
            continue
        stripped = line.lstrip()
        if not stripped or stripped[0] in "#!":
            continue
        continued = _continues(line)
        match = _PROPERTY_KEY.match(line)
        key = _unescape_key(match.group(1)) if match else ""
        if key in settings and key not in done and not continued:
            lines[i] = f"{_escape_key(key)}={_escape_value(settings[key], key, where)}"
            done.add(key)
    lines += [
        f"{_escape_key(k)}={_escape_value(v, k, where)}"
        for k, v in settings.items()
        if k not in done
    ]
    return "\n".join(lines) + "\n"


def _set_lines(
    lines: list[str],
    wanted: Mapping[tuple[str, str], Any],
    *,
    header: Callable[[str], str | None],
    key_of: Callable[[str], str | None],
    render: Callable[[str, Any, str | None], str],
    new_section: Callable[[str], str],
) -> str:
    """Replace each wanted (section, name)'s line in its section; add what is missing at the
    end of its section (or a new one at the end of the file)."""
    out: list[str] = []
    section = ""
    done: set[tuple[str, str]] = set()
    last_line_of: dict[str, int] = {}

    for line in lines:
        found = header(line)
        if found is not None:
            section = found
            out.append(line)
            last_line_of[section] = len(out)
            continue
        name = key_of(line)
        spot = (section, name or "")
        if name is not None and spot in wanted and spot not in done:
            out.append(render(name, wanted[spot], line))
            done.add(spot)
        else:
            out.append(line)
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            last_line_of[section] = len(out)
    last_line_of.setdefault("", 0)

    missing: dict[str, list[str]] = {}
    for (sec, name), spec in wanted.items():
        if (sec, name) not in done:
            missing.setdefault(sec, []).append(render(name, spec, None))
    # Into existing sections, from the last one up, so earlier positions stay valid.
    present = [sec for sec in missing if sec in last_line_of]
    for sec in sorted(present, key=lambda name: last_line_of[name], reverse=True):
        at = last_line_of[sec]
        out[at:at] = missing.pop(sec)
    for sec, added in missing.items():
        if out and out[-1].strip():
            out.append("")
        out += [new_section(sec), *added]
    return "\n".join(out) + "\n"


def _header(pattern: re.Pattern[str], line: str) -> str | None:
    match = pattern.match(line)
    return match.group(1).strip() if match else None


def _toml_header(line: str) -> str | None:
    match = _TOML_TABLE.match(line)
    if match is None:
        return None
    return ".".join(part.strip().strip('"') for part in match.group(1).split("."))


def _key(pattern: re.Pattern[str], line: str) -> str | None:
    match = pattern.match(line)
    return match.group(1).strip() if match else None


def _one_line(value: str, key: str, where: str) -> str:
    if "\n" in value or "\r" in value:
        raise UsageError(f"{where}: {key}: a value on one line only")
    return value


def _toml_value(value: Any, only_port: bool, old: str | None, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        if only_port and not (old is not None and _TOML_STRING_VALUE.match(old)):
            return str(int(value))
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string is JSON's
    raise UsageError(f"{where}: give text, a number or true/false (use a template for more)")


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _unescape_key(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


def _escape_key(key: str) -> str:
    return re.sub(r"([=:\s#!\\])", r"\\\1", key)


def _escape_value(value: str, key: str, where: str) -> str:
    text = _one_line(value, key, where).replace("\\", "\\\\")
    return "\\" + text if text.startswith(" ") else text
