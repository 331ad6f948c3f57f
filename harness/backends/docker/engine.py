"""The Docker engine: the SDK, a client for the engine, images that must be there, networks.

The Docker SDK is imported only when the docker backend is chosen.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from harness.errors import (
    DockerImageMissingError,
    DockerImageStaleError,
    DockerUnavailableError,
    StackError,
)

__all__ = ["BUILD_HINT", "connect", "create_network", "require_images", "sdk"]

#: How to get the images on a machine without a registry.
BUILD_HINT = "run `bash docker/build-images.sh` (builds the images without a registry)"


def sdk() -> Any:
    """The Docker SDK (``docker`` package), imported when this backend is first used.

    Through importlib rather than ``import docker``: the repository's own
    ``docker/`` folder (Dockerfiles) would otherwise look like the package to
    mypy. At run time the installed package always wins over a plain folder.
    """
    try:
        return importlib.import_module("docker")
    except ImportError as exc:  # pragma: no cover - the project depends on docker
        raise DockerUnavailableError(
            f"the Docker SDK is not installed ({exc}); pip install docker"
        ) from None


def connect(timeout_s: float = 30.0) -> Any:
    """A Docker SDK client for the engine from the environment; DockerUnavailableError if none."""
    docker = sdk()
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except docker.errors.DockerException as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DockerUnavailableError(
            f"no Docker engine reachable at {where} ({detail}); start dockerd "
            "(e.g. `sudo bash .ci/docker.sh start`) or point DOCKER_HOST at one"
        ) from None
    return client


def require_images(
    client: Any, images: list[str], problem: Any = None, hint: str = BUILD_HINT
) -> None:
    """Every image present (nothing is pulled); ``problem(image, labels)`` may refuse one.

    DockerImageMissingError names the missing ones and ``hint``;
    DockerImageStaleError says why ``problem`` refused an image.
    """
    errors = sdk().errors
    missing = []
    for image in images:
        try:
            labels = client.images.get(image).labels or {}
        except errors.ImageNotFound:
            missing.append(image)
            continue
        except errors.APIError as exc:
            raise DockerUnavailableError(
                f"the Docker engine failed to look up {image}: {exc}"
            ) from None
        reason = problem(image, labels) if problem is not None else None
        if reason:
            raise DockerImageStaleError(reason)
    if missing:
        raise DockerImageMissingError(
            f"image{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in the Docker "
            f"engine; {hint}, or `docker pull` them where a registry is reachable"
        )


def create_network(client: Any, name: str, labels: Mapping[str, str]) -> tuple[Any, list[str]]:
    """A bridge network with a fixed subnet; returns it and addresses free for containers.

    A fixed subnet lets each container keep its address when a Crash restarts
    it (the engine only keeps addresses it was given explicitly). The subnet
    is the one the engine chooses for a probe network, so it avoids the
    host's routes and every other network the same way automatic ones do.
    """
    docker = sdk()
    last_error = ""
    for _attempt in range(3):
        probe = client.networks.create(f"{name}-probe", driver="bridge", labels=dict(labels))
        try:
            probe.reload()
            pool = probe.attrs["IPAM"]["Config"][0]
        finally:
            probe.remove()
        subnet = ipaddress.ip_network(pool["Subnet"])
        gateway = pool.get("Gateway") or str(next(subnet.hosts()))
        try:
            network = client.networks.create(
                name,
                driver="bridge",
                labels=dict(labels),
                ipam=docker.types.IPAMConfig(
                    pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)]
                ),
            )
        except docker.errors.APIError as exc:  # another network took the subnet meanwhile
            last_error = str(exc.explanation)
            continue
        addresses = []
        for host in subnet.hosts():
            if str(host) != gateway:
                addresses.append(str(host))
            if len(addresses) >= 64:
                break
        return network, addresses
    raise StackError(f"could not create Docker network {name}: {last_error}")
