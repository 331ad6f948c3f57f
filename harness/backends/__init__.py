"""Backends bring a topology up and down; every backend yields the same Stack.

- ``local``: services as child processes from their commands, Toxiproxy as a
  process, all on loopback (:mod:`.local`);
- ``docker``: services from their images on the project's own network,
  Toxiproxy as a container (:mod:`.docker`);
- ``external``: services already running; Domino starts only Toxiproxy,
  on the fixed listen ports the topology declares (:mod:`.external`).

A backend is found by name (:func:`harness.plugins.get_backend`): these three,
or a user's own (an entry point in group ``domino.backends``, or
``package.module:attribute``), each a :class:`harness.contracts.BackendFactory`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from harness.model.topology import Topology
from harness.plugins import get_backend
from harness.stack import Stack

__all__ = ["BACKENDS", "start_stack"]

#: The backends Domino ships.
BACKENDS = ("local", "docker", "external")


def start_stack(
    backend: str = "local",
    *,
    topology: Topology | None = None,
    profile: str | None = None,
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> AbstractContextManager[Stack]:
    """Bring ``topology`` (default: the bank Domino ships) up on ``backend``.

    ``profile`` defaults to the topology's first; leaving the ``with`` block
    tears everything down.
    """
    if topology is None:
        from harness.library import default_topology

        topology = default_topology()
    factory = get_backend(backend)
    return factory(topology, profile=profile, knobs=knobs, progress=progress, **options)
