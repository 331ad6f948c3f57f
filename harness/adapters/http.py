"""The generic HTTP adapter: what Domino knows about any system from HTTP alone.

A status in the journey's ``expect`` list (or any 2xx) is success; any other
status is the error code (``HTTP503``); a client-side timeout is ``TIMEOUT``
and a refused or dropped connection ``UNREACHABLE``. A success whose body is
not a good answer (cut off, empty or unreadable where its ``Content-Type``
says JSON, or failing the journey's ``expect_body``) is ``BODY``, judged for
every adapter by :func:`harness.journeys.body_problem`. There is no admin API:
faults are the network ones (toxics, ``down``) and the process or container
ones, which work on every system. Profiles are the topology file's own
(extra environment per service).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from harness.contracts import ConfiguredLimits, Preparation, SystemControl
from harness.errors import UsageError
from harness.journeys import BODY_CODE
from harness.model.outcomes import Answer

if TYPE_CHECKING:
    from harness.contracts import FaultApplier
    from harness.model.faults import Fault
    from harness.model.outcomes import InvariantVerdict
    from harness.model.topology import Journey, Topology, User

__all__ = ["HttpAdapter", "NoControl"]


class NoControl:
    """A system without an admin API: nothing to apply, clear or count."""

    def appliers(self) -> list[tuple[type[Fault], FaultApplier]]:
        return []

    def clear(self) -> None:
        return None

    def held(self) -> list[str]:
        return []

    def edge_calls(self) -> dict[str, int]:
        return {}

    def invariants(self) -> list[InvariantVerdict]:
        return []

    def reports(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


class HttpAdapter:
    """The default adapter (``adapter: http``); other adapters build on it."""

    name = "http"
    timeout_code = "TIMEOUT"
    unreachable_code = "UNREACHABLE"
    honest_codes: frozenset[str] = frozenset()
    dependency_codes: frozenset[str] = frozenset()
    invariant_names: tuple[str, ...] = ()
    compose_defaults: Mapping[str, str] = {}

    def prepare(
        self, topology: Topology, profile: str, knobs: Mapping[str, Any] | None
    ) -> Preparation:
        topology.profile(profile)  # UsageError naming the profiles the file declares
        if knobs:
            raise UsageError(
                f"topology {topology.name!r} (adapter {self.name}) has no knobs; "
                "describe configurations as profiles in its domino.yaml"
            )
        return Preparation()

    def users(self, topology: Topology) -> Iterator[User]:
        return itertools.cycle(self._users(topology))

    def person(self, topology: Topology) -> User:
        return self._users(topology)[0]

    @staticmethod
    def _users(topology: Topology) -> tuple[User, ...]:
        from harness.model.topology import User

        return topology.users or (User("anonymous"),)

    def read_answer(self, journey: Journey, status: int, payload: Any) -> Answer:
        if journey.accepts(status):
            return Answer(ok=True)
        return Answer(ok=False, code=f"HTTP{status}")

    def code_meaning(self, code: str) -> str | None:
        if code == self.timeout_code:
            return "the client gave up waiting for an answer"
        if code == self.unreachable_code:
            return "the client could not connect, or the connection was dropped"
        if code == BODY_CODE:
            return (
                "the status was a success but the body was not a good answer "
                "(cut off, empty, not JSON, or not what the journey's expect_body says)"
            )
        if code.startswith("HTTP") and code[4:].isdigit():
            return f"the system answered HTTP status {code[4:]}"
        return None

    def attach(
        self,
        topology: Topology,
        services: Mapping[str, str],
        secrets: Mapping[str, str],
        *,
        allowed_hosts: tuple[str, ...],
    ) -> SystemControl:
        return NoControl()

    def image_problem(self, image: str, labels: Mapping[str, str]) -> str | None:
        return None

    def configured_limits(
        self, topology: Topology, settings: Mapping[str, Any], edge: str
    ) -> ConfiguredLimits:
        return ConfiguredLimits(edge)  # HTTP alone says nothing about a caller's settings

    def caller_deadlines_ms(
        self, topology: Topology, settings: Mapping[str, Any]
    ) -> dict[str, float]:
        return {}
