"""The docker backend: Toxiproxy and the services as containers on a private network.

The containers, their environment and the edge listeners come from
:mod:`harness.compose_file`, the same values ``compose/docker-compose.yml``
is generated from. Start order: reconcile what a killed run left, create one
bridge network for the run, start Toxiproxy (API and the client edge's
listener published on 127.0.0.1, on ports the engine picks) and the
services, create one proxy per edge, and wait for every service's health
endpoint. The harness reaches the services directly on their addresses in
the run's network (the project's own hosts) for health and admin calls;
journeys enter through the published client edge. Teardown removes every
container and the network on every path.

Everything the backend creates carries the labels ``domino.managed``,
``domino.run`` (this run) and ``domino.owner`` (``host:pid:start``): a run
killed with SIGKILL cannot clean up, so every start first removes what an
owner that is gone left behind (:func:`reconcile_docker`).

Container faults: :class:`~harness.faults.Crash` kills the service's
container (SIGKILL) and starts it again when the scope ends, waiting until it
is healthy; :class:`~harness.faults.Pause` freezes it (``docker pause``) and
unpauses it at the end. Services keep fixed addresses in the run's network,
so a restarted container answers where it did before.

The Docker SDK is imported only when this backend is chosen.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from harness.attach import describe_for_record
from harness.compose_file import (
    LABEL_MANAGED,
    LABEL_OWNER,
    LABEL_RUN,
    SERVICE_PORT,
    SERVICES_IMAGE,
    TOXIPROXY_API_PORT,
    TOXIPROXY_HOST,
    TOXIPROXY_IMAGE,
    edge_listeners,
    service_command,
    service_environment,
    service_healthcheck,
    toxiproxy_command,
    toxiproxy_healthcheck,
)
from harness.errors import (
    DockerImageMissingError,
    DockerImageStaleError,
    DockerUnavailableError,
    FaultSpecError,
    StackError,
    ToxiproxyError,
    UnknownServiceError,
)
from harness.faults import ProcessFault
from harness.injection import FaultRemovalError, Injector
from harness.profiles import check_profile
from harness.readiness import ReadinessTimeoutError, wait_healthy, wait_until
from harness.runstate import RunRecord, reconcile
from harness.signals import graceful_termination
from harness.stack import EdgeEndpoint, Stack
from harness.topology import Topology
from harness.toxiproxy.client import ToxiproxyClient

__all__ = [
    "BUILD_HINT",
    "ContainerFaultApplier",
    "DockerImageMissingError",
    "DockerImageStaleError",
    "DockerUnavailableError",
    "docker_stack",
    "domino_resources",
    "owner_label",
    "preflight",
    "reconcile_docker",
    "services_digest",
]

#: How to get the images on a machine without a registry.
BUILD_HINT = "run `bash docker/build-images.sh` (builds both images without a registry)"

_LOOPBACK = "127.0.0.1"
_BACKEND = "docker"
#: How often a wait checks whether a container has exited (each check is an API call).
_EXIT_CHECK_INTERVAL_S = 0.5


def _sdk() -> Any:
    """The Docker SDK (``docker`` package), imported when this backend is first used.

    Through importlib rather than ``import docker``: the repository's own
    ``docker/`` folder (Dockerfiles) would otherwise look like the package to
    mypy. At run time the installed package always wins over a plain folder.
    """
    try:
        return importlib.import_module("docker")
    except ImportError as exc:  # pragma: no cover - the project depends on docker
        raise DockerUnavailableError(
            f"the Docker SDK is not installed ({exc}); pip install docker"
        ) from None


# -- owners and reconciling ------------------------------------------------------------------


def _process_started(pid: int) -> str | None:
    """An opaque start time of a live process (None if there is no such live process).

    With the pid it identifies a process even after its pid is reused.
    """
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # fields[0] is the state (field 3 of proc(5)); a zombie is gone already.
        return None if fields[0] in ("Z", "X") else fields[19]
    result = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip().replace(" ", "_") or None


def owner_label(pid: int | None = None) -> str:
    """The ``domino.owner`` label value for process ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_started(pid) or '?'}"


def _owner_gone(owner: str) -> bool:
    """True when the labelled owner process is certainly no longer running."""
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's (or hand-made) resources: not ours to judge
    now = _process_started(int(pid_text))
    return now is None or (started not in ("", "?") and now != started)


def _connect(timeout_s: float = 30.0) -> Any:
    """A Docker SDK client for the engine from the environment; DockerUnavailableError if none."""
    docker = _sdk()
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except docker.errors.DockerException as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DockerUnavailableError(
            f"no Docker engine reachable at {where} ({detail}); start dockerd "
            "(e.g. `sudo bash .ci/docker.sh start`) or point DOCKER_HOST at one"
        ) from None
    return client


def domino_resources(client: Any, *, label: str = LABEL_MANAGED) -> tuple[list[Any], list[Any]]:
    """Containers (running or not) and networks that carry ``label`` (``key`` or ``key=value``)."""
    containers = client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    networks = client.networks.list(filters={"label": label})
    return containers, networks


def _remove_labelled(client: Any, label: str) -> list[str]:
    """Remove every container, then every network, that carries ``label``."""
    errors = _sdk().errors
    removed = []
    containers, networks = domino_resources(client, label=label)

    def remove(container: Any) -> str | None:
        try:
            container.remove(force=True, v=True)
        except errors.NotFound:
            return None
        return f"container {container.name}"

    # Each removal kills and waits for one container; together they take as long as one.
    if containers:
        with ThreadPoolExecutor(max_workers=min(8, len(containers))) as pool:
            removed += [name for name in pool.map(remove, containers) if name]
    for network in networks:
        try:
            network.remove()
            removed.append(f"network {network.name}")
        except errors.NotFound:
            continue
        except errors.APIError as exc:  # still in use by a container of someone else's
            removed.append(f"network {network.name} kept: {exc.explanation}")
    return removed


def reconcile_docker(client: Any | None = None) -> list[str]:
    """Remove containers and networks whose owner process is gone; return what was removed.

    Containers and networks without an owner (``docker compose up`` by hand)
    and those of live owners are left alone.
    """
    client = client if client is not None else _connect()
    removed = []
    containers, networks = domino_resources(client, label=LABEL_OWNER)
    owners = {_labels_of(resource).get(LABEL_OWNER, "") for resource in (*containers, *networks)}
    dead = {owner for owner in owners if owner and _owner_gone(owner)}
    for owner in sorted(dead):
        removed += _remove_labelled(client, f"{LABEL_OWNER}={owner}")
    # Run records of killed docker runs (``domino fault`` reads live ones).
    reconcile(_BACKEND)
    return removed


def _labels_of(resource: Any) -> dict[str, str]:
    """Labels of a container (``.labels``) or a network (``attrs["Labels"]``)."""
    labels = getattr(resource, "labels", None)
    if labels is None:
        labels = resource.attrs.get("Labels")
    return dict(labels or {})


# -- images and the network ------------------------------------------------------------------

#: The label docker/build-images.sh puts on the services' image.
_DIGEST_LABEL = "org.domino.services-digest"


def services_digest(root: Path | None = None) -> str:
    """A digest of the services' Python source, as docker/build-images.sh computes it.

    ``root`` is the folder that holds ``services/`` (default: where the
    ``services`` package is imported from). The digest is sha256 over the
    ``sha256sum`` lines of every ``services/**/*.py``, sorted by path.
    """
    if root is None:
        import services

        root = Path(services.__file__).resolve().parent.parent
    files = sorted(
        path.relative_to(root).as_posix()
        for path in (root / "services").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    lines = "".join(
        f"{hashlib.sha256((root / rel).read_bytes()).hexdigest()}  {rel}\n" for rel in files
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def _check_services_source(client: Any, image: str) -> None:
    """Refuse an image built from other services code than the code this harness has."""
    built_from = client.images.get(image).labels.get(_DIGEST_LABEL)
    if built_from and built_from != services_digest():
        raise DockerImageStaleError(
            f"image {image} was built from other services code than this checkout's "
            f"(services/ changed since); {BUILD_HINT}"
        )


def _require_images(client: Any, images: list[str]) -> None:
    errors = _sdk().errors
    missing = []
    for image in images:
        try:
            client.images.get(image)
        except errors.ImageNotFound:
            missing.append(image)
        except errors.APIError as exc:
            raise DockerUnavailableError(
                f"the Docker engine failed to look up {image}: {exc}"
            ) from None
    if missing:
        raise DockerImageMissingError(
            f"image{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in the Docker "
            f"engine; {BUILD_HINT}, or `docker pull` them where a registry is reachable"
        )


def _create_network(client: Any, name: str, labels: Mapping[str, str]) -> tuple[Any, list[str]]:
    """A bridge network with a fixed subnet; returns it and addresses free for containers.

    A fixed subnet lets each container keep its address when a Crash restarts
    it (the engine only keeps addresses it was given explicitly). The subnet
    is the one the engine chooses for a probe network, so it avoids the
    host's routes and every other network the same way automatic ones do.
    """
    docker = _sdk()
    last_error = ""
    for _attempt in range(3):
        probe = client.networks.create(f"{name}-probe", driver="bridge", labels=dict(labels))
        try:
            probe.reload()
            pool = probe.attrs["IPAM"]["Config"][0]
        finally:
            probe.remove()
        subnet = ipaddress.ip_network(pool["Subnet"])
        gateway = pool.get("Gateway") or str(next(subnet.hosts()))
        try:
            network = client.networks.create(
                name,
                driver="bridge",
                labels=dict(labels),
                ipam=docker.types.IPAMConfig(
                    pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)]
                ),
            )
        except docker.errors.APIError as exc:  # another network took the subnet meanwhile
            last_error = str(exc.explanation)
            continue
        addresses = []
        for host in subnet.hosts():
            if str(host) != gateway:
                addresses.append(str(host))
            if len(addresses) >= 64:
                break
        return network, addresses
    raise StackError(f"could not create Docker network {name}: {last_error}")


# -- containers ------------------------------------------------------------------------------


def _healthcheck(test: list[str]) -> dict[str, Any]:
    """The engine's health check, for ``docker ps`` only: the harness polls health itself.

    Rarely, because each check starts a Python process in the container, and
    on a small machine frequent checks show up in the latencies measured.
    """
    second_ns = 1_000_000_000
    return {"test": test, "interval": 30 * second_ns, "timeout": 5 * second_ns, "retries": 3}


def _logs(container: Any, lines: int = 15) -> str:
    try:
        text = container.logs(tail=lines).decode(errors="replace").strip()
    except _sdk().errors.DockerException:
        return "(no logs)"
    return text or "(no output)"


def _exited(container: Any) -> Callable[[], str | None]:
    """An abort check for :func:`wait_until`: a reason once the container has stopped.

    Asks the engine at most every ``_EXIT_CHECK_INTERVAL_S``.
    """
    not_found = _sdk().errors.NotFound
    last = [0.0]

    def check() -> str | None:
        now = time.monotonic()
        if now - last[0] < _EXIT_CHECK_INTERVAL_S:
            return None
        last[0] = now
        try:
            container.reload()
        except not_found:
            return f"container {container.name} is gone"
        status = container.status
        if status in ("exited", "dead"):
            code = container.attrs.get("State", {}).get("ExitCode")
            return f"container {container.name} {status} (exit code {code})"
        return None

    return check


def _host_port(container: Any, port: int) -> int:
    bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostIp") in (_LOOPBACK, "", "0.0.0.0"):  # noqa: S104 - reading, not binding
            return int(binding["HostPort"])
    raise StackError(f"container {container.name} has no published port for {port}/tcp")


def _wait_healthy(container: Any, url: str, timeout_s: float, what: str) -> None:
    wait_healthy(
        url,
        timeout_s=timeout_s,
        what=what,
        abort=_exited(container),
        logs=lambda: f"last lines of `docker logs {container.name}`:\n{_logs(container)}",
    )


class ContainerFaultApplier:
    """Applies process faults to the services' containers (``injector.register``).

    ``crash``: SIGKILL, and ``docker start`` when the scope ends (then waits
    until healthy); ``pause``: ``docker pause`` / ``unpause``. Kinds are
    matched by name, so ``stop`` (SIGTERM, start again at the end) and
    ``restart`` (a restart now, nothing to undo) work as soon as the fault
    vocabulary has them.
    """

    def __init__(
        self,
        containers: Mapping[str, Any],
        health_urls: Mapping[str, str],
        *,
        ready_timeout_s: float,
    ) -> None:
        self._containers = dict(containers)
        self._health = dict(health_urls)
        self._ready_timeout_s = ready_timeout_s

    def _container(self, service: str) -> Any:
        if service not in self._containers:
            raise UnknownServiceError(service, sorted(self._containers))
        return self._containers[service]

    def _wait_down(self, container: Any) -> None:
        def stopped() -> bool:
            container.reload()
            return bool(container.status in ("exited", "dead"))

        wait_until(stopped, timeout_s=30, interval_s=0.05, what=f"{container.name} to stop")

    def wait_healthy(self, service: str) -> None:
        """Block until ``service`` answers its health check again."""
        container = self._container(service)
        _wait_healthy(container, self._health[service], self._ready_timeout_s, service)

    def apply(self, fault: ProcessFault) -> tuple[str, str]:
        """Kill, stop, pause or restart the service's container; return (service, kind)."""
        container = self._container(fault.service)
        try:
            if fault.kind == "crash":
                container.kill(signal="SIGKILL")
                self._wait_down(container)
            elif fault.kind == "stop":
                container.stop(timeout=10)
            elif fault.kind == "pause":
                container.pause()
            elif fault.kind == "restart":
                container.restart(timeout=10)
                self.wait_healthy(fault.service)
            else:
                raise FaultSpecError(f"the docker backend cannot apply {fault.describe()}")
        except (_sdk().errors.DockerException, ReadinessTimeoutError) as exc:
            raise FaultRemovalError(f"could not apply {fault.describe()}: {exc}") from exc
        return fault.service, fault.kind

    def remove(self, target: str, handle: str) -> None:
        """Undo: start a crashed or stopped container (and wait until healthy), or unpause."""
        container = self._container(target)
        try:
            container.reload()
            if handle in ("crash", "stop") and container.status != "running":
                container.start()
                self.wait_healthy(target)
            elif handle == "pause" and container.status == "paused":
                container.unpause()
        except (_sdk().errors.DockerException, StackError) as exc:
            raise FaultRemovalError(f"could not undo {handle} of {target}: {exc}") from exc

    def restore_all(self) -> None:
        """Every container running and not paused (what :meth:`Stack.reset` needs)."""
        for service in self._containers:
            self.remove(service, "pause")
            self.remove(service, "crash")

    def held(self) -> list[str]:
        """Containers that are not running normally."""
        found = []
        for service, container in self._containers.items():
            container.reload()
            if container.status != "running":
                found.append(f"container of {service} is {container.status}")
        return found


class _DockerInjector(Injector):
    """An Injector that also restores and reports the services' containers."""

    def __init__(self, containers: ContainerFaultApplier, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._containers = containers
        self.register(ProcessFault, containers)

    def clear(self) -> None:
        self._containers.restore_all()
        super().clear()

    def leftovers(self) -> list[str]:
        """Containers not running normally, then what :class:`Injector` reports.

        A paused or stopped service cannot answer for its admin rules (the
        call would hang), so while any container is held only Toxiproxy is
        asked besides; the run is reported as having leftovers either way.
        """
        held = self._containers.held()
        if not held:
            return super().leftovers()
        for name, proxy in self.toxiproxy.proxies().items():
            if not proxy.enabled:
                held.append(f"proxy {name} disabled")
            held += [f"toxic {t.name} on {name}" for t in proxy.toxics]
        return held


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


def preflight(
    *, services_image: str = SERVICES_IMAGE, toxiproxy_image: str = TOXIPROXY_IMAGE
) -> None:
    """Raise the error :func:`docker_stack` would raise before starting anything, if any.

    DockerUnavailableError (no engine), DockerImageMissingError (images not
    built) or DockerImageStaleError (built from other services code).
    """
    client = _connect(timeout_s=10.0)
    try:
        _require_images(client, [toxiproxy_image, services_image])
        _check_services_source(client, services_image)
    finally:
        client.close()


# -- the stack -------------------------------------------------------------------------------


class _Run:
    """The containers of one run on its own network, created but not yet started."""

    def __init__(self, client: Any, topology: Topology, labels: Mapping[str, str]) -> None:
        self.client = client
        self.topology = topology
        self.labels = dict(labels)
        self.prefix = f"domino-{labels[LABEL_RUN]}"
        self.listeners = edge_listeners(topology)
        self.entry = self.listeners[topology.entry_edge.name]
        self.network, addresses = _create_network(client, self.prefix, labels)
        names = [TOXIPROXY_HOST, *topology.service_names]
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

    def create(self, toxiproxy_image: str, services_image: str, env: Mapping[str, str]) -> None:
        """Create Toxiproxy's container and one per service (nothing runs yet)."""
        self.toxiproxy = self._create(
            toxiproxy_image,
            TOXIPROXY_HOST,
            command=toxiproxy_command(config=False),
            # Only the API and the client edge leave the network, on loopback,
            # on ports the engine picks so that runs never clash.
            ports={
                f"{TOXIPROXY_API_PORT}/tcp": (_LOOPBACK, None),
                f"{self.entry.port}/tcp": (_LOOPBACK, None),
            },
            healthcheck=_healthcheck(toxiproxy_healthcheck()),
        )
        for service in self.topology.services:
            self.services[service.name] = self._create(
                services_image,
                service.name,
                command=service_command(service),
                environment={**env, **service_environment(self.topology, service.name)},
                healthcheck=_healthcheck(service_healthcheck(service)),
            )

    def start(self) -> None:
        """Start every container; each start is an engine round trip, so do them together."""
        everything = [self.toxiproxy, *self.services.values()]
        with ThreadPoolExecutor(max_workers=len(everything)) as pool:
            list(pool.map(lambda container: container.start(), everything))
        self.toxiproxy.reload()

    def toxiproxy_client(self, ready_timeout_s: float) -> ToxiproxyClient:
        """A client for the published API, once it answers."""
        api_url = f"http://{_LOOPBACK}:{_host_port(self.toxiproxy, TOXIPROXY_API_PORT)}"
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
                f"{_logs(self.toxiproxy, 5)}"
            ) from None
        return client

    def create_proxies(self, client: ToxiproxyClient) -> dict[str, EdgeEndpoint]:
        """One proxy per edge; ``listen`` is where the harness reaches it."""
        edges = {}
        for name, listener in self.listeners.items():
            client.create_proxy(listener.edge.proxy_name, listener.upstream, listener.listen)
            if name == self.entry.edge.name:
                reachable = f"{_LOOPBACK}:{_host_port(self.toxiproxy, listener.port)}"
            else:
                reachable = f"{self.address_of[TOXIPROXY_HOST]}:{listener.port}"
            edges[name] = EdgeEndpoint(listener.edge.proxy_name, reachable, listener.upstream)
        return edges

    def service_urls(self) -> dict[str, str]:
        """Each service's direct URL on the run's network (health and admin calls)."""
        return {
            name: f"http://{self.address_of[name]}:{SERVICE_PORT}"
            for name in self.topology.service_names
        }

    def container_names(self) -> dict[str, str]:
        return {
            TOXIPROXY_HOST: self.toxiproxy.name,
            **{name: container.name for name, container in self.services.items()},
        }


@contextmanager
def docker_stack(
    topology: Topology,
    *,
    profile: str = "fragile",
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    ready_timeout_s: float = 60.0,
    services_image: str = SERVICES_IMAGE,
    toxiproxy_image: str = TOXIPROXY_IMAGE,
    check_source: bool = True,
) -> Iterator[Stack]:
    """Bring ``topology`` up as containers; remove every container and the network on exit.

    ``ready_timeout_s`` bounds each wait for Toxiproxy and for each service's
    health. The images must already be in the engine (:data:`BUILD_HINT`);
    nothing is pulled. With ``check_source``, an image that docker/build-images.sh
    built from other services code than this checkout's is refused
    (:class:`DockerImageStaleError`), so tests never run stale services.
    """
    say = progress or (lambda _msg: None)
    knob_values = check_profile(profile, knobs)
    with contextlib.closing(_connect()) as client:
        left = reconcile_docker(client)
        if left:
            say("removed what a killed run left: " + ", ".join(left))
        _require_images(client, [toxiproxy_image, services_image])
        if check_source:
            _check_services_source(client, services_image)
        with _terminate_gracefully():
            yield from _run_stack(
                client,
                topology,
                profile=profile,
                knob_values=knob_values,
                say=say,
                ready_timeout_s=ready_timeout_s,
                services_image=services_image,
                toxiproxy_image=toxiproxy_image,
            )


def _run_stack(
    client: Any,
    topology: Topology,
    *,
    profile: str,
    knob_values: dict[str, Any],
    say: Callable[[str], None],
    ready_timeout_s: float,
    services_image: str,
    toxiproxy_image: str,
) -> Iterator[Stack]:
    """The body of :func:`docker_stack` once the engine and images are known to be there."""
    run_id = secrets.token_hex(4)
    labels = {LABEL_MANAGED: "true", LABEL_OWNER: owner_label(), LABEL_RUN: run_id}
    record = RunRecord(_BACKEND, extra={"run": run_id})
    try:
        record.save()
        say(f"creating network domino-{run_id}")
        run = _Run(client, topology, labels)
        admin_token = secrets.token_urlsafe(24)
        env = {
            "DOMINO_PROFILE": profile,
            "DOMINO_KNOBS": json.dumps(knob_values),
            "DOMINO_ADMIN_TOKEN": admin_token,
            "DOMINO_TOKEN_SECRET": secrets.token_urlsafe(24),
        }
        run.create(toxiproxy_image, services_image, env)
        say("starting Toxiproxy and " + ", ".join(topology.service_names))
        run.start()
        proxy_client = run.toxiproxy_client(ready_timeout_s)
        edges = run.create_proxies(proxy_client)
        direct = run.service_urls()
        health = {s.name: direct[s.name] + s.health_path for s in topology.services}
        for service in topology.services:
            say(f"waiting for {service.name}")
            _wait_healthy(
                run.services[service.name],
                health[service.name],
                ready_timeout_s,
                f"service {service.name}",
            )
        say("stack ready")
        faults = ContainerFaultApplier(run.services, health, ready_timeout_s=ready_timeout_s)
        stack = Stack(
            backend=_BACKEND,
            topology=topology,
            profile=profile,
            toxiproxy=proxy_client,
            toxiproxy_version=proxy_client.version(),
            services=direct,
            edges=edges,
            admin_token=admin_token,
            injector=_DockerInjector(
                faults,
                topology=topology,
                toxiproxy=proxy_client,
                proxies={name: e.proxy for name, e in edges.items()},
                admin_urls=direct,
                admin_token=admin_token,
            ),
            extra={
                "run": run_id,
                "network": run.network.name,
                "containers": run.container_names(),
                # The project's own hosts, for harness.network_safety.check_target.
                "hosts": sorted(run.address_of.values()),
                "knobs": knob_values,
            },
        )
        record.extra["stack"] = describe_for_record(stack)
        record.save()
        yield stack
    finally:
        removed = _remove_labelled(client, f"{LABEL_RUN}={run_id}")
        record.discard()
        kept = [item for item in removed if " kept: " in item]
        if kept and sys.exc_info()[0] is None:
            raise StackError("could not remove " + "; ".join(kept))
