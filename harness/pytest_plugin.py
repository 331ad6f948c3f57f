"""The pytest plugin (entry point ``pytest11: domino``).

Fixtures:

- ``domino_stack``: a running :class:`~harness.stack.Stack`, one per
  (backend, profile) for the whole session, reset to "no faults" before each
  test and checked for leftovers after it. The profile comes from
  ``@pytest.mark.domino_profile("hardened")`` or ``--domino-profile``.
- ``inject``: ``inject(*faults)`` applies faults for the rest of the test;
  everything is removed when the test ends.
- ``domino_user``: a :class:`~harness.journeys.JourneyClient` for the stack,
  its session started (the bank: logged in as the seeded customer).
- ``domino_journey``: ``domino_journey(name)``, the topology's journey of that name.
- ``journeys`` and ``journey``: the old names of ``domino_user`` and
  ``domino_journey``, kept as aliases for one release (0.2 drops them).

Options: ``--domino-topology`` (a shipped system or a ``domino.yaml``;
default ``./domino.yaml``, else the bank), ``--domino-backend`` (local,
docker, external), ``--domino-profile`` (default: the topology's first).
Markers: ``domino_topology``, ``domino_profile``, ``domino_backend``, ``chaos``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from harness.backends import BACKENDS, start_stack
from harness.errors import DominoError
from harness.failure_story import FailureStory
from harness.infra.signals import graceful_termination
from harness.journeys import JourneyClient
from harness.model.faults import Fault
from harness.model.topology import Journey
from harness.stack import Stack
from harness.stack.injection import AppliedFault, FaultScope

__all__ = ["StackPool"]

#: Each test's FailureStory, kept on its item for the report of a failing call.
_STORY = pytest.StashKey[FailureStory]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("domino", "Domino chaos harness")
    group.addoption(
        "--domino-backend",
        default="local",
        choices=BACKENDS,
        help="where the stack runs: local processes (default) or docker containers",
    )
    group.addoption(
        "--domino-topology",
        default=None,
        metavar="NAME|PATH",
        help="the system under test: a shipped one (bank) or a domino.yaml "
        "(default: ./domino.yaml, else bank)",
    )
    group.addoption(
        "--domino-profile",
        default=None,
        help="the topology's profile when a test does not choose one with "
        "@pytest.mark.domino_profile (default: the topology's first)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "domino_profile(name): run the test on a stack with this profile"
    )
    config.addinivalue_line("markers", "domino_backend(name): run the test on this backend")
    config.addinivalue_line(
        "markers", "domino_topology(name_or_path): run the test on this system's stack"
    )
    config.addinivalue_line("markers", "chaos: the test injects faults into a running stack")


class StackPool:
    """Stacks kept up for the session, one per (topology, backend, profile).

    A stack that failed to start is remembered: every later test that needs
    it fails at once with the same one-line error instead of trying again.
    """

    def __init__(self) -> None:
        self._exit = contextlib.ExitStack()
        self._stacks: dict[tuple[str, str, str], Stack] = {}
        self._failed: dict[tuple[str, str, str], str] = {}

    def get(self, backend: str, profile: str | None, topology: str | None = None) -> Stack:
        from harness.library import find_topology

        system = find_topology(topology)
        chosen = profile or system.default_profile
        key = (str(system.path or system.name), backend, chosen)
        if key in self._failed:
            pytest.fail(
                f"the {system.name} stack could not start (the first test that needed it "
                "shows why)",
                pytrace=False,
            )
        if key not in self._stacks:
            try:
                self._stacks[key] = self._exit.enter_context(
                    start_stack(backend, topology=system, profile=chosen)
                )
            except DominoError as exc:
                self._failed[key] = str(exc)
                raise
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


def _marker_arg(request: pytest.FixtureRequest, name: str, default: str | None) -> str | None:
    marker = request.node.get_closest_marker(name)
    return str(marker.args[0]) if marker is not None and marker.args else default


@pytest.fixture
def domino_stack(request: pytest.FixtureRequest, domino_stack_pool: StackPool) -> Iterator[Stack]:
    """A running stack with no faults; any fault a test leaves behind fails the test."""
    option = request.config.getoption
    backend = _marker_arg(request, "domino_backend", option("--domino-backend")) or "local"
    profile = _marker_arg(request, "domino_profile", option("--domino-profile"))
    topology = _marker_arg(request, "domino_topology", option("--domino-topology"))
    stack = domino_stack_pool.get(backend, profile, topology)
    # Faults this session did not put there (another tool's toxic, a disabled
    # proxy) are refused by name, not silently cleared: they would skew the test.
    foreign = stack.injector.leftovers()
    if foreign:
        pytest.fail(
            "the stack holds faults this test session did not put there: "
            + "; ".join(foreign)
            + "; remove them (or restart the session) before testing"
        )
    story = FailureStory(stack.topology)
    request.node.stash[_STORY] = story
    stack.injector.watchers.append(story.fault_event)
    try:
        yield stack
    finally:
        stack.injector.watchers.remove(story.fault_event)
    left = stack.injector.leftovers()
    if left:
        stack.reset()
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
def domino_user(domino_stack: Stack, request: pytest.FixtureRequest) -> Iterator[JourneyClient]:
    """A JourneyClient for the stack, its session started (the bank: the seeded customer)."""
    with domino_stack.client() as client:
        client.token()  # start the session before the test injects anything
        client.observer = request.node.stash[_STORY].journey_called
        yield client


@pytest.fixture
def domino_journey(domino_stack: Stack) -> Callable[[str], Journey]:
    """``domino_journey(name)``: the topology's journey with that name."""
    return domino_stack.topology.journey


@pytest.fixture
def journeys(domino_user: JourneyClient) -> JourneyClient:
    """The old name of ``domino_user`` (an alias until 0.2)."""
    return domino_user


@pytest.fixture
def journey(domino_journey: Callable[[str], Journey]) -> Callable[[str], Journey]:
    """The old name of ``domino_journey`` (an alias until 0.2)."""
    return domino_journey


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test on a Domino stack says why: its faults, journey calls and their phases."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    story = item.stash.get(_STORY, None)
    if report.when == "call" and report.failed and story is not None:
        report.sections.append(("Domino: faults, journey calls and phases", story.text()))
