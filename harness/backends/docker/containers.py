"""The services' containers: health, logs, and the process faults applied to them.

Container faults: :class:`~harness.faults.Crash` kills the service's
container (SIGKILL) and starts it again when the scope ends, waiting until it
is ready; :class:`~harness.faults.Pause` freezes it (``docker pause``) and
unpauses it at the end; :class:`~harness.faults.Stop` stops it gracefully and
starts it at the end; :class:`~harness.faults.Restart` restarts it once.
Services keep fixed addresses in the run's network, so a restarted container
answers where it did before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.backends.docker.engine import sdk
from harness.errors import FaultRemovalError, StackError, UnknownServiceError, UnsupportedFaultError
from harness.infra.readiness import ReadinessTimeoutError, wait_ready, wait_until
from harness.model.faults import Crash, Pause, ProcessFault, Restart, Stop
from harness.model.topology import Service
from harness.stack.injection import Injector

__all__ = [
    "ContainerFaultApplier",
    "DockerInjector",
    "container_logs",
    "engine_healthcheck",
    "host_port",
    "wait_container_ready",
]

_LOOPBACK = "127.0.0.1"
#: How often a wait checks whether a container has exited (each check is an API call).
_EXIT_CHECK_INTERVAL_S = 0.5


def engine_healthcheck(test: list[str]) -> dict[str, Any]:
    """The engine's health check, for ``docker ps`` only: the harness polls health itself.

    Rarely, because each check starts a Python process in the container, and
    on a small machine frequent checks show up in the latencies measured.
    """
    second_ns = 1_000_000_000
    return {"test": test, "interval": 30 * second_ns, "timeout": 5 * second_ns, "retries": 3}


def container_logs(container: Any, lines: int = 15) -> str:
    try:
        text = container.logs(tail=lines).decode(errors="replace").strip()
    except sdk().errors.DockerException:
        return "(no logs)"
    return text or "(no output)"


def _exited(container: Any) -> Callable[[], str | None]:
    """An abort check for :func:`wait_until`: a reason once the container has stopped.

    Asks the engine at most every ``_EXIT_CHECK_INTERVAL_S``.
    """
    not_found = sdk().errors.NotFound
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


def host_port(container: Any, port: int) -> int:
    bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostIp") in (_LOOPBACK, "", "0.0.0.0"):  # noqa: S104 - reading, not binding
            return int(binding["HostPort"])
    raise StackError(f"container {container.name} has no published port for {port}/tcp")


def wait_container_ready(container: Any, service: Service, base_url: str) -> None:
    """Wait for ``service`` in ``container`` by its readiness strategy."""
    wait_ready(
        service.ready,
        base_url=base_url,
        what=f"service {service.name}",
        abort=_exited(container),
        logs=lambda: f"last lines of `docker logs {container.name}`:\n{container_logs(container)}",
        output=lambda: container_logs(container, lines=200),
        allowed_hosts=(base_url.split("//", 1)[1].rsplit(":", 1)[0],),
    )


class ContainerFaultApplier:
    """Applies process faults to the services' containers (``injector.register``).

    ``crash``: SIGKILL, and ``docker start`` when the scope ends (then waits
    until ready); ``pause``: ``docker pause`` / ``unpause``; ``stop``: SIGTERM,
    started again at the end; ``restart``: a restart now, nothing to undo.
    """

    def __init__(
        self,
        containers: Mapping[str, Any],
        services: Mapping[str, Service],
        base_urls: Mapping[str, str],
    ) -> None:
        self._containers = dict(containers)
        self._services = dict(services)
        self._urls = dict(base_urls)

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
        wait_container_ready(container, self._services[service], self._urls[service])

    def apply(self, fault: ProcessFault) -> tuple[str, str]:
        """Kill, stop, pause or restart the service's container; return (service, kind)."""
        container = self._container(fault.service)
        try:
            if isinstance(fault, Crash):
                container.kill(signal="SIGKILL")
                self._wait_down(container)
            elif isinstance(fault, Stop):
                container.stop(timeout=10)
            elif isinstance(fault, Pause):
                container.pause()
            elif isinstance(fault, Restart):
                container.restart(timeout=10)
                self.wait_healthy(fault.service)
            else:
                raise UnsupportedFaultError(f"the docker backend cannot apply {fault.describe()}")
        except (sdk().errors.DockerException, ReadinessTimeoutError) as exc:
            raise FaultRemovalError(f"could not apply {fault.describe()}: {exc}") from exc
        return fault.service, fault.kind

    def remove(self, target: str, handle: str) -> None:
        """Undo: start a crashed or stopped container (and wait until healthy), or unpause."""
        container = self._container(target)
        try:
            container.reload()
            if handle in (Crash.kind, Stop.kind) and container.status != "running":
                container.start()
                self.wait_healthy(target)
            elif handle == Pause.kind and container.status == "paused":
                container.unpause()
        except (sdk().errors.DockerException, StackError) as exc:
            raise FaultRemovalError(f"could not undo {handle} of {target}: {exc}") from exc

    def restore_all(self) -> None:
        """Every container running and not paused (what :meth:`Stack.reset` needs)."""
        for service in self._containers:
            self.remove(service, Pause.kind)
            self.remove(service, Crash.kind)

    def held(self) -> list[str]:
        """Containers that are not running normally."""
        found = []
        for service, container in self._containers.items():
            container.reload()
            if container.status != "running":
                found.append(f"container of {service} is {container.status}")
        return found


class DockerInjector(Injector):
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
            held += [f"toxic {t.name} ({t.type}, {t.stream}) on {name}" for t in proxy.toxics]
        return held
