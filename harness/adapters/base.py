"""The system adapter: everything Domino may learn about a system beyond HTTP.

One protocol, two halves:

- :class:`SystemAdapter` knows the system as a kind: how to read an answer
  (ok, degraded, error code, cause chain), which codes are honest
  degradation, which invariants it can check, its users, and what a profile
  means (knobs, extra environment, secrets).
- :class:`SystemControl` is the adapter attached to one running stack: the
  application faults it can apply (an admin API), clearing and listing them,
  per-edge call counters, and the self-check invariants (a ledger).

The generic HTTP adapter (:mod:`harness.adapters.http`) is the default;
adapters register by name in :mod:`harness.adapters.registry`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.faults import Fault
    from harness.injection import FaultApplier
    from harness.journeys import Journey
    from harness.topology import Topology, User
    from harness.verdict import InvariantVerdict

__all__ = ["Answer", "Preparation", "SystemAdapter", "SystemControl"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What one HTTP answer meant to the user.

    ``cause`` is the chain the system gave for an error or a degraded answer,
    first link first (each a mapping with ``edge`` or ``service``).
    """

    ok: bool
    code: str | None = None
    cause: tuple[Mapping[str, Any], ...] = ()
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class Preparation:
    """What a profile means for one run, before anything starts.

    ``settings`` are the values reported for the run (knobs); ``env`` is
    added to every service's environment; ``secrets`` stay with the stack
    (admin tokens) and never appear in reports.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


class SystemControl(Protocol):
    """An adapter attached to one running stack."""

    def appliers(self) -> list[tuple[type[Fault], FaultApplier]]:
        """Application faults this system can apply, each with its applier."""
        ...

    def clear(self) -> None:
        """Remove every application fault (reset to no faults)."""
        ...

    def held(self) -> list[str]:
        """Application faults still held, one line each."""
        ...

    def edge_calls(self) -> dict[str, int]:
        """Outbound calls per edge so far, from the services' own counters (may be empty)."""
        ...

    def invariants(self) -> list[InvariantVerdict]:
        """The system's self-checks after a run (e.g. the ledger balances)."""
        ...

    def close(self) -> None: ...


class SystemAdapter(Protocol):
    """What Domino knows about a kind of system beyond HTTP."""

    #: The adapter's name, as a topology file's ``adapter:`` gives it.
    name: str
    #: Code for a journey whose client gave up waiting (the bank's app: NT004).
    timeout_code: str
    #: Code for a journey whose client could not connect at all (the bank's app: NT003).
    unreachable_code: str
    #: Codes that are an honest, fast degradation rather than a failure.
    honest_codes: frozenset[str]
    #: Codes that claim a dependency failed: their cause chain must name the faulted place.
    dependency_codes: frozenset[str]
    #: Invariants this adapter measures besides the harness's own.
    invariant_names: tuple[str, ...]
    #: Defaults of the adapter's per-run environment in a generated Compose file.
    compose_defaults: Mapping[str, str]

    def prepare(
        self, topology: Topology, profile: str, knobs: Mapping[str, Any] | None
    ) -> Preparation:
        """Check ``profile`` and ``knobs`` (UsageError if invalid) and say what they mean."""
        ...

    def users(self, topology: Topology) -> Iterator[User]:
        """The users virtual users act as, one per virtual user, endlessly.

        Shared across runs in one process, so that runs on one stack do not
        reuse (and drain) the same users while others are fresh.
        """
        ...

    def person(self, topology: Topology) -> User:
        """The user a test or a person acts as by default."""
        ...

    def read_answer(self, journey: Journey, status: int, payload: Any) -> Answer:
        """What an HTTP answer (``payload`` is its JSON, or None) meant."""
        ...

    def code_meaning(self, code: str) -> str | None:
        """A one-line meaning of an error code, for reports (None if unknown)."""
        ...

    def attach(
        self,
        topology: Topology,
        services: Mapping[str, str],
        secrets: Mapping[str, str],
        *,
        allowed_hosts: tuple[str, ...],
    ) -> SystemControl:
        """Control of one running stack whose services answer at ``services`` (name -> URL)."""
        ...

    def image_problem(self, image: str, labels: Mapping[str, str]) -> str | None:
        """Why a container image must not be used (e.g. built from other source), or None."""
        ...
