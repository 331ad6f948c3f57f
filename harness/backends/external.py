"""The external backend: services already running; Domino starts only Toxiproxy.

For a staging system that someone else runs: every service has a ``url``
in the topology file and every edge a fixed ``listen`` address, where
Toxiproxy listens for that edge. The services must be configured (once, by
their owners) to call each other through those listeners; the stack's
``dependency_settings`` say exactly what each setting must be, and ``domino
up`` prints them. Domino checks that every service answers by its readiness
strategy, faults edges, and never starts, stops or restarts a service it did
not start: process faults are refused. Every service URL must pass the
target allow-list (loopback, or ``DOMINO_ALLOW_TARGETS``).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.backends.assembly import RunPlan, plan_run
from harness.backends.lifecycle import (
    Brought,
    new_run_dir,
    remove_stale_run_dir,
    stack_lifecycle,
)
from harness.backends.local import _remove_run_dir, _start_toxiproxy
from harness.errors import PortInUseError, ToxiproxyAPIError, UsageError
from harness.infra.network_safety import check_target
from harness.infra.processes import ManagedProcess
from harness.infra.readiness import wait_ready
from harness.infra.runstate import RunRecord, reconcile
from harness.infra.sockets import port_holder
from harness.infra.templates import render
from harness.model.topology import Topology
from harness.stack import EdgeEndpoint, Stack
from harness.toxiproxy.binary import find_toxiproxy

__all__ = ["dependency_settings", "external_stack"]

_TOXIPROXY_READY_S = 15.0


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def dependency_settings(topology: Topology) -> dict[str, dict[str, str]]:
    """For each service, the environment it must run with so its calls cross Toxiproxy."""
    settings: dict[str, dict[str, str]] = {}
    for edge in topology.edges:
        if not edge.env or edge.listen is None:
            continue
        host, _, port = edge.listen.rpartition(":")
        values = {"host": host, "port": port, "edge": edge.name}
        settings.setdefault(edge.source, {}).update(
            {name: render(template, values) for name, template in edge.env.items()}
        )
    return settings


def _check(topology: Topology) -> None:
    with_files = [s.name for s in topology.services if s.files]
    if with_files:
        raise UsageError(
            "the external backend starts no service, so it writes no settings files; "
            f"{', '.join(with_files)} declares `files:` (point those files at each edge's "
            "`listen:` address where the services run, and drop `files:` from this topology)"
        )
    no_url = [s.name for s in topology.services if not s.url]
    if no_url:
        raise UsageError(
            f"the external backend needs a url for every service; {', '.join(no_url)} has none "
            "(add `url: http://HOST:PORT` where it already runs)"
        )
    no_listen = [e.name for e in topology.edges if not e.listen]
    if no_listen:
        raise UsageError(
            "the external backend needs a fixed listen address for every edge (the running "
            f"services are configured to call it); {', '.join(no_listen)} has none "
            "(add `listen: 127.0.0.1:PORT`)"
        )
    for service in topology.services:
        assert service.url is not None
        check_target(service.url)
    _check_listen_ports(topology)


def _check_listen_ports(topology: Topology) -> None:
    """Every edge's fixed listen address is its own and free, before anything starts.

    PortInUseError names the edge, the address and (when this machine says)
    the process holding it; a port Toxiproxy found taken was a bare HTTP 500.
    """
    where = f" in {topology.path}" if topology.path else ""
    seen: dict[str, str] = {}
    for edge in topology.edges:
        assert edge.listen is not None
        if edge.listen in seen:
            raise UsageError(
                f"edges {seen[edge.listen]} and {edge.name} both listen on {edge.listen}{where}: "
                "give each edge its own `listen:` port",
                edge=edge.name,
            )
        seen[edge.listen] = edge.name
        host, _, port = edge.listen.rpartition(":")
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            # As Toxiproxy binds: a port only in TIME_WAIT is free, a listener's is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host.strip("[]"), int(port)))
            except OSError as exc:
                holder = port_holder(int(port))
                by = f" by {holder}" if holder else ""
                raise PortInUseError(
                    f"edge {edge.name}: its listen address {edge.listen} is taken{by} "
                    f"({exc.strerror}): stop what holds it, or give the edge another "
                    f"`listen:` port{where} (and point {edge.source} at it)",
                    edge=edge.name,
                ) from None


class _ExternalRun:
    """The external backend's part of a run: only Toxiproxy is Domino's."""

    name = "external"

    def __init__(self, binary: Path, run_dir: Path, record: RunRecord) -> None:
        self._binary = binary
        self._run_dir = run_dir
        self._record = record
        self._toxiproxy: ManagedProcess | None = None

    def bring_up(self, plan: RunPlan, record: RunRecord, say: Callable[[str], None]) -> Brought:
        topology = plan.topology
        direct = {s.name: str(s.url).rstrip("/") for s in topology.services}
        for service in topology.services:
            say(f"checking {service.name} at {direct[service.name]}")
            wait_ready(
                service.ready,
                base_url=direct[service.name],
                what=f"service {service.name} (already running, external)",
                abort=lambda: None,
                logs=lambda: "Domino did not start it: check it where it runs",
            )
        say("starting Toxiproxy")
        self._toxiproxy, client = _start_toxiproxy(
            self._binary, self._run_dir, record, _TOXIPROXY_READY_S, self._adopt
        )
        edges: dict[str, EdgeEndpoint] = {}
        for edge in topology.edges:
            assert edge.listen is not None
            upstream = _host_port(direct[edge.target])
            try:
                proxy = client.create_proxy(edge.proxy_name, upstream, edge.listen)
            except ToxiproxyAPIError as exc:
                if "address already in use" not in str(exc):
                    raise
                raise PortInUseError(
                    f"edge {edge.name}: its listen address {edge.listen} was taken as Toxiproxy "
                    "started; stop what holds it, or give the edge another `listen:` port",
                    edge=edge.name,
                ) from None
            edges[edge.name] = EdgeEndpoint(edge.proxy_name, proxy.listen, upstream)
        say("Toxiproxy is in front of the running services")
        return Brought(
            toxiproxy=client,
            services=direct,
            edges=edges,
            allowed_hosts=tuple(sorted({urlsplit(u).hostname or "" for u in direct.values()})),
            dependency_settings=dependency_settings(topology),
        )

    def _adopt(self, process: ManagedProcess) -> None:
        self._toxiproxy = process  # one that did not start was stopped by _start_toxiproxy

    def release(self, stack: Stack) -> None:
        with contextlib.suppress(Exception):
            stack.reset()  # leave the running services as they were found

    def tear_down(self) -> None:
        if self._toxiproxy is not None:
            self._toxiproxy.stop()
        _remove_run_dir(self._record)


@contextmanager
def external_stack(
    topology: Topology,
    *,
    profile: str | None = None,
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    toxiproxy_bin: str | Path | None = None,
) -> Iterator[Stack]:
    """Toxiproxy in front of services that already run; only Toxiproxy is stopped on exit.

    Like every backend, the run is recorded with its endpoints, so ``domino
    fault`` in another terminal attaches to it.
    """
    say = progress or (lambda _msg: None)
    _check(topology)
    plan = plan_run(topology, profile, knobs)
    reconcile("external", extra_cleanup=remove_stale_run_dir)
    binary = find_toxiproxy(toxiproxy_bin)
    run_dir = new_run_dir("external")
    record = RunRecord("external", extra={"run_dir": str(run_dir)})
    with stack_lifecycle(_ExternalRun(binary, run_dir, record), plan, record, say) as stack:
        yield stack
