"""A service process's start: its imports, quicker.

``python -m services.NAME`` imports FastAPI, pydantic, httpx and uvicorn and
builds its models and routes: about half a second of CPU per service, paid
by every service of a stack at once. Two things in that are waste for a
service, and :func:`quick_start` leaves them out while the service's modules
are imported:

- the cyclic garbage collector, which runs over and over on the objects
  imports make and frees nothing; it is turned on again after, with those
  objects moved out of its reach (``gc.freeze``: they live as long as the
  process, so later collections need not walk them either);
- httpx's command-line tool (``httpx._main``: rich, click and pygments), which
  ``import httpx`` loads only to offer ``httpx.main``; no service calls it.

Nothing a service does changes: the same modules, routes and settings.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quick_start"]


@contextmanager
def quick_start() -> Iterator[None]:
    """Import a service's modules in this block; the collector is back on after it."""
    # A None entry makes ``from ._main import main`` raise ImportError, which httpx
    # answers with a stub ``main`` that says the CLI is not installed.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
