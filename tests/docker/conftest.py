"""Docker-backend tests: the ``docker`` marker, and skipping or failing without an engine.

A test marked ``docker`` needs a reachable Docker engine and Domino's images
(``bash docker/build-images.sh``). Without them it is skipped with the reason,
unless ``DOMINO_REQUIRE_DOCKER=1`` (CI sets it): then it fails, so a CI
machine whose daemon did not start can never pass by skipping.
"""

from __future__ import annotations

import functools
import os

import pytest

from harness.errors import StackError

REQUIRE_ENV = "DOMINO_REQUIRE_DOCKER"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "docker: needs a Docker engine and Domino's images (bash docker/build-images.sh); "
        f"skipped without them unless {REQUIRE_ENV}=1",
    )


@functools.cache
def docker_problem() -> str | None:
    """Why the docker tests cannot run here, or None when they can."""
    from harness.backends.docker import preflight

    try:
        preflight()
    except StackError as exc:
        return str(exc)
    return None


def docker_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("docker") is None:
        return
    problem = docker_problem()
    if problem is None:
        return
    if docker_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but the docker tests cannot run: {problem}", pytrace=False)
    pytest.skip(f"no Docker engine or images: {problem}")
