"""Applying faults to a running stack, in scopes that always remove them.

:class:`Injector` turns a fault value into a change on the running system
(a toxic, a disabled proxy, an application fault through the system's
adapter, a killed process) and back. A :class:`FaultScope`
is the only way tests and experiments apply faults: leaving it, normally or
by an exception, removes exactly what it added, in reverse order.

Process faults go through the backend's service control
(:mod:`.process_faults`); a run teaches the injector its load faults (surges,
floods) with :meth:`Injector.register` for the length of the run.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.contracts import SystemControl

from harness.contracts import CountsOwnTraffic, FaultApplier, ServiceControl
from harness.errors import DominoError, FaultRemovalError, ToxiproxyAPIError, UnsupportedFaultError
from harness.model.faults import FAULT_KINDS, Down, Fault, ProcessFault, ToxicFault
from harness.model.topology import Topology
from harness.stack.process_faults import ProcessFaultApplier
from harness.toxiproxy.client import ToxicInfo, ToxiproxyClient

__all__ = ["AppliedFault", "FaultApplier", "FaultRemovalError", "FaultScope", "Injector"]


@dataclass(frozen=True, slots=True)
class AppliedFault:
    """A fault as applied: where it went and the handle that removes it.

    ``applied_at_s`` is ``time.monotonic()`` when the application returned.
    """

    fault: Fault
    target: str
    handle: str
    applied_at_s: float


class _ToxicApplier:
    def __init__(self, client: ToxiproxyClient, proxy_of: Callable[[str], str]) -> None:
        self._client = client
        self._proxy_of = proxy_of
        self._ids = itertools.count(1)

    def apply(self, fault: ToxicFault) -> tuple[str, str]:
        proxy = self._proxy_of(fault.edge)
        name = f"domino_{fault.toxic_type}_{fault.stream}_{next(self._ids)}"
        toxic = ToxicInfo(
            name=name,
            type=fault.toxic_type,
            stream=fault.stream,
            toxicity=float(fault.toxicity),
            attributes=fault.toxiproxy_attributes(),
        )
        self._client.add_toxic(proxy, toxic)
        return proxy, name

    def remove(self, target: str, handle: str) -> None:
        self._client.remove_toxic(target, handle)


class _DownApplier:
    def __init__(self, client: ToxiproxyClient, proxy_of: Callable[[str], str]) -> None:
        self._client = client
        self._proxy_of = proxy_of

    def apply(self, fault: Down) -> tuple[str, str]:
        proxy = self._proxy_of(fault.edge)
        self._client.set_enabled(proxy, False)
        return proxy, "disabled"

    def remove(self, target: str, handle: str) -> None:
        self._client.set_enabled(target, True)


class Injector:
    """Applies faults to one running stack and reports anything left behind."""

    def __init__(
        self,
        *,
        topology: Topology,
        toxiproxy: ToxiproxyClient,
        proxies: Mapping[str, str],
        control: SystemControl,
        system: str = "",
        services: ServiceControl | None = None,
    ) -> None:
        """``services`` is the backend's control of its services, when it has one:
        process faults go through it, and :meth:`clear` brings every service back."""
        self.topology = topology
        self.toxiproxy = toxiproxy
        self.control = control
        self.services = services
        self._system = system or f"the {topology.name} system"
        self._proxies = dict(proxies)
        self._appliers: list[tuple[type[Fault], FaultApplier]] = [
            (ToxicFault, _ToxicApplier(toxiproxy, self._proxy_of)),
            (Down, _DownApplier(toxiproxy, self._proxy_of)),
            *control.appliers(),
        ]
        if services is not None:
            applier = ProcessFaultApplier(services, topology.service_names)
            self._appliers.append((ProcessFault, applier))

    def _proxy_of(self, edge: str) -> str:
        self.topology.edge(edge)  # raises UnknownEdgeError listing the known edges
        return self._proxies[edge]

    def register(self, fault_type: type[Fault], applier: FaultApplier) -> None:
        """Teach the injector a new family of faults (most specific first)."""
        self._appliers.insert(0, (fault_type, applier))

    def unregister(self, applier: FaultApplier) -> None:
        """Forget an applier registered for the length of one run."""
        self._appliers = [(t, a) for t, a in self._appliers if a is not applier]

    def supports(self, fault_type: type[Fault]) -> bool:
        """True when this stack can apply faults of ``fault_type``."""
        return any(issubclass(fault_type, t) for t, _ in self._appliers)

    def supported_kinds(self) -> list[str]:
        """Every fault kind this stack can apply, by name."""
        return sorted(kind for kind, cls in FAULT_KINDS.items() if self.supports(cls))

    def _applier(self, fault: Fault) -> FaultApplier:
        for fault_type, applier in self._appliers:
            if isinstance(fault, fault_type):
                return applier
        raise UnsupportedFaultError(
            f"{self._system} cannot take {fault.kind} faults here; it can take: "
            + ", ".join(self.supported_kinds())
        )

    def apply(self, fault: Fault) -> AppliedFault:
        """Apply one fault now; prefer :meth:`scope`, which always removes it."""
        target, handle = self._applier(fault).apply(fault)
        return AppliedFault(fault, target, handle, time.monotonic())

    def remove(self, applied: AppliedFault) -> None:
        self._applier(applied.fault).remove(applied.target, applied.handle)

    def own_traffic(self, applied: AppliedFault) -> tuple[int, str] | None:
        """What a fault that sends its own traffic (load) sent, if it does (else None)."""
        applier = self._applier(applied.fault)
        if isinstance(applier, CountsOwnTraffic):
            return applier.own_traffic(applied.handle)
        return None

    def scope(self, *faults: Fault) -> FaultScope:
        """A context manager (sync or async) holding ``faults`` for its duration."""
        return FaultScope(self, faults)

    def clear(self) -> None:
        """Remove every fault: all toxics, all disabled proxies, all application faults.

        The services come back first: a service a failed fault removal left
        stopped or frozen is brought back before its admin API is asked.
        """
        if self.services is not None:
            self.services.restore_all()
        self.toxiproxy.reset()
        self.control.clear()

    def leftovers(self) -> list[str]:
        """Every fault still held anywhere: services down or frozen, toxics, disabled
        proxies, admin rules.

        A frozen or stopped service cannot answer for its admin rules (the call
        would hang), so while any service is held only Toxiproxy is asked
        besides; the run is reported as having leftovers either way.
        """
        services_held = self.services.held() if self.services is not None else []
        found = list(services_held)
        for name, proxy in self.toxiproxy.proxies().items():
            if not proxy.enabled:
                found.append(f"proxy {name} disabled")
            found += [f"toxic {t.name} ({t.type}, {t.stream}) on {name}" for t in proxy.toxics]
        return found if services_held else found + self.control.held()


class FaultScope:
    """Holds faults while the block runs; removes exactly them on every path."""

    def __init__(self, injector: Injector, faults: Sequence[Fault]) -> None:
        self._injector = injector
        self._faults = tuple(faults)
        self.applied: list[AppliedFault] = []

    def __enter__(self) -> list[AppliedFault]:
        try:
            for fault in self._faults:
                self.applied.append(self._injector.apply(fault))
        except BaseException:
            self._remove_all(raise_errors=False)
            raise
        return list(self.applied)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._remove_all(raise_errors=exc is None)

    async def __aenter__(self) -> list[AppliedFault]:
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, tb)

    def _remove_all(self, *, raise_errors: bool) -> None:
        failures = []
        while self.applied:
            applied = self.applied.pop()
            try:
                self._injector.remove(applied)
            except (DominoError, ToxiproxyAPIError) as exc:
                failures.append(f"{applied.fault.describe()}: {exc}")
        if failures and raise_errors:
            raise FaultRemovalError("faults may be left behind: " + "; ".join(failures))
