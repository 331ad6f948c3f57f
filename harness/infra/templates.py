"""Placeholders in topology files: ``{port}``, ``{host}``, ``{user.id}``, ``{body.token}``.

Text outside braces is kept as written; ``{{`` and ``}}`` stand for literal
braces. Names are checked when a file is read (:func:`placeholders`) and
filled when a run starts (:func:`render`), so a typo is a one-line error
before anything starts, never a surprise at run time.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

__all__ = ["TemplateError", "json_strings", "placeholders", "render", "render_json"]

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template that cannot be parsed, or names a value that is not there."""


def placeholders(template: str) -> list[str]:
    """The names a template uses, in order; TemplateError if it cannot be parsed."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise TemplateError(f"cannot read {template!r}: {exc}; write {{{{ for a brace") from None
    names = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion:
            raise TemplateError(f"placeholder {{{name}}} takes no format or conversion")
        if not name:
            raise TemplateError(f"empty placeholder {{}} in {template!r}")
        names.append(name)
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with every placeholder replaced by its value."""
    out = []
    for literal, name, _spec, _conversion in _FORMATTER.parse(template):
        out.append(literal)
        if name is None:
            continue
        if name not in values:
            raise TemplateError(f"no value for {{{name}}} in {template!r}")
        out.append(values[name])
    return "".join(out)


def render_json(value: Any, values: Mapping[str, str]) -> Any:
    """Every string inside a JSON-shaped value rendered (keys included)."""
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, list):
        return [render_json(item, values) for item in value]
    if isinstance(value, dict):
        return {render(str(k), values): render_json(v, values) for k, v in value.items()}
    return value


def json_strings(value: Any) -> list[str]:
    """Every string inside a JSON-shaped value (for checking placeholders)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in json_strings(item)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *json_strings(v))]
    return []
