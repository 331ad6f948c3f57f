"""Backends bring a topology up and down; every backend yields the same Stack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from harness.errors import UsageError
from harness.stack import Stack
from harness.topology import BANK_TOPOLOGY, Topology

__all__ = ["BACKENDS", "start_stack"]

BACKENDS = ("local", "docker")


def start_stack(
    backend: str = "local",
    *,
    topology: Topology = BANK_TOPOLOGY,
    profile: str = "fragile",
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> AbstractContextManager[Stack]:
    """Bring the stack up on ``backend``; leaving the ``with`` block tears it down."""
    if backend == "local":
        from harness.backends.local import local_stack

        return local_stack(topology, profile=profile, knobs=knobs, progress=progress, **options)
    if backend == "docker":
        try:
            from harness.backends.docker import docker_stack  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise UsageError("the docker backend is not available in this build") from None
        stack: AbstractContextManager[Stack] = docker_stack(
            topology, profile=profile, knobs=knobs, progress=progress, **options
        )
        return stack
    raise UsageError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
