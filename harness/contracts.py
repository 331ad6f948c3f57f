"""Every extension point of Domino, declared in one place.

A system, a backend or a fault family plugs in by implementing one of these
protocols and being named (:mod:`harness.plugins`); the rest of Domino calls
only what is declared here, never asks which implementation it holds.

- :class:`SystemAdapter` knows a system as a kind: how to read an answer
  (ok, degraded, error code, cause chain), which codes are honest
  degradation, which invariants it can check, its users, what a profile
  means (knobs, extra environment, secrets) and what limits its settings
  configure (:class:`ConfiguredLimits`).
- :class:`SystemControl` is the adapter attached to one running stack: the
  application faults it can apply (an admin API), clearing and listing them,
  per-edge call counters, and the self-check invariants (a ledger), each
  reported through :meth:`SystemControl.reports`;
  :class:`ReportsAppliedKeys` is the optional ability of one that can say
  which idempotency keys the system applied (a flood's "failed but applied").
- :class:`FaultApplier` applies and removes one family of faults;
  :class:`CountsOwnTraffic` is the optional ability of one that sends the
  fault's traffic itself (load).
- :class:`ServiceControl` is what a backend can do to one of its running
  services (kill, stop, start, pause, resume, restart); process faults are
  written once over it (:mod:`harness.stack.process_faults`). It also says
  which services died without being asked to (:class:`ServiceDeath`), so a
  run reports a death it did not cause instead of restarting it silently.
- :class:`BackendFactory` brings a topology up as a running stack.

The generic HTTP adapter (:mod:`harness.adapters.http`) is the default adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from harness.model.faults import Fault
from harness.model.outcomes import Answer, InvariantVerdict
from harness.model.topology import Journey, Topology, User

__all__ = [
    "Answer",
    "BackendFactory",
    "ConfiguredLimits",
    "CountsOwnTraffic",
    "FaultApplier",
    "Preparation",
    "ReportsAppliedKeys",
    "ServiceControl",
    "ServiceDeath",
    "SystemAdapter",
    "SystemControl",
]

_StackT_co = TypeVar("_StackT_co", covariant=True)


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


@dataclass(frozen=True)
class ConfiguredLimits:
    """What the configuration along the path to ``edge`` says a late answer on it runs into.

    ``deadline_ms`` is the longest the edge's caller waits for one attempt
    (its timeout, cut to its request budget); ``worst_wait_ms`` is the
    longest it waits for the edge in all (every attempt, capped by its
    budget). ``degrades`` says whether a late answer is turned into an
    honest degradation (None: the configuration says nothing about it).
    ``lines`` explain each hop, for humans. Everything is None / empty for
    a system whose adapter does not expose its settings.
    """

    edge: str
    deadline_ms: float | None = None
    worst_wait_ms: float | None = None
    degrades: bool | None = None
    lines: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "edge": self.edge,
            "deadline_ms": self.deadline_ms,
            "worst_wait_ms": self.worst_wait_ms,
            "degrades": self.degrades,
            "lines": list(self.lines),
        }


@dataclass(frozen=True, slots=True)
class ServiceDeath:
    """A service that exited while its control had not been asked to stop it.

    ``seen_at_s`` is ``time.monotonic()`` when the control found it exited;
    ``exited_at_s`` when it exited, where the backend knows (a container's
    finish time), else None: a process's exit is only seen when it is looked
    for. ``exit_code`` is a process's return code (negative: the signal that
    ended it) or a container's exit code (128 + the signal), None when
    unknown; ``exit_status`` says it in words ("killed by SIGKILL").
    ``log_tail`` is the service's last log lines.
    """

    service: str
    seen_at_s: float
    exit_code: int | None
    exit_status: str
    log_tail: tuple[str, ...] = ()
    exited_at_s: float | None = None

    @property
    def died_at_s(self) -> float:
        """``time.monotonic()`` of the death: when it exited if known, else when it was seen."""
        return self.exited_at_s if self.exited_at_s is not None else self.seen_at_s


class FaultApplier(Protocol):
    """Knows how to apply and remove one family of faults."""

    def apply(self, fault: Any) -> tuple[str, str]:
        """Apply; return (target, handle) for :meth:`remove`."""

    def remove(self, target: str, handle: str) -> None: ...


@runtime_checkable
class CountsOwnTraffic(Protocol):
    """An optional ability of a :class:`FaultApplier`: it sends the fault's traffic itself
    (load: a surge, a flood) and counts it, which is the evidence the fault met traffic."""

    def own_traffic(self, handle: str) -> tuple[int, str]:
        """(calls the fault sent that the system answered, what they were, in words)."""
        ...


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

    def reports(self) -> dict[str, Any]:
        """What the last :meth:`invariants` read, as plain data for the run's reports
        (the bank: each service's ``/admin/invariants`` answer); empty when it reads none."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ReportsAppliedKeys(Protocol):
    """An optional ability of a :class:`SystemControl`: it can say, from the system's own
    records (the bank: its idempotency table), which keys the system applied. A flood keys
    each action (``{run}-{n}``) and asks, so an action that failed after the system applied
    it is told from one refused before anything happened."""

    def applied_keys(self, prefix: str) -> frozenset[str]:
        """Every key starting with ``prefix`` whose operation the system applied, read once
        it has finished the work in hand (a bounded wait); :class:`~harness.errors.DominoError`
        when its records cannot be read."""
        ...


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

    def configured_limits(
        self, topology: Topology, settings: Mapping[str, Any], edge: str
    ) -> ConfiguredLimits:
        """What the run's ``settings`` say a late answer on ``edge`` runs into.

        An adapter that does not know its system's settings returns
        ``ConfiguredLimits(edge)`` (nothing claimed).
        """
        ...

    def caller_deadlines_ms(
        self, topology: Topology, settings: Mapping[str, Any]
    ) -> dict[str, float]:
        """The deadline each edge's caller gives one call, where ``settings`` say it (else {})."""
        ...


class ServiceControl(Protocol):
    """What a backend can do to its running services; process faults are written over it.

    Every method names a service of the topology; ``kill`` and ``stop`` return
    once the service is down, ``start`` and ``restart`` once it is healthy.
    A service brought down by ``kill``, ``stop`` or ``restart`` is down on
    purpose until it is started again; any other exit is a death the control
    reports (:meth:`deaths`), and never brings back without recording it first.
    """

    #: The backend's name, for messages ("the docker backend cannot ...").
    backend: str

    def kill(self, service: str) -> None:
        """SIGKILL the service (a crash)."""
        ...

    def stop(self, service: str) -> None:
        """Stop the service gracefully (SIGTERM)."""
        ...

    def start(self, service: str) -> None:
        """Start a stopped or crashed service and wait until it is healthy."""
        ...

    def pause(self, service: str) -> None:
        """Freeze the service (SIGSTOP, ``docker pause``)."""
        ...

    def resume(self, service: str) -> None:
        """Thaw a frozen service."""
        ...

    def restart(self, service: str) -> None:
        """Restart the service now and wait until it is healthy."""
        ...

    def restore_all(self) -> list[str]:
        """Every service running and not frozen again; the names of those brought back.

        A service found dead that was not down on purpose is recorded in
        :meth:`deaths` before it is started again.
        """
        ...

    def deaths(self) -> list[ServiceDeath]:
        """Look at every service now; every death seen so far, oldest first.

        A death is a service that exited while it was not down on purpose (by
        :meth:`kill`, :meth:`stop` or :meth:`restart`): each is recorded once,
        when first seen, and a service can die again once it has been started.
        """
        ...

    def held(self) -> list[str]:
        """Services not running normally, one line each."""
        ...


class BackendFactory(Protocol[_StackT_co]):
    """A backend: brings a topology up and yields its running stack (a ``harness.stack.Stack``).

    Leaving the context tears down everything the backend started, on every path.
    """

    def __call__(
        self,
        topology: Topology,
        *,
        profile: str | None = None,
        knobs: Mapping[str, Any] | None = None,
        progress: Callable[[str], None] | None = None,
        **options: Any,
    ) -> AbstractContextManager[_StackT_co]: ...
