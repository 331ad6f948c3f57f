"""The services' containers: health, logs, and the process faults applied to them.

Container faults: :class:`~harness.faults.Crash` kills the service's
container (SIGKILL) and starts it again when the scope ends, waiting until it
is ready; :class:`~harness.faults.Pause` freezes it (``docker pause``) and
unpauses it at the end; :class:`~harness.faults.Stop` stops it gracefully and
starts it at the end; :class:`~harness.faults.Restart` restarts it once.
Services keep fixed addresses in the run's network, so a restarted container
answers where it did before. A container that exits while it is not down on
purpose is a death (:meth:`ContainerControl.deaths`): its exit code, finish
time and log tail, recorded before anything starts it again.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.backends.docker.engine import sdk
from harness.contracts import ServiceDeath
from harness.errors import FaultRemovalError, StackError, UnknownServiceError
from harness.infra.readiness import ReadinessTimeoutError, wait_ready, wait_until
from harness.model.topology import Service

__all__ = [
    "ContainerControl",
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


class ContainerControl:
    """The docker backend's :class:`~harness.contracts.ServiceControl`: the services' containers.

    A crash is SIGKILL; a stop is SIGTERM (``docker stop``); a start starts a
    container that is not running and waits until it is ready; a pause is
    ``docker pause``. Engine errors become :class:`FaultRemovalError`. A
    container that exited while not down on purpose (killed, stopped or
    restarted here) is a death, recorded once (:meth:`deaths`).
    """

    backend = "docker"

    def __init__(
        self,
        containers: Mapping[str, Any],
        services: Mapping[str, Service],
        base_urls: Mapping[str, str],
    ) -> None:
        self._containers = dict(containers)
        self._services = dict(services)
        self._urls = dict(base_urls)
        # As in the local backend: down on purpose until started; dead until started.
        self._down_on_purpose: set[str] = set()
        self._dead: set[str] = set()
        self._deaths: list[ServiceDeath] = []
        self._lock = threading.Lock()

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

    def _engine(self, what: str, service: str, action: Callable[[Any], None]) -> None:
        container = self._container(service)
        try:
            action(container)
        except (sdk().errors.DockerException, ReadinessTimeoutError, StackError) as exc:
            raise FaultRemovalError(f"could not {what} the container of {service}: {exc}") from exc

    def _on_purpose(self, service: str) -> None:
        self._container(service)  # an unknown service is refused before it is marked
        with self._lock:
            self._down_on_purpose.add(service)

    def _started(self, service: str) -> None:
        with self._lock:
            self._down_on_purpose.discard(service)
            self._dead.discard(service)

    def kill(self, service: str) -> None:
        self._on_purpose(service)

        def kill(container: Any) -> None:
            container.kill(signal="SIGKILL")
            self._wait_down(container)

        self._engine("kill", service, kill)

    def stop(self, service: str) -> None:
        self._on_purpose(service)
        self._engine("stop", service, lambda c: c.stop(timeout=10))

    def start(self, service: str) -> None:
        def start(container: Any) -> None:
            container.reload()
            if container.status != "running":
                container.start()
                self.wait_healthy(service)

        self._engine("start", service, start)
        self._started(service)

    def pause(self, service: str) -> None:
        self._engine("pause", service, lambda c: c.pause())

    def resume(self, service: str) -> None:
        def resume(container: Any) -> None:
            container.reload()
            if container.status == "paused":
                container.unpause()

        self._engine("unpause", service, resume)

    def restart(self, service: str) -> None:
        self._on_purpose(service)

        def restart(container: Any) -> None:
            container.restart(timeout=10)
            self.wait_healthy(service)

        self._engine("restart", service, restart)
        self._started(service)

    def restore_all(self) -> list[str]:
        """Every container running and not paused (what :meth:`Stack.reset` needs).

        A container that died unasked is recorded as a death first (:meth:`deaths`).
        """
        self._look()
        restored = []
        for service in self._containers:
            was_held = bool(self._held(service))
            self.resume(service)
            self.start(service)
            if was_held:
                restored.append(service)
        return restored

    def _held(self, service: str) -> str | None:
        container = self._containers[service]
        container.reload()
        if container.status != "running":
            return f"container of {service} is {container.status}"
        return None

    def held(self) -> list[str]:
        """Containers that are not running normally."""
        return [line for service in self._containers if (line := self._held(service))]

    def deaths(self) -> list[ServiceDeath]:
        """Look at every container now; every death seen so far, oldest first."""
        self._look()
        with self._lock:
            return list(self._deaths)

    def _look(self) -> None:
        """Record each container that has exited while not down on purpose, once."""
        for service, container in self._containers.items():
            with self._lock:
                if service in self._down_on_purpose or service in self._dead:
                    continue
            try:
                container.reload()
            except sdk().errors.NotFound:
                death = ServiceDeath(service, time.monotonic(), None, "its container is gone")
            except sdk().errors.DockerException:
                continue  # the engine did not answer: nothing seen, looked at again next time
            else:
                if container.status not in ("exited", "dead"):
                    continue
                death = _death_of(service, container)
            with self._lock:
                if service in self._down_on_purpose or service in self._dead:
                    continue  # brought down on purpose meanwhile
                self._dead.add(service)
                self._deaths.append(death)


def _death_of(service: str, container: Any) -> ServiceDeath:
    """An exited container as a death: its exit code, when it finished, its last log lines."""
    seen = time.monotonic()
    state = container.attrs.get("State", {})
    code = state.get("ExitCode")
    code = code if isinstance(code, int) else None
    status = "exit code unknown" if code is None else f"exited with code {code}"
    if code is not None and code > 128:
        status += f" (128 + signal {code - 128})"
    if state.get("OOMKilled"):
        status += ", killed for lack of memory (OOM)"
    finished = _engine_time(state.get("FinishedAt"))
    exited = None
    if finished is not None:
        exited = min(seen, seen - (dt.datetime.now(dt.UTC) - finished).total_seconds())
    tail = tuple(container_logs(container, lines=15).splitlines())
    return ServiceDeath(service, seen, code, status, tail, exited)


def _engine_time(text: object) -> dt.datetime | None:
    """The engine's RFC 3339 time (nanoseconds, ``Z``) as an aware datetime; None if unset."""
    if not isinstance(text, str) or text.startswith("0001-"):
        return None
    stamp, _, fraction = text.rstrip("Z").partition(".")
    try:
        when = dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    digits = "".join(c for c in fraction if c.isdigit())[:6]
    return when + dt.timedelta(microseconds=int(digits.ljust(6, "0"))) if digits else when
