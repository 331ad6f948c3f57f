"""Applying faults to a running stack, in scopes that always remove them.

:class:`Injector` turns a fault value into a change on the running system
(a toxic, a refusing or disabled proxy, an application fault through the
system's adapter, a killed process) and back. A :class:`FaultScope`
is the only way tests and experiments apply faults: leaving it, normally or
by an exception, removes exactly what it added, in reverse order.

What Toxiproxy can do depends on its server: Domino's own build has Domino's
toxics (:mod:`harness.toxiproxy.abilities`), read once from its version when
the injector is made. A toxic fault uses Domino's toxic for its kind where
the server has it (``Timeout``: ``domino_hang``), the stock one otherwise,
and is refused before anything is applied where neither exists. HTTP faults
(:class:`~harness.model.faults.HttpFault`, per request) exist only on Domino's
server: their toxic, with a companion that writes answers, and their own count
of the requests they met as evidence. ``Down`` is
the ``domino_refuse`` toxic on Domino's server (the proxy keeps listening and
counts what tried to cross: the fault's own evidence), a disabled proxy on a
stock one.

Process faults go through the backend's service control
(:mod:`.process_faults`); a run teaches the injector its load faults (surges,
floods) with :meth:`Injector.register` for the length of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from harness.contracts import SystemControl

from harness.contracts import CountsOwnTraffic, FaultApplier, ServiceControl
from harness.errors import DominoError, FaultRemovalError, ToxiproxyAPIError, UnsupportedFaultError
from harness.model.faults import (
    FAULT_KINDS,
    Down,
    Fault,
    HttpFault,
    ProcessFault,
    ToxicFault,
)
from harness.model.topology import Topology
from harness.stack.process_faults import ProcessFaultApplier
from harness.toxiproxy.abilities import domino_toxics, toxic_unavailable
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


@runtime_checkable
class _Selective(Protocol):
    """An applier that takes only some kinds of its family (on this server)."""

    def takes(self, fault_type: type[Fault]) -> bool: ...


class _OnServer:
    """An applier of toxics on one Toxiproxy server: its client, how an edge names its
    proxy, which of Domino's toxics the server has, and a counter for toxic names."""

    def __init__(
        self,
        client: ToxiproxyClient,
        proxy_of: Callable[[str], str],
        *,
        server_version: str,
        server_toxics: frozenset[str],
    ) -> None:
        self._client = client
        self._proxy_of = proxy_of
        self._server_version = server_version
        self._server_toxics = server_toxics
        self._ids = itertools.count(1)


class _ToxicApplier(_OnServer):
    """Toxic faults, each as Domino's toxic for its kind where the server has it."""

    def takes(self, fault_type: type[Fault]) -> bool:
        return issubclass(fault_type, ToxicFault) and (
            fault_type.toxic_for(self._server_toxics) is not None
        )

    def apply(self, fault: ToxicFault) -> tuple[str, str]:
        proxy = self._proxy_of(fault.edge)
        toxic_type = fault.toxic_for(self._server_toxics)
        if toxic_type is None:
            raise UnsupportedFaultError(
                f"{fault.kind} on {fault.edge} "
                + toxic_unavailable(fault.domino_toxic_type, self._server_version)
            )
        name = f"domino_{fault.kind}_{fault.stream}_{next(self._ids)}"
        toxic = ToxicInfo(
            name=name,
            type=toxic_type,
            stream=fault.stream,
            toxicity=float(fault.toxicity),
            attributes=fault.toxiproxy_attributes(),
        )
        self._client.add_toxic(proxy, toxic)
        return proxy, name

    def remove(self, target: str, handle: str) -> None:
        self._client.remove_toxic(target, handle)


class _DisablingDownApplier:
    """Down on a stock server: the proxy disabled (connections refused, open ones dropped).

    Refused connections leave no trace on Toxiproxy; the evidence is inferred
    (:mod:`harness.experiment.evidence`).
    """

    def __init__(self, client: ToxiproxyClient, proxy_of: Callable[[str], str]) -> None:
        self._client = client
        self._proxy_of = proxy_of

    def apply(self, fault: Down) -> tuple[str, str]:
        proxy = self._proxy_of(fault.edge)
        self._client.set_enabled(proxy, False)
        return proxy, "disabled"

    def remove(self, target: str, handle: str) -> None:
        self._client.set_enabled(target, True)


#: Domino's toxic that makes a down edge, and the attribute in which it counts.
_REFUSE_TOXIC = "domino_refuse"
_ATTEMPTS = "attempts"


class _RefusingDownApplier:
    """Down on Domino's server: the proxy keeps listening and the ``domino_refuse``
    toxic closes every connection that tries to send through it, counting them.

    The count is the fault's evidence (:class:`~harness.contracts.CountsOwnTraffic`):
    it is read just before the toxic is removed, and kept for :meth:`own_traffic`.
    """

    def __init__(self, client: ToxiproxyClient, proxy_of: Callable[[str], str]) -> None:
        self._client = client
        self._proxy_of = proxy_of
        self._ids = itertools.count(1)
        self._edges: dict[str, str] = {}
        self._proxies: dict[str, str] = {}
        self._counted: dict[str, int | None] = {}

    def apply(self, fault: Down) -> tuple[str, str]:
        proxy = self._proxy_of(fault.edge)
        name = f"domino_{fault.kind}_upstream_{next(self._ids)}"
        # Upstream (client -> server): a request is dropped before it reaches the target.
        self._client.add_toxic(proxy, ToxicInfo(name, _REFUSE_TOXIC, "upstream", 1.0))
        self._edges[name] = fault.edge
        self._proxies[name] = proxy
        return proxy, name

    def remove(self, target: str, handle: str) -> None:
        self._counted[handle] = self._attempts(target, handle)
        self._client.remove_toxic(target, handle)

    def _attempts(self, proxy: str, handle: str) -> int | None:
        """The toxic's count of refused connections, or None if it cannot be read."""
        try:
            held = {t.name: t for t in self._client.toxics(proxy)}.get(handle)
        except ToxiproxyAPIError:
            return None
        attempts = None if held is None else held.attributes.get(_ATTEMPTS)
        return attempts if isinstance(attempts, int) else None

    def own_traffic(self, handle: str) -> tuple[int, str]:
        """(connections that tried to cross the down edge, that in words)."""
        edge = self._edges.get(handle, handle)
        if handle in self._counted:
            attempts = self._counted[handle]
        else:  # still held: read it now
            attempts = self._attempts(self._proxies.get(handle, ""), handle)
        if attempts is None:
            return 0, f"{edge}: the count of refused connections could not be read back"
        if attempts == 0:
            return 0, f"{edge}: never crossed — a fallback path? (no connection tried it)"
        return attempts, f"{edge}: {attempts} connection(s) tried to cross it and were refused"


#: Domino's toxic that writes and breaks the answers of the HTTP faults that need it.
_ANSWERS_TOXIC = "domino_http_answers"
#: What an HTTP fault's toxic counts, among its attributes.
_HTTP_COUNTS = ("requests", "matched", "acted", "unparsed", "unpaired")


class _HttpApplier(_OnServer):
    """HTTP faults on an edge, per request, on Domino's server.

    Each is its toxic on the upstream stream (the requests) and, for the kinds
    that answer requests or break answers, a ``domino_http_answers`` companion
    on the downstream stream, added first and removed last, paired by the
    fault toxic's name. What the toxic counted (requests that crossed the edge
    while it was held, those it acted on) is read just before removal and is
    the fault's evidence (:class:`~harness.contracts.CountsOwnTraffic`).
    """

    def __init__(
        self,
        client: ToxiproxyClient,
        proxy_of: Callable[[str], str],
        *,
        server_version: str,
        server_toxics: frozenset[str],
        protocol_of: Callable[[str], str],
    ) -> None:
        """``protocol_of`` says what an edge carries (``http``, ``tcp``): HTTP faults are
        refused on an edge that carries no HTTP."""
        super().__init__(
            client, proxy_of, server_version=server_version, server_toxics=server_toxics
        )
        self._protocol_of = protocol_of
        self._faults: dict[str, HttpFault] = {}
        self._proxies: dict[str, str] = {}
        self._counted: dict[str, dict[str, int] | None] = {}

    def takes(self, fault_type: type[Fault]) -> bool:
        return (
            issubclass(fault_type, HttpFault)
            and fault_type.domino_toxic_type in self._server_toxics
            and (not fault_type.needs_answers or _ANSWERS_TOXIC in self._server_toxics)
        )

    def apply(self, fault: HttpFault) -> tuple[str, str]:
        proxy = self._proxy_of(fault.edge)
        if self._protocol_of(fault.edge) != "http":
            raise UnsupportedFaultError(
                f"{fault.kind} on {fault.edge}: the edge is declared `protocol: "
                f"{self._protocol_of(fault.edge)}` in the topology, and the HTTP kinds need "
                "HTTP/1.x; use a TCP kind there (latency, timeout, down, reset_peer, ...)"
            )
        if not self.takes(type(fault)):
            raise UnsupportedFaultError(
                f"{fault.kind} on {fault.edge} "
                + toxic_unavailable(fault.domino_toxic_type, self._server_version)
            )
        name = f"domino_{fault.kind}_{next(self._ids)}"
        attributes = dict(fault.toxiproxy_attributes())
        if fault.needs_answers:
            self._refuse_a_second_answering_fault(fault, proxy)
            attributes["pair"] = name
            answers = ToxicInfo(
                f"{name}_answers", _ANSWERS_TOXIC, "downstream", 1.0, {"pair": name}
            )
            self._client.add_toxic(proxy, answers)
        try:
            toxic = ToxicInfo(name, fault.domino_toxic_type, "upstream", 1.0, attributes)
            self._client.add_toxic(proxy, toxic)
        except BaseException:
            if fault.needs_answers:
                with contextlib.suppress(DominoError, ToxiproxyAPIError):
                    self._client.remove_toxic(proxy, f"{name}_answers")
            raise
        self._faults[name] = fault
        self._proxies[name] = proxy
        return proxy, name

    def _refuse_a_second_answering_fault(self, fault: HttpFault, proxy: str) -> None:
        """One HTTP fault that answers requests per edge at a time: each follows the
        requests it saw and the answers that reach it, so two would lose their order."""
        held = [t.name for t in self._client.toxics(proxy) if t.type == _ANSWERS_TOXIC]
        if held:
            raise UnsupportedFaultError(
                f"{fault.kind} on {fault.edge}: the edge already holds an HTTP fault that "
                f"answers requests or breaks answers ({held[0].removesuffix('_answers')}); "
                "http_status, http_abort and http_body take an edge one at a time "
                "(http_delay and any other fault may join them)"
            )

    def remove(self, target: str, handle: str) -> None:
        self._counted[handle] = self._counts(target, handle)
        try:
            self._client.remove_toxic(target, handle)
        finally:
            fault = self._faults.get(handle)
            if fault is None or fault.needs_answers:
                self._client.remove_toxic(target, f"{handle}_answers")

    def _counts(self, proxy: str, handle: str) -> dict[str, int] | None:
        """The toxic's counts, or None if they cannot be read."""
        try:
            held = {t.name: t for t in self._client.toxics(proxy)}.get(handle)
        except ToxiproxyAPIError:
            return None
        if held is None:
            return None
        counts = {}
        for key in _HTTP_COUNTS:
            value = held.attributes.get(key)
            if not isinstance(value, int):
                return None
            counts[key] = value
        return counts

    def own_traffic(self, handle: str) -> tuple[int, str]:
        """(requests the fault acted on, "N of M requests answered 503" in words)."""
        fault = self._faults.get(handle)
        edge = fault.edge if fault is not None else handle
        if handle in self._counted:
            counts = self._counted[handle]
        else:  # still held: read it now
            counts = self._counts(self._proxies.get(handle, ""), handle)
        if counts is None:
            return 0, f"{edge}: the fault's request counts could not be read back"
        requests, acted = counts["requests"], counts["acted"]
        if requests == 0 and counts["unparsed"]:
            return 0, (
                f"{edge}: carried bytes that are not HTTP/1.x, untouched ({counts['unparsed']} "
                "connection(s)): HTTP faults cannot act on this edge"
            )
        if requests == 0:
            return 0, f"{edge}: never crossed — no request crossed it while the fault was held"
        what = fault.effect() if fault is not None else "acted on"
        line = f"{edge}: {acted} of {requests} requests {what} ({counts['matched']} matched"
        if fault is not None and fault.share < 1:
            line += f", share {fault.share:g} drawn per request"
        line += ")"
        if counts["unpaired"]:
            line += (
                f"; {counts['unpaired']} passed on untouched: their connection's "
                "answers toxic was missing"
            )
        return acted, line


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
        #: Called with ("applied" | "removed", the fault) after each application and
        #: removal (the pytest plugin keeps them to explain a failing test).
        self.watchers: list[Callable[[str, AppliedFault], None]] = []
        #: The Toxiproxy server's version, and Domino's toxic types it has (empty: stock).
        self.toxiproxy_version = toxiproxy.version()
        self.server_toxics = domino_toxics(self.toxiproxy_version)
        down: FaultApplier = (
            _RefusingDownApplier(toxiproxy, self._proxy_of)
            if _REFUSE_TOXIC in self.server_toxics
            else _DisablingDownApplier(toxiproxy, self._proxy_of)
        )
        toxics = _ToxicApplier(
            toxiproxy,
            self._proxy_of,
            server_version=self.toxiproxy_version,
            server_toxics=self.server_toxics,
        )
        http = _HttpApplier(
            toxiproxy,
            self._proxy_of,
            server_version=self.toxiproxy_version,
            server_toxics=self.server_toxics,
            protocol_of=lambda edge: topology.edge(edge).protocol,
        )
        self._appliers: list[tuple[type[Fault], FaultApplier]] = [
            (HttpFault, http),
            (ToxicFault, toxics),
            (Down, down),
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
        return any(
            issubclass(fault_type, t) and (not isinstance(a, _Selective) or a.takes(fault_type))
            for t, a in self._appliers
        )

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
        applied = AppliedFault(fault, target, handle, time.monotonic())
        for watcher in list(self.watchers):
            watcher("applied", applied)
        return applied

    def remove(self, applied: AppliedFault) -> None:
        self._applier(applied.fault).remove(applied.target, applied.handle)
        for watcher in list(self.watchers):
            watcher("removed", applied)

    def own_traffic(self, applied: AppliedFault) -> tuple[int, str] | None:
        """What a fault counted of the traffic it met itself, if it counts (else None):
        the calls load sent, the connections a down edge refused on Domino's server."""
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
