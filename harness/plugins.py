"""Extensions by name: system adapters, backends and the systems Domino ships.

A name resolves, in order, to one registered in this process
(:func:`register_adapter`, :func:`register_backend`), one Domino ships, an
installed package's entry point (groups ``domino.adapters`` and
``domino.backends``), or an import path ``package.module:attribute``. Shipped
extensions are named by import path and imported only when asked for, so the
harness never imports a system it is not testing. What each extension must
provide is declared in :mod:`harness.contracts`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from harness.adapters.http import HttpAdapter
from harness.contracts import BackendFactory, SystemAdapter
from harness.errors import UsageError

__all__ = [
    "SYSTEMS_DIR",
    "adapter_names",
    "backend_names",
    "get_adapter",
    "get_backend",
    "register_adapter",
    "register_backend",
    "shipped_systems",
    "system_demo",
]

#: Where the systems Domino ships live, each a folder with its ``domino.yaml``.
SYSTEMS_DIR = Path(__file__).parent / "systems"

_ADAPTERS: dict[str, Callable[[], SystemAdapter]] = {"http": HttpAdapter}
_SHIPPED_ADAPTERS: dict[str, str] = {"bank": "harness.systems.bank.adapter:BankAdapter"}
_BACKENDS: dict[str, BackendFactory[Any]] = {}
_SHIPPED_BACKENDS: dict[str, str] = {
    "local": "harness.backends.local:local_stack",
    "docker": "harness.backends.docker:docker_stack",
    "external": "harness.backends.external:external_stack",
}


def shipped_systems() -> dict[str, Path]:
    """Each shipped system's name and its topology file."""
    return {path.parent.name: path for path in sorted(SYSTEMS_DIR.glob("*/domino.yaml"))}


def system_demo(system: str) -> Any:
    """The ``run_demo(stack, say)`` a shipped system provides (``domino demo``)."""
    if system not in shipped_systems() or not (SYSTEMS_DIR / system / "demo.py").is_file():
        raise UsageError(f"system {system!r} ships no demo")
    return _load(f"harness.systems.{system}.demo:run_demo", "demo")


def register_adapter(name: str, factory: Callable[[], SystemAdapter]) -> None:
    """Make ``adapter: NAME`` in a topology file mean ``factory()``."""
    _ADAPTERS[name] = factory


def register_backend(name: str, factory: BackendFactory[Any]) -> None:
    """Make ``--backend NAME`` mean ``factory`` (see :class:`harness.contracts.BackendFactory`)."""
    _BACKENDS[name] = factory


def adapter_names() -> list[str]:
    return sorted({*_ADAPTERS, *_SHIPPED_ADAPTERS, *_entry_point_names("domino.adapters")})


def backend_names() -> list[str]:
    return sorted({*_BACKENDS, *_SHIPPED_BACKENDS, *_entry_point_names("domino.backends")})


def get_adapter(name: str) -> SystemAdapter:
    """A new adapter instance for ``name``; UsageError listing the known names."""
    factory = _resolve(name, _ADAPTERS, _SHIPPED_ADAPTERS, "domino.adapters", "adapter")
    return factory()  # type: ignore[no-any-return]


def get_backend(name: str) -> BackendFactory[Any]:
    """The backend called ``name``; UsageError listing the known names."""
    return _resolve(name, _BACKENDS, _SHIPPED_BACKENDS, "domino.backends", "backend")  # type: ignore[no-any-return]


def _resolve(
    name: str, registered: dict[str, Any], shipped: dict[str, str], group: str, what: str
) -> Any:
    found = registered.get(name)
    if found is not None:
        return found
    path = shipped.get(name)
    if path is None:
        path = next((ep.value for ep in entry_points(group=group) if ep.name == name), None)
    if path is None and ":" in name:
        path = name
    if path is None:
        known = sorted({*registered, *shipped, *_entry_point_names(group)})
        raise UsageError(
            f"unknown {what} {name!r}; known {what}s: {', '.join(known)} "
            "(or give an import path, package.module:attribute)"
        )
    found = _load(path, what)
    registered[name] = found
    return found


def _load(path: str, what: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UsageError(f"cannot load {what} {path!r}: {exc}") from None


def _entry_point_names(group: str) -> set[str]:
    return {ep.name for ep in entry_points(group=group)}
