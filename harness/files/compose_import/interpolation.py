"""Compose ``${VAR}`` interpolation with no variable set: defaults are taken, the rest is empty."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["InterpolationError", "Record", "interpolate"]

#: Hears each ``$`` expression replaced: (the expression, what it became, why).
Record = Callable[[str, str, str], None]

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A ``$`` expression Compose would refuse: an unclosed ``${`` or an invalid one."""


def interpolate(text: str, record: Record) -> str:
    """``text`` with every ``$`` expression replaced, each told to ``record``; ``$$`` is ``$``."""
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
                raise InterpolationError(f"unclosed '${{' in {text!r}")
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


def _resolve(expression: str, body: str, record: Record) -> str:
    match = _VAR_NAME.match(body)
    if match is None:
        raise InterpolationError(f"invalid interpolation {expression!r}")
    rest = body[match.end() :]
    for operator in (":-", "-", ":?", "?", ":+", "+"):
        if rest.startswith(operator):
            argument = rest[len(operator) :]
            break
    else:
        if rest:
            raise InterpolationError(f"invalid interpolation {expression!r}")
        record(expression, "", "not set")
        return ""
    if operator in (":-", "-"):
        # Defaults may hold further ${...}; they are unset too.
        result = interpolate(argument, record)
        record(expression, result, "its default")
        return result
    if operator in (":?", "?"):
        record(expression, "", "required, not set")
        return ""
    record(expression, "", "unset, so the alternative is not used")
    return ""
