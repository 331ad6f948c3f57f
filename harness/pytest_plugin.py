"""The pytest plugin (entry point ``pytest11: domino``).

Fixtures:

- ``domino_stack``: a running :class:`~harness.stack.Stack`, one per
  (backend, profile) for the whole session, reset to "no faults" before each
  test and checked for leftovers after it. The profile comes from
  ``@pytest.mark.domino_profile("hardened")`` or ``--domino-profile``.
- ``inject``: ``inject(*faults)`` applies faults for the rest of the test;
  everything is removed when the test ends.
- ``journeys``: a logged-in :class:`~harness.journeys.JourneyClient` for the stack.

Options: ``--domino-backend`` (local, docker), ``--domino-profile``
(fragile, hardened). Markers: ``domino_profile``, ``domino_backend``, ``chaos``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from harness.backends import BACKENDS, start_stack
from harness.faults import Fault
from harness.injection import AppliedFault, FaultScope
from harness.journeys import Journey, JourneyClient
from harness.profiles import PROFILES
from harness.signals import graceful_termination
from harness.stack import Stack

__all__ = ["StackPool"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("domino", "Domino chaos harness")
    group.addoption(
        "--domino-backend",
        default="local",
        choices=BACKENDS,
        help="where the stack runs: local processes (default) or docker containers",
    )
    group.addoption(
        "--domino-profile",
        default="fragile",
        choices=tuple(PROFILES),
        help="services' profile when a test does not choose one with @pytest.mark.domino_profile",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "domino_profile(name): run the test on a stack with this profile"
    )
    config.addinivalue_line("markers", "domino_backend(name): run the test on this backend")
    config.addinivalue_line("markers", "chaos: the test injects faults into a running stack")


class StackPool:
    """Stacks kept up for the session, one per (backend, profile)."""

    def __init__(self) -> None:
        self._exit = contextlib.ExitStack()
        self._stacks: dict[tuple[str, str], Stack] = {}

    def get(self, backend: str, profile: str) -> Stack:
        key = (backend, profile)
        if key not in self._stacks:
            self._stacks[key] = self._exit.enter_context(start_stack(backend, profile=profile))
        return self._stacks[key]

    def close(self) -> None:
        self._exit.close()


@pytest.fixture(scope="session")
def domino_stack_pool() -> Iterator[StackPool]:
    """Every stack the session started; all torn down when the session ends."""
    pool = StackPool()
    with graceful_termination():
        try:
            yield pool
        finally:
            pool.close()


def _marker_arg(request: pytest.FixtureRequest, name: str, default: str) -> str:
    marker = request.node.get_closest_marker(name)
    return str(marker.args[0]) if marker is not None and marker.args else default


@pytest.fixture
def domino_stack(request: pytest.FixtureRequest, domino_stack_pool: StackPool) -> Iterator[Stack]:
    """A running stack with no faults; any fault a test leaves behind fails the test."""
    backend = _marker_arg(request, "domino_backend", request.config.getoption("--domino-backend"))
    profile = _marker_arg(request, "domino_profile", request.config.getoption("--domino-profile"))
    stack = domino_stack_pool.get(backend, profile)
    stack.reset()
    yield stack
    left = stack.injector.leftovers()
    stack.reset()
    if left:
        pytest.fail("faults left behind by the test: " + "; ".join(left))


@pytest.fixture
def inject(domino_stack: Stack) -> Iterator[Callable[..., list[AppliedFault]]]:
    """``inject(*faults)`` applies faults now; they are removed when the test ends.

    For a fault that must end mid-test, use ``with domino_stack.inject(...)``.
    """
    scopes: list[FaultScope] = []

    def _inject(*faults: Fault) -> list[AppliedFault]:
        scope = domino_stack.inject(*faults)
        applied = scope.__enter__()
        scopes.append(scope)
        return applied

    yield _inject
    while scopes:
        scopes.pop().__exit__(None, None, None)


@pytest.fixture
def journeys(domino_stack: Stack) -> Iterator[JourneyClient]:
    """A JourneyClient for the stack, logged in as the seeded customer."""
    with JourneyClient(domino_stack.entry_url) as client:
        client.token()  # log in before the test injects anything
        yield client


@pytest.fixture
def journey(domino_stack: Stack) -> Callable[[str], Journey]:
    """``journey(name)``: the topology's journey with that name."""
    by_name = {j.name: j for j in domino_stack.topology.journeys}

    def _get(name: str) -> Journey:
        return by_name[name]

    return _get
