"""A Compose service's ``env_file``: the variables it reads from files beside the Compose file.

Compose reads each file (a path, a list of them, or ``{path, required}``
entries) relative to the Compose file's folder; ``environment`` wins over a
file, and a later file over an earlier one. The lines are ``KEY=value``
(``export`` allowed, ``#`` comments, values quoted or not), as Compose reads
them. A file that cannot be read is a note, never an error: the import goes
on with what there is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.files.compose_import.compose_file import ComposeFile, show
from harness.files.yamldoc import FieldPath, describe_kind

__all__ = ["read_env_files"]

#: Largest env file read: settings, not data.
MAX_ENV_FILE_BYTES = 1024 * 1024
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s?(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def read_env_files(compose: ComposeFile, raw: Any, path: FieldPath, label: str) -> dict[str, str]:
    """The variables ``env_file`` (at ``path``) gives service ``label``, later files winning."""
    if raw is None:
        return {}
    entries = raw if isinstance(raw, list) else [raw]
    found: dict[str, str] = {}
    read: list[str] = []
    for i, entry in enumerate(entries):
        where = (*path, i) if isinstance(raw, list) else path
        name, required = _entry(compose, entry, where)
        if compose.folder is None:
            compose.notes.append(
                f"service {label}: env_file {show(name)} not read (no folder to read it from); "
                "copy what it needs into its env"
            )
            continue
        file = compose.folder / name
        text = _read(file)
        if text is None:
            if required:
                compose.notes.append(
                    f"service {label}: env_file {show(name)} cannot be read; its variables are "
                    "not imported (and no edge is discovered in them)"
                )
            continue
        found.update(_parse(text))
        read.append(show(name))
    if read:
        compose.notes.append(
            f"service {label}: variables read from env_file {', '.join(read)} are written into "
            "domino.yaml: check that none is a secret you would not commit"
        )
    return found


def _entry(compose: ComposeFile, entry: Any, where: FieldPath) -> tuple[str, bool]:
    if isinstance(entry, str):
        return entry, True
    if isinstance(entry, dict) and isinstance(entry.get("path"), str):
        return entry["path"], entry.get("required", True) is not False
    raise compose.error(
        where, f"an env_file is a path or {{path, required}}, got {describe_kind(entry)}"
    )


def _read(file: Path) -> str | None:
    try:
        if not file.is_file() or file.stat().st_size > MAX_ENV_FILE_BYTES:
            return None
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        values[match.group(1)] = _value(match.group(2))
    return values


def _value(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])
    return re.split(r"\s+#", text, maxsplit=1)[0]
