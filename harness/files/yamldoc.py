"""A YAML reader that remembers the line of every value, shared by every file Domino reads.

:func:`read_text` reads a file, refusing one larger than :data:`MAX_FILE_BYTES`
before parsing anything. :class:`YamlDoc` parses text into plain data and
keeps, for each path such as ``("timeline", 0, "edge")``, the line it came
from; :func:`merge_keys` applies YAML merge keys (``<<: *defaults``) and
:func:`without_extensions` drops top-level ``x-`` keys, the two Compose habits
that let anchors be shared. :class:`FieldReader` checks values field by field
and raises one-line errors of the caller's class (``SpecError`` for incident
specs, ``TopologyError`` for topology files), each naming ``file:line``, the
field, what is wrong and what is allowed.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.errors import UsageError

__all__ = [
    "MAX_FILE_BYTES",
    "FieldPath",
    "FieldReader",
    "NestedTooDeeplyError",
    "YamlDoc",
    "brief",
    "describe_kind",
    "dotted",
    "load_plain",
    "merge_keys",
    "read_text",
    "without_extensions",
]

FieldPath = tuple[str | int, ...]

#: Deepest nesting of mappings and lists a file may have (real files use under ten).
MAX_DEPTH = 64
#: Most values (scalars, mappings and lists) a file may expand to, aliases
#: included: a guard against "billion laughs" documents (the bank's domino.yaml
#: has about 400).
MAX_VALUES = 100_000
#: Largest file Domino reads as a topology, an incident spec or a Compose file to
#: import: 1 MiB. The largest shipped one is under 6 KB; parsing is pure Python and
#: keeps every value with its line, so a 50 MB file took minutes and gigabytes
#: before failing. A bigger file is refused before a byte of it is parsed.
MAX_FILE_BYTES = 1024 * 1024
#: Top-level keys starting with this are extensions, accepted and ignored (as in
#: Compose), so anchors (``&defaults``) can live there.
EXTENSION_PREFIX = "x-"


def read_text(path: Path, *, error: type[UsageError], what: str) -> str:
    """The UTF-8 text of ``path``; ``error`` (one line) when it is not a regular file or is
    over :data:`MAX_FILE_BYTES`.

    ``what`` names the kind of file in the message ("an incident spec").
    OSError (IsADirectoryError for a folder), ValueError (a path holding a
    NUL byte) and UnicodeDecodeError reach the caller, which words them for
    its kind of file.
    """
    # O_NONBLOCK: opening a FIFO to read would otherwise wait for a writer, forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(info.st_mode):
            # A FIFO hangs, /dev/zero never ends, /dev/stdin is read once: a file is needed.
            raise error(
                f"{path}: {_file_kind(info.st_mode)}, not a regular file; "
                f"{what} is read from a regular file (save it to one first)"
            )
        size = info.st_size
        # One byte past the limit: a file that grows while it is read is cut off too.
        data = b"" if size > MAX_FILE_BYTES else stream.read(MAX_FILE_BYTES + 1)
    if size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        found = f"{size:,} bytes, " if size > MAX_FILE_BYTES else ""
        how = "before reading" if size > MAX_FILE_BYTES else "after reading that much"
        raise error(
            f"{path}: {found}over the {MAX_FILE_BYTES / 2**20:g} MiB ({MAX_FILE_BYTES:,}-byte) "
            f"limit for {what}; "
            f"refused {how} (is it the right file?)"
        )
    return data.decode("utf-8")


def _file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    kinds = (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for check, name in kinds if check(mode)), "a special file")


class NestedTooDeeplyError(yaml.MarkedYAMLError):
    """YAML nested deeper than :data:`MAX_DEPTH` levels, found while composing it."""


class _DepthLimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting past :data:`MAX_DEPTH` as it composes.

    PyYAML composes nested collections recursively (two Python frames a
    level): a file nested ~500 levels ran out of stack inside PyYAML, a
    RecursionError with a traceback. Here the level is counted and the file
    refused at its line, long before that.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            # One more than MAX_DEPTH: the deepest collection allowed holds scalars.
            if self._depth > MAX_DEPTH + 1:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise NestedTooDeeplyError(
                    problem=f"nested more than {MAX_DEPTH} levels", problem_mark=mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_plain(text: str) -> Any:
    """YAML text as plain data (no line numbers), with the nesting limit of every reader.

    For a quick look at a file (is it a topology or a spec?); raises
    ``yaml.YAMLError`` (:class:`NestedTooDeeplyError` among them) on bad YAML.
    """
    loader = _DepthLimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def without_extensions(data: Any) -> Any:
    """A top-level mapping without its ``x-`` keys (Compose's extension fields)."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if not str(k).startswith(EXTENSION_PREFIX)}


def merge_keys(
    value: Any,
    path: FieldPath,
    lines: dict[FieldPath, int],
    *,
    refuse: Callable[[FieldPath, str], Exception] | None = None,
) -> Any:
    """Apply YAML merge keys (``<<: *defaults``), common in Compose files.

    Keys written beside ``<<`` win over merged ones, and an earlier mapping in
    ``<<: [*a, *b]`` over a later one (YAML's rule). ``lines`` learns where
    each merged field was written, so errors about it point there. A ``<<``
    that is not a mapping (or a list of them) is skipped, or raised as
    ``refuse(path, problem)`` when ``refuse`` is given.
    """
    if isinstance(value, list):
        return [merge_keys(item, (*path, i), lines, refuse=refuse) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    merged: dict[str, Any] = {}
    sources = value.get("<<")
    if sources is not None:
        bases = sources if isinstance(sources, list) else [sources]
        for i, base in enumerate(bases):
            prefix: FieldPath = (*path, "<<", i) if isinstance(sources, list) else (*path, "<<")
            if not isinstance(base, dict):
                if refuse is not None:
                    raise refuse(
                        prefix,
                        f"a merge key takes a mapping (an alias such as *defaults), "
                        f"got {describe_kind(base)}",
                    )
                continue
            # A base may merge others itself (``x-b: {<<: *a, ...}``).
            for key, item in merge_keys(base, prefix, lines, refuse=refuse).items():
                if key not in merged:
                    merged[key] = item
                    line = lines.get((*prefix, key))
                    if line is not None:
                        lines.setdefault((*path, key), line)
    for key, item in value.items():
        if key != "<<":
            merged[key] = item
    return {
        key: merge_keys(item, (*path, key), lines, refuse=refuse) for key, item in merged.items()
    }


class YamlDoc:
    """YAML data plus the line of every path, for error messages.

    ``what`` names the kind of file in the message for an empty file
    (e.g. "an incident spec"); ``error`` is the exception class raised.
    """

    def __init__(
        self, source: str, text: str, *, error: type[UsageError], what: str = "this file"
    ) -> None:
        self.source = source
        self.error_class = error
        self.lines: dict[FieldPath, int] = {}
        self._constructor = yaml.SafeLoader("")
        self._values = 0
        self._open: list[yaml.Node] = []
        try:
            node = yaml.compose(text, Loader=_DepthLimitedLoader)
        except (RecursionError, NestedTooDeeplyError) as exc:
            # PyYAML composes nested collections recursively: refused before the recursion
            # limit (NestedTooDeeplyError), a RecursionError is only a last resort.
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark is not None else source
            raise error(
                f"{where}: the YAML is nested too deeply (more than {MAX_DEPTH} levels); "
                f"{what} is a plain mapping"
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            # A problem found at the end of the stream is reported on the last line.
            last_line = max(1, len(text.splitlines()))
            where = f"{source}:{min(mark.line + 1, last_line)}" if mark is not None else source
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise error(f"{where}: not valid YAML: {_one_line(str(problem))}") from None
        if node is None:
            raise error(f"{source}: the file is empty; {what} is a YAML mapping")
        self.data = self._build(node, ())

    def _build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.lines[path] = node.start_mark.line + 1
        self._values += 1
        if self._values > MAX_VALUES:
            raise self.error(
                path,
                f"the file holds more than {MAX_VALUES:,} values (an alias repeated too often?); "
                "write it out plainly",
            )
        if isinstance(node, yaml.CollectionNode):
            if any(node is open_node for open_node in self._open):
                raise self.error(path, "refers to itself (an alias inside its own anchor)")
            if len(self._open) >= MAX_DEPTH:
                raise self.error(path, f"nested too deeply (more than {MAX_DEPTH} levels)")
            self._open.append(node)
            try:
                return self._collection(node, path)
            finally:
                self._open.pop()
        try:
            return self._constructor.construct_object(node)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise self.error(path, f"cannot read this value: {_one_line(str(problem))}") from None
        except (ValueError, TypeError, LookupError, AttributeError, ArithmeticError):
            # PyYAML's constructors fail this way on a tagged value that is not of its
            # type (`!!int abc`, `!!bool maybe`) or an integer of more than 4300 digits.
            shown = node.value if len(node.value) <= 40 else f"{node.value[:40]}..."
            tag = _tag_name(node.tag)
            allowed = _TAG_VALUES.get(tag, "a value of that type")
            raise self.error(path, f"cannot read {shown!r} as {tag}; allowed: {allowed}") from None

    def _collection(self, node: yaml.CollectionNode, path: FieldPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    raise self.error_class(
                        f"{self.source}:{line}: {dotted(path) or '(top level)'}: "
                        "a key must be plain text, not a list or mapping"
                    )
                key = key_node.value
                if key in result:
                    line = key_node.start_mark.line + 1
                    raise self.error_class(
                        f"{self.source}:{line}: {dotted((*path, key))}: duplicate key"
                    )
                result[key] = self._build(value_node, (*path, key))
                # Errors about a field point at its key, where a reader looks for it.
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return result
        return [self._build(item, (*path, i)) for i, item in enumerate(node.value)]

    def line_of(self, path: FieldPath) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        probe = path
        while probe:
            line = self.lines.get(probe)
            if line is not None:
                return line
            probe = probe[:-1]
        return None

    def error(self, path: FieldPath, problem: str) -> UsageError:
        """The one-line error for ``problem`` at ``path`` (raise it)."""
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line else self.source
        field = dotted(path) or "(top level)"
        return self.error_class(f"{where}: {field}: {_one_line(problem)}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


#: What a value of each YAML type may be, for the message when one is not.
_TAG_VALUES = {
    "!!int": "a whole number of at most 4300 digits",
    "!!float": "a number",
    "!!bool": "true or false",
    "!!null": "nothing (null or ~)",
    "!!timestamp": "a date such as 2024-12-03",
    "!!binary": "base64 text",
}


def _tag_name(tag: str) -> str:
    """``tag:yaml.org,2002:int`` as ``!!int`` (the way it is written), other tags as they are."""
    prefix = "tag:yaml.org,2002:"
    return f"!!{tag.removeprefix(prefix)}" if tag.startswith(prefix) else tag


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_>-]+$")


def dotted(path: FieldPath) -> str:
    """``("timeline", 0, "edge")`` as ``timeline[0].edge``; odd keys are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Odd keys (spaces, newlines, ...) are quoted so a message stays one readable line.
        key = str(part) if _PLAIN_KEY.fullmatch(str(part)) else repr(str(part))
        out += f".{key}" if out else key
    return out


def describe_kind(value: Any) -> str:
    """How a value reads in an error message: ``a mapping``, ``text 'x'``, ``nothing``."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"text {brief(value)}", bool: f"{value}"}.get(
        type(value), brief(value)
    )


#: Longest rendering of a user's value in a message (a message is a line a person reads).
_BRIEF = 80


def brief(value: Any) -> str:
    """``repr(value)``, shortened to fit in a one-line message."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_BRIEF:
        digits = len(str(abs(value)))
        return f"{'-' if value < 0 else ''}{str(abs(value))[:12]}... ({digits} digits)"
    text = repr(value)
    return text if len(text) <= _BRIEF else f"{text[: _BRIEF - 3]}..."


class FieldReader:
    """Typed field checks over a :class:`YamlDoc`; every failure is the doc's one-line error."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc

    def mapping(
        self,
        value: Any,
        path: FieldPath,
        required: tuple[str, ...],
        optional: tuple[str, ...],
        *,
        extensions: bool = False,
    ) -> dict[str, Any]:
        """``value`` as a mapping of exactly these fields; ``extensions``: the message for an
        unknown field also names ``x-`` keys (a file's top level drops them before this)."""
        if not isinstance(value, dict):
            raise self.doc.error(path, f"must be a mapping, got {describe_kind(value)}")
        allowed = required + optional
        for key in value:
            if key not in allowed:
                more = f", or {EXTENSION_PREFIX}... (ignored)" if extensions else ""
                raise self.doc.error(
                    (*path, key), f"unknown field; allowed here: {', '.join(allowed)}{more}"
                )
        for key in required:
            if key not in value:
                raise self.doc.error(path, f"missing required field {key!r}")
        return value

    def free_mapping(self, value: Any, path: FieldPath) -> dict[str, Any]:
        """A mapping whose keys are the user's (names of services, env vars, ...)."""
        if not isinstance(value, dict):
            raise self.doc.error(path, f"must be a mapping, got {describe_kind(value)}")
        return value

    def text(self, value: Any, path: FieldPath) -> str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None and not isinstance(value, dict | list | bool):
            return str(value)
        raise self.doc.error(path, f"must be text, got {describe_kind(value)}")

    def raw_text(self, value: Any, path: FieldPath) -> str:
        """Text kept exactly as written (may be empty); numbers become their text."""
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise self.doc.error(path, f"must be text, got {describe_kind(value)}")

    def boolean(self, value: Any, path: FieldPath) -> bool:
        if isinstance(value, bool):
            return value
        raise self.doc.error(path, f"must be true or false, got {describe_kind(value)}")

    def number(
        self, value: Any, path: FieldPath, *, minimum: float = 0.0, maximum: float = math.inf
    ) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and math.isnan(value))
        ):
            raise self.doc.error(path, f"must be a number, got {describe_kind(value)}")
        # Compared before any float() of it: a 400-digit integer does not fit a float.
        if not minimum <= value <= maximum:
            bound = (
                f"between {minimum:g} and {maximum:g}" if maximum < math.inf else f">= {minimum:g}"
            )
            raise self.doc.error(path, f"must be {bound}, got {brief(value)}")
        try:
            return float(value)
        except OverflowError:
            raise self.doc.error(
                path, f"must be >= {minimum:g} and below 1e308, got {brief(value)}"
            ) from None

    def integer(self, value: Any, path: FieldPath, *, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.doc.error(path, f"must be a whole number, got {describe_kind(value)}")
        if not minimum <= value <= maximum:
            raise self.doc.error(
                path, f"must be between {minimum} and {maximum}, got {brief(value)}"
            )
        return value

    def listing(self, value: Any, path: FieldPath, *, non_empty: bool = True) -> list[Any]:
        if not isinstance(value, list):
            raise self.doc.error(path, f"must be a list, got {describe_kind(value)}")
        if non_empty and not value:
            raise self.doc.error(path, "must not be empty")
        return value

    def choice(self, value: Any, path: FieldPath, allowed: tuple[str, ...] | list[str]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise self.doc.error(
                path, f"{brief(value)} is not allowed; allowed: {', '.join(allowed)}"
            )
        return value
