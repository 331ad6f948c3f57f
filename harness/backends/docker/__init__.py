"""The docker backend: Toxiproxy and the services as containers on a private network.

The containers, their environment and the edge listeners come from
:mod:`.compose`, the same values a Compose file is generated from. Start
order: reconcile what a killed run left (:mod:`.owners`), check that every
image is there (:mod:`.engine`; nothing is pulled), create one bridge
network for the run, start Toxiproxy (API and the client edge's listener
published on 127.0.0.1, on ports the engine picks) and the services from
their images (each one's settings files, ``files:``, copied in before it
starts: :mod:`.settings_files`), create one proxy per edge, and wait for every
service by its readiness strategy. The harness reaches the services directly on their
addresses in the run's network (the project's own hosts) for readiness and
admin calls; journeys enter through the published client edge. Teardown
removes every container and the network on every path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from harness.backends.assembly import RunPlan, plan_run
from harness.backends.docker.compose import (
    LABEL_MANAGED,
    LABEL_OWNER,
    LABEL_RUN,
    TOXIPROXY_API_PORT,
    TOXIPROXY_HOST,
    TOXIPROXY_IMAGE,
    container_environment,
    edge_listeners,
    service_command,
    toxiproxy_command,
    toxiproxy_healthcheck,
)
from harness.backends.docker.containers import (
    ContainerControl,
    container_logs,
    engine_healthcheck,
    host_port,
    wait_container_ready,
)
from harness.backends.docker.engine import (
    BUILD_HINT,
    connect,
    create_network,
    require_images,
)
from harness.backends.docker.owners import (
    domino_resources,
    owner_label,
    reconcile_docker,
    remove_labelled,
)
from harness.backends.docker.settings_files import (
    check_container_paths,
    copy_settings_files,
    image_owner,
    settings_archive,
)
from harness.backends.lifecycle import Brought, stack_lifecycle
from harness.errors import (
    DockerImageMissingError,
    DockerImageStaleError,
    DockerUnavailableError,
    StackError,
    ToxiproxyError,
    UsageError,
)
from harness.infra.readiness import ReadinessTimeoutError, wait_until
from harness.infra.runstate import RunRecord
from harness.infra.signals import graceful_termination
from harness.model.topology import Readiness, Topology
from harness.stack import EdgeEndpoint, Stack
from harness.toxiproxy.client import ToxiproxyClient

__all__ = [
    "BUILD_HINT",
    "ContainerControl",
    "DockerImageMissingError",
    "DockerImageStaleError",
    "DockerUnavailableError",
    "docker_stack",
    "domino_resources",
    "owner_label",
    "preflight",
    "reconcile_docker",
]

_LOOPBACK = "127.0.0.1"
_BACKEND = "docker"
# Old names, used by tests and benchmarks.
_connect = connect
_remove_labelled = remove_labelled


def _terminate_gracefully() -> AbstractContextManager[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C while the stack is up, unless the caller handles them.

    Containers do not die with the process that started them, so a default
    SIGTERM (die on the spot) would leave them running until the next start.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(
        signal.SIGTERM
    ) in (signal.SIG_DFL, None):
        return graceful_termination()
    return contextlib.nullcontext()


def _images(topology: Topology) -> list[str]:
    return [TOXIPROXY_IMAGE, *dict.fromkeys(s.image for s in topology.services if s.image)]


def preflight(topology: Topology | None = None) -> None:
    """Raise the error :func:`docker_stack` would raise before starting anything, if any.

    DockerUnavailableError (no engine), DockerImageMissingError (images not
    built) or DockerImageStaleError (an image the adapter refuses, e.g. the
    bank's built from other services code).
    """
    from harness.library import default_topology
    from harness.plugins import get_adapter

    topology = topology or default_topology()
    client = connect(timeout_s=10.0)
    try:
        require_images(client, _images(topology), get_adapter(topology.adapter).image_problem)
    finally:
        client.close()


class _Run:
    """The containers of one run on its own network, created but not yet started."""

    def __init__(
        self,
        client: Any,
        plan: RunPlan,
        labels: Mapping[str, str],
        archives: Mapping[str, bytes],
    ) -> None:
        self.client = client
        self.plan = plan
        self.archives = dict(archives)
        self.topology = plan.topology
        self.labels = dict(labels)
        self.prefix = f"domino-{labels[LABEL_RUN]}"
        self.listeners = edge_listeners(self.topology)
        self.entry = self.listeners[self.topology.entry_edge.name]
        self.network, addresses = create_network(client, self.prefix, labels)
        names = [TOXIPROXY_HOST, *self.topology.service_names]
        self.address_of = dict(zip(names, addresses, strict=False))
        self.toxiproxy: Any = None
        self.services: dict[str, Any] = {}

    def _create(self, image: str, alias: str, **options: Any) -> Any:
        endpoint = self.client.api.create_endpoint_config(
            aliases=[alias], ipv4_address=self.address_of[alias]
        )
        return self.client.containers.create(
            image,
            name=f"{self.prefix}-{alias}",
            hostname=alias,
            labels={**self.labels, "domino.service": alias},
            network=self.network.name,
            networking_config={self.network.name: endpoint},
            **options,
        )

    def create(self) -> None:
        """Create Toxiproxy's container and one per service (nothing runs yet)."""
        self.toxiproxy = self._create(
            TOXIPROXY_IMAGE,
            TOXIPROXY_HOST,
            command=toxiproxy_command(config=False),
            # Only the API and the client edge leave the network, on loopback,
            # on ports the engine picks so that runs never clash.
            ports={
                f"{TOXIPROXY_API_PORT}/tcp": (_LOOPBACK, None),
                f"{self.entry.port}/tcp": (_LOOPBACK, None),
            },
            healthcheck=engine_healthcheck(toxiproxy_healthcheck()),
        )
        for service in self.topology.services:
            assert service.image is not None  # checked by docker_stack
            options: dict[str, Any] = {
                "environment": container_environment(self.plan, service),
            }
            command = service_command(self.topology, service)
            if command is not None:
                options["command"] = command
            if service.container_healthcheck is not None:
                options["healthcheck"] = engine_healthcheck(["CMD", *service.container_healthcheck])
            self.services[service.name] = self._create(service.image, service.name, **options)
            if service.name in self.archives:  # its settings files, before it first starts
                copy_settings_files(self.services[service.name], self.archives[service.name])

    def start(self) -> None:
        """Start every container; each start is an engine round trip, so do them together."""
        everything = [self.toxiproxy, *self.services.values()]
        with ThreadPoolExecutor(max_workers=len(everything)) as pool:
            list(pool.map(lambda container: container.start(), everything))
        self.toxiproxy.reload()

    def toxiproxy_client(self, ready_timeout_s: float) -> ToxiproxyClient:
        """A client for the published API, once it answers."""
        from harness.backends.docker.containers import _exited

        api_url = f"http://{_LOOPBACK}:{host_port(self.toxiproxy, TOXIPROXY_API_PORT)}"
        client = ToxiproxyClient(api_url, timeout_s=5.0)
        try:
            wait_until(
                client.reachable,
                timeout_s=ready_timeout_s,
                what=f"Toxiproxy API at {api_url}",
                abort=_exited(self.toxiproxy),
            )
        except ReadinessTimeoutError as exc:
            raise ToxiproxyError(
                f"Toxiproxy did not start: {exc}; `docker logs {self.toxiproxy.name}`: "
                f"{container_logs(self.toxiproxy, 5)}"
            ) from None
        return client

    def create_proxies(self, client: ToxiproxyClient) -> dict[str, EdgeEndpoint]:
        """One proxy per edge; ``listen`` is where the harness reaches it."""
        edges = {}
        for name, listener in self.listeners.items():
            client.create_proxy(listener.edge.proxy_name, listener.upstream, listener.listen)
            if name == self.entry.edge.name:
                reachable = f"{_LOOPBACK}:{host_port(self.toxiproxy, listener.port)}"
            else:
                reachable = f"{self.address_of[TOXIPROXY_HOST]}:{listener.port}"
            edges[name] = EdgeEndpoint(listener.edge.proxy_name, reachable, listener.upstream)
        return edges

    def service_urls(self) -> dict[str, str]:
        """Each service's direct URL on the run's network (readiness and admin calls)."""
        return {
            s.name: f"http://{self.address_of[s.name]}:{s.container_port}"
            for s in self.topology.services
        }

    def container_names(self) -> dict[str, str]:
        return {
            TOXIPROXY_HOST: self.toxiproxy.name,
            **{name: container.name for name, container in self.services.items()},
        }


def _with_overrides(
    topology: Topology, images: Mapping[str, str] | None, ready_timeout_s: float | None
) -> Topology:
    services = []
    for service in topology.services:
        image = (images or {}).get(service.name, (images or {}).get("*", service.image))
        ready = service.ready
        if ready_timeout_s is not None:
            ready = Readiness(ready.kind, ready.path, ready.status, ready.text, ready_timeout_s)
        services.append(dataclasses.replace(service, image=image, ready=ready))
    return dataclasses.replace(topology, services=tuple(services))


@contextmanager
def docker_stack(
    topology: Topology,
    *,
    profile: str | None = None,
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    ready_timeout_s: float | None = None,
    images: Mapping[str, str] | None = None,
    check_source: bool = True,
) -> Iterator[Stack]:
    """Bring ``topology`` up as containers; remove every container and the network on exit.

    The images must already be in the engine (:data:`BUILD_HINT`); nothing
    is pulled. ``images`` replaces services' images (``{"*": IMAGE}`` for all);
    ``ready_timeout_s`` replaces every readiness deadline. With
    ``check_source``, an image the adapter refuses (the bank's, built from
    other services code than this checkout's) raises DockerImageStaleError.
    """
    say = progress or (lambda _msg: None)
    topology = _with_overrides(topology, images, ready_timeout_s)
    missing = [s.name for s in topology.services if not s.image]
    if missing:
        raise UsageError(
            f"the docker backend runs services from their image; {', '.join(missing)} has "
            "none in the topology file (add `image:`, or use --backend local)"
        )
    check_container_paths(topology)
    plan = plan_run(topology, profile, knobs)
    with contextlib.closing(connect()) as client:
        left = reconcile_docker(client)
        if left:
            say("removed what a killed run left: " + ", ".join(left))
        problem = plan.adapter.image_problem if check_source else None
        require_images(client, _images(topology), problem)
        archives = _settings_archives(client, topology)
        with _terminate_gracefully():
            yield from _run_stack(client, plan, archives, say=say)


def _settings_archives(client: Any, topology: Topology) -> dict[str, bytes]:
    """Each service's settings files, rendered before anything starts (a bad one: UsageError)."""
    archives = {}
    for service in topology.services:
        if not service.files:
            continue
        assert service.image is not None  # checked by docker_stack
        owner = image_owner(client, service.image)
        archive = settings_archive(topology, service, owner=owner)
        if archive is not None:
            archives[service.name] = archive
    return archives


class _DockerRun:
    """The docker backend's part of a run: its own network, Toxiproxy and the services."""

    name = _BACKEND

    def __init__(self, client: Any, run_id: str, archives: Mapping[str, bytes]) -> None:
        self._client = client
        self._run_id = run_id
        self._archives = archives
        self.kept: list[str] = []

    def bring_up(self, plan: RunPlan, record: RunRecord, say: Callable[[str], None]) -> Brought:
        topology = plan.topology
        labels = {LABEL_MANAGED: "true", LABEL_OWNER: owner_label(), LABEL_RUN: self._run_id}
        say(f"creating network domino-{self._run_id}")
        run = _Run(self._client, plan, labels, self._archives)
        run.create()
        say("starting Toxiproxy and " + ", ".join(topology.service_names))
        run.start()
        proxy_client = run.toxiproxy_client(max(s.ready.timeout_s for s in topology.services))
        edges = run.create_proxies(proxy_client)
        direct = run.service_urls()
        for service in topology.services:
            say(f"waiting for {service.name}")
            wait_container_ready(run.services[service.name], service, direct[service.name])
        say("stack ready")
        return Brought(
            toxiproxy=proxy_client,
            services=direct,
            edges=edges,
            allowed_hosts=tuple(sorted(run.address_of.values())),
            services_control=ContainerControl(
                run.services, {s.name: s for s in topology.services}, direct
            ),
            extra={
                "run": self._run_id,
                "network": run.network.name,
                "containers": run.container_names(),
            },
        )

    def release(self, stack: Stack) -> None:
        return None  # the containers go with the network

    def tear_down(self) -> None:
        removed = remove_labelled(self._client, f"{LABEL_RUN}={self._run_id}")
        self.kept = [item for item in removed if " kept: " in item]


def _run_stack(
    client: Any, plan: RunPlan, archives: Mapping[str, bytes], *, say: Callable[[str], None]
) -> Iterator[Stack]:
    """The body of :func:`docker_stack` once the engine and images are known to be there."""
    run_id = secrets.token_hex(4)
    record = RunRecord(_BACKEND, extra={"run": run_id})
    backend = _DockerRun(client, run_id, archives)
    with stack_lifecycle(backend, plan, record, say) as stack:
        yield stack
    if backend.kept:
        raise StackError("could not remove " + "; ".join(backend.kept))
