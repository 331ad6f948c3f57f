"""What every backend does the same way: a profile's meaning, services' environment, the Stack.

A backend decides where services run and where each edge's proxy listens;
this module turns those decisions into each service's environment (its own
``env``, the profile's, the adapter's, and one entry per outgoing edge
pointing at that edge's listener) and into the :class:`~harness.stack.Stack`
every later stage talks to.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.contracts import Preparation, ServiceControl, SystemAdapter
from harness.errors import UsageError
from harness.infra.templates import TemplateError, render
from harness.model.topology import Edge, Service, Topology
from harness.plugins import get_adapter
from harness.stack import EdgeEndpoint, Stack
from harness.stack.injection import Injector
from harness.toxiproxy.client import ToxiproxyClient

__all__ = [
    "RunPlan",
    "assemble_stack",
    "plan_run",
    "render_command",
    "service_environment",
    "service_values",
]


@dataclass(frozen=True)
class RunPlan:
    """A topology, its adapter and what the chosen profile means, checked before starting."""

    topology: Topology
    adapter: SystemAdapter
    profile: str
    preparation: Preparation


def plan_run(topology: Topology, profile: str | None, knobs: Mapping[str, Any] | None) -> RunPlan:
    """Check the profile and knobs (UsageError if invalid) before anything starts."""
    adapter = get_adapter(topology.adapter)
    chosen = profile or topology.default_profile
    if chosen not in topology.profile_names:
        raise UsageError(
            f"unknown profile {chosen!r} for topology {topology.name!r}; "
            f"choose one of: {', '.join(topology.profile_names)}"
        )
    return RunPlan(topology, adapter, chosen, adapter.prepare(topology, chosen, knobs))


def service_values(
    topology: Topology,
    service: Service,
    *,
    port: int,
    bind_host: str,
    data_dir: str,
    listen_fd: str = "",
) -> dict[str, str]:
    """The placeholder values of a service's command, cwd and env.

    ``listen_fd`` is the number of a listening socket the service inherits
    (local backend, for services that take one), else empty.
    """
    return {
        "port": str(port),
        "listen_fd": listen_fd,
        "bind_host": bind_host,
        "dir": str(topology.base_dir),
        "data_dir": data_dir,
        "python": sys.executable,
        "service": service.name,
    }


def _render(template: str, values: Mapping[str, str], where: str) -> str:
    try:
        return render(template, values)
    except TemplateError as exc:
        raise UsageError(f"{where}: {exc}") from None


def render_command(argv: tuple[str, ...], values: Mapping[str, str], *, where: str) -> list[str]:
    return [_render(item, values, where) for item in argv]


def service_environment(
    plan: RunPlan,
    service: Service,
    values: Mapping[str, str],
    *,
    edge_address: Callable[[Edge], tuple[str, int]],
    inherit: bool,
) -> dict[str, str]:
    """The environment ``service`` starts with.

    In order (later wins): the runner's own environment when ``inherit``
    (local processes need PATH and the venv), the service's ``env``, the
    profile's, the adapter's, and each outgoing edge's ``env`` with
    ``{host}``/``{port}`` from ``edge_address(edge)``.
    """
    topology = plan.topology
    env: dict[str, str] = dict(os.environ) if inherit else {}
    where = f"service {service.name}"
    env.update({k: _render(v, values, where) for k, v in service.env.items()})
    profile_env = topology.profile(plan.profile).env.get(service.name, {})
    env.update({k: _render(v, values, where) for k, v in profile_env.items()})
    env.update(plan.preparation.env)
    for edge in topology.dependencies_of(service.name):
        host, port = edge_address(edge)
        edge_values = {"host": host, "port": str(port), "edge": edge.name}
        env.update({k: _render(v, edge_values, f"edge {edge.name}") for k, v in edge.env.items()})
    return env


def assemble_stack(
    plan: RunPlan,
    *,
    backend: str,
    toxiproxy: ToxiproxyClient,
    services: Mapping[str, str],
    edges: Mapping[str, EdgeEndpoint],
    allowed_hosts: tuple[str, ...] = (),
    dependency_settings: Mapping[str, Mapping[str, str]] | None = None,
    extra: Mapping[str, Any] | None = None,
    services_control: ServiceControl | None = None,
    system: str | None = None,
) -> Stack:
    """The Stack over a running system: its adapter attached, its injector ready.

    Every Stack is made here: by a backend's lifecycle, and when another
    process attaches to a running one. ``services_control`` is the backend's
    control of its services (process faults, bringing services back on
    reset); None where it has none. ``system`` names it in messages.
    """
    control = plan.adapter.attach(
        plan.topology, services, plan.preparation.secrets, allowed_hosts=allowed_hosts
    )
    injector = Injector(
        services=services_control,
        topology=plan.topology,
        toxiproxy=toxiproxy,
        proxies={name: e.proxy for name, e in edges.items()},
        control=control,
        system=system
        or f"the {plan.topology.name} system (adapter {plan.adapter.name}) on {backend}",
    )
    return Stack(
        backend=backend,
        topology=plan.topology,
        adapter=plan.adapter,
        profile=plan.profile,
        toxiproxy=toxiproxy,
        toxiproxy_version=toxiproxy.version(),
        services=dict(services),
        edges=dict(edges),
        injector=injector,
        secrets=dict(plan.preparation.secrets),
        settings=dict(plan.preparation.settings),
        allowed_hosts=allowed_hosts,
        dependency_settings={s: dict(env) for s, env in (dependency_settings or {}).items()},
        extra=dict(extra or {}),
    )
