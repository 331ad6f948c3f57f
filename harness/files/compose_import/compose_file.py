"""The Compose file being imported: its services, errors at its fields, and the notes about it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import ComposeImportError, UsageError
from harness.files.compose_import.interpolation import InterpolationError, interpolate
from harness.files.yamldoc import FieldPath, YamlDoc, describe_kind, dotted, merge_keys

__all__ = ["ComposeFile", "one_line", "show"]

_PLAIN = re.compile(r"^[A-Za-z0-9_.-]+$")


class ComposeFile:
    """A Compose file read as YAML and checked to hold a ``services`` mapping.

    ``top`` is the whole file and ``raw_services`` its ``services`` mapping, as
    written. ``notes`` collects one line for each thing the user should check,
    in the order the importer finds them; :meth:`interpolate` remembers every
    ``${VAR}`` it replaced for :meth:`interpolation_notes`.
    """

    def __init__(self, source: str, text: str, *, folder: Path | None = None) -> None:
        self.source = source
        #: Where files the Compose file names are read from (``env_file``); None: nowhere.
        self.folder = folder
        self.notes: list[str] = []
        # ${VAR...} -> (what it became, the fields it appeared in), in order of first use.
        self.interpolated: dict[str, tuple[str, list[str]]] = {}
        self.doc = YamlDoc(source, text, error=ComposeImportError, what="a Compose file")
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
        self.top: dict[str, Any] = top
        self.raw_services: dict[str, Any] = raw_services

    def error(self, path: FieldPath, problem: str) -> UsageError:
        """The one-line error about the field at ``path`` (the file's line is found for it)."""
        return self.doc.error(path, problem)

    def interpolate(self, text: str, path: FieldPath) -> str:
        """Compose interpolation with no variable set: defaults are taken, the rest is empty."""
        where = dotted(path)

        def record(expression: str, result: str, how: str) -> None:
            entry = self.interpolated.setdefault(expression, (f"{result!r} ({how})", []))
            if where not in entry[1]:
                entry[1].append(where)

        try:
            return interpolate(text, record)
        except InterpolationError as exc:
            raise self.error(path, f"{exc}; write a literal '$' as '$$'") from None

    def interpolation_notes(self) -> Iterator[str]:
        """One note for each ``${VAR}`` replaced: what it became and where."""
        for expression, (result, places) in self.interpolated.items():
            yield (
                f"{show(expression)} became {result} in {', '.join(places)}: Domino reads "
                "neither your shell nor .env; edit the value in domino.yaml if it should differ"
            )


def show(text: str) -> str:
    """A user's name in a note: as is when plain, quoted (one line) otherwise."""
    return text if _PLAIN.fullmatch(text) else repr(text)


def one_line(text: str) -> str:
    """``text`` with every character that could break a line written as an escape."""
    # YAML (and terminals) also break lines at NEL and the Unicode separators.
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
