"""Mutating parsed YAML documents for property-based tests of Domino's file readers."""

from __future__ import annotations

__all__ = ["paths", "replace"]


def paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path into ``value`` (mapping keys and list indexes), the root first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths(child, (*prefix, i))
    return found


def replace(doc: object, path: tuple[object, ...], new: object) -> object:
    """A copy of ``doc`` with the value at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, *rest = path
    if isinstance(doc, dict):
        return {k: (replace(v, tuple(rest), new) if k == head else v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [(replace(v, tuple(rest), new) if i == head else v) for i, v in enumerate(doc)]
    return doc
