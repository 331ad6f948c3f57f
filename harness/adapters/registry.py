"""Adapters by name: the generic ``http`` one, the shipped systems' ones, and users' own.

Shipped adapters are named by import path and imported only when a topology
asks for them, so the harness never imports a system it is not testing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from harness.adapters.base import SystemAdapter
from harness.adapters.http import HttpAdapter
from harness.errors import UsageError

__all__ = ["adapter_names", "get_adapter", "register_adapter"]

_FACTORIES: dict[str, Callable[[], SystemAdapter]] = {"http": HttpAdapter}
_SHIPPED: dict[str, str] = {"bank": "harness.systems.bank.adapter:BankAdapter"}


def register_adapter(name: str, factory: Callable[[], SystemAdapter]) -> None:
    """Make ``adapter: NAME`` in a topology file mean ``factory()``."""
    _FACTORIES[name] = factory


def adapter_names() -> list[str]:
    return sorted({*_FACTORIES, *_SHIPPED})


def get_adapter(name: str) -> SystemAdapter:
    """A new adapter instance for ``name``; UsageError listing the known names."""
    factory = _FACTORIES.get(name)
    if factory is None and name in _SHIPPED:
        module, _, attr = _SHIPPED[name].partition(":")
        factory = getattr(importlib.import_module(module), attr)
        _FACTORIES[name] = factory
    if factory is None:
        raise UsageError(f"unknown adapter {name!r}; known adapters: {', '.join(adapter_names())}")
    return factory()
