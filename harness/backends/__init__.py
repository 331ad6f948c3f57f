"""Backends bring a topology up and down; every backend yields the same Stack.

- ``local``: services as child processes from their commands, Toxiproxy as a
  process, all on loopback (:mod:`.local`);
- ``docker``: services from their images on the project's own network,
  Toxiproxy as a container (:mod:`.docker`);
- ``external``: services already running; Domino starts only Toxiproxy,
  on the fixed listen ports the topology declares (:mod:`.external`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from harness.errors import UsageError
from harness.stack import Stack
from harness.topology import Topology

__all__ = ["BACKENDS", "start_stack"]

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
    if backend == "local":
        from harness.backends.local import local_stack

        return local_stack(topology, profile=profile, knobs=knobs, progress=progress, **options)
    if backend == "external":
        from harness.backends.external import external_stack

        return external_stack(topology, profile=profile, knobs=knobs, progress=progress, **options)
    if backend == "docker":
        from harness.backends.docker import docker_stack

        return docker_stack(topology, profile=profile, knobs=knobs, progress=progress, **options)
    raise UsageError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
