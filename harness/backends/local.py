"""The local backend: Toxiproxy and the services as processes on loopback.

Start order: reconcile what a killed run left, start Toxiproxy on a free
port, bind one listening socket per service (so ports are known before any
process starts and cannot be taken meanwhile), create one proxy per edge
pointing at those sockets, then start each service with its dependencies'
addresses set to the proxies' listeners. Every call between services
therefore crosses Toxiproxy. Teardown runs in reverse on every path.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.attach import describe_for_record
from harness.errors import (
    FaultSpecError,
    PortInUseError,
    ToxiproxyError,
    UnknownServiceError,
)
from harness.faults import ProcessFault
from harness.home import domino_home
from harness.injection import Injector
from harness.processes import ManagedProcess, spawn
from harness.profiles import check_profile
from harness.readiness import ReadinessTimeoutError, wait_healthy, wait_until
from harness.runstate import RunRecord, reconcile
from harness.stack import EdgeEndpoint, Stack
from harness.topology import Topology
from harness.toxiproxy.binary import find_toxiproxy
from harness.toxiproxy.client import ToxiproxyClient

__all__ = ["local_stack"]

_LOOPBACK = "127.0.0.1"


def _bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((_LOOPBACK, port))
    except OSError as exc:
        sock.close()
        raise PortInUseError(f"cannot listen on {_LOOPBACK}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _exited(process: ManagedProcess) -> Callable[[], str | None]:
    """An abort check for :func:`wait_until`: a reason once the process has exited."""

    def check() -> str | None:
        return None if process.alive() else f"{process.name} exited"

    return check


def _service_envs(
    topology: Topology,
    edges: Mapping[str, EdgeEndpoint],
    *,
    run_dir: Path,
    profile: str,
    knob_values: Mapping[str, Any],
    admin_token: str,
) -> dict[str, dict[str, str]]:
    """Each service's environment: its dependencies point at the edges' proxy listeners."""
    shared_env = {
        **os.environ,
        "DOMINO_PROFILE": profile,
        "DOMINO_KNOBS": json.dumps(dict(knob_values)),
        "DOMINO_ADMIN_TOKEN": admin_token,
        "DOMINO_TOKEN_SECRET": secrets.token_urlsafe(24),
        "PYTHONUNBUFFERED": "1",
    }
    envs = {}
    for service in topology.services:
        env = dict(shared_env)
        env["DOMINO_SERVICE"] = service.name
        env["DOMINO_DATA_DIR"] = str(run_dir / "data" / service.name)
        for dep in topology.dependencies_of(service.name):
            env[f"DOMINO_DEP_{dep.target.upper()}"] = f"http://{edges[dep.name].listen}"
            env[f"DOMINO_EDGE_{dep.target.upper()}"] = dep.name
        envs[service.name] = env
    return envs


def _log_hint(process: ManagedProcess) -> str:
    return f"last lines of {process.log_path}:\n{process.log_tail()}"


class _LocalServices:
    """The services' processes by name: started, and crashed, paused or restarted as faults.

    Also the injector's applier for :class:`~harness.faults.ProcessFault`: a
    crash is SIGKILL and, when the fault ends, a restart on the same port and
    data folder (so durable storage is really tested); a pause is SIGSTOP /
    SIGCONT.
    """

    def __init__(
        self,
        topology: Topology,
        *,
        run_dir: Path,
        record: RunRecord,
        envs: Mapping[str, dict[str, str]],
        ports: Mapping[str, int],
        ready_timeout_s: float,
    ) -> None:
        self._topology = topology
        self._run_dir = run_dir
        self._record = record
        self._envs = envs
        self._ports = ports
        self._ready_timeout_s = ready_timeout_s
        self.running: dict[str, ManagedProcess] = {}

    def start(self, name: str, sock: socket.socket | None = None) -> ManagedProcess:
        """Start a service on its port; ``sock`` is its already bound socket, if any."""
        sock = sock or _bound_socket(self._ports[name])
        try:
            env = dict(self._envs[name], DOMINO_LISTEN_FD=str(sock.fileno()))
            process = spawn(
                name,
                [sys.executable, "-m", self._topology.service(name).module],
                log_path=self._run_dir / f"{name}.log",
                env=env,
                pass_fds=[sock.fileno()],
            )
        finally:
            sock.close()  # the child holds its own copy
        self.running[name] = process
        self._record.add_process(name, process.pid)
        return process

    def wait_healthy(self, names: list[str] | None = None) -> None:
        for name in names or list(self.running):
            process = self.running[name]
            service = self._topology.service(name)
            wait_healthy(
                f"http://{_LOOPBACK}:{self._ports[name]}{service.health_path}",
                timeout_s=self._ready_timeout_s,
                what=f"service {name}",
                abort=_exited(process),
                logs=functools.partial(_log_hint, process),
            )

    def stop_all(self) -> None:
        for process in reversed(list(self.running.values())):
            process.stop()

    # -- FaultApplier for Crash and Pause ---------------------------------------------

    def apply(self, fault: ProcessFault) -> tuple[str, str]:
        process = self.running.get(fault.service)
        if process is None:
            raise UnknownServiceError(fault.service, sorted(self.running))
        if fault.kind == "pause":
            os.kill(process.pid, signal.SIGSTOP)
        elif fault.kind == "crash":
            process.popen.kill()
            process.popen.wait(timeout=10)
        elif fault.kind in ("stop", "restart"):
            process.stop()
            if fault.kind == "restart":
                self.start(fault.service)
                self.wait_healthy([fault.service])
        else:
            raise FaultSpecError(f"the local backend cannot apply {fault.describe()}")
        return fault.service, fault.kind

    def remove(self, target: str, handle: str) -> None:
        if handle == "pause":
            os.kill(self.running[target].pid, signal.SIGCONT)
        elif handle in ("crash", "stop"):
            self.start(target)
            self.wait_healthy([target])


def _remove_run_dir(record: RunRecord) -> None:
    run_dir = record.extra.get("run_dir")
    if run_dir and not record.extra.get("keep_data"):
        shutil.rmtree(run_dir, ignore_errors=True)


def _start_toxiproxy(
    binary: Path, run_dir: Path, record: RunRecord, ready_timeout_s: float
) -> tuple[ManagedProcess, ToxiproxyClient]:
    """Start Toxiproxy on a free port, retrying if another process takes the port first."""
    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        process = spawn(
            "toxiproxy",
            [str(binary), "-host", _LOOPBACK, "-port", str(port), "-proxy-metrics"],
            log_path=run_dir / "toxiproxy.log",
        )
        record.add_process("toxiproxy", process.pid)
        client = ToxiproxyClient(f"http://{_LOOPBACK}:{port}", timeout_s=5.0)
        try:
            wait_until(
                client.reachable,
                timeout_s=ready_timeout_s,
                what="Toxiproxy API",
                abort=_exited(process),
            )
        except ReadinessTimeoutError as exc:
            process.stop()
            last_error = f"{exc}; log: {process.log_tail(5)}"
            if "address already in use" in process.log_tail(20):
                continue
            raise ToxiproxyError(f"Toxiproxy did not start: {last_error}") from None
        return process, client
    raise PortInUseError(f"Toxiproxy could not bind a free port in 3 tries: {last_error}")


@contextmanager
def local_stack(
    topology: Topology,
    *,
    profile: str = "fragile",
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    toxiproxy_bin: str | Path | None = None,
    ready_timeout_s: float = 30.0,
    keep_data: bool = False,
) -> Iterator[Stack]:
    """Bring ``topology`` up as local processes; tear everything down on exit."""
    say = progress or (lambda _msg: None)
    knob_values = check_profile(profile, knobs)
    reconcile("local", extra_cleanup=_remove_run_dir)
    binary = find_toxiproxy(toxiproxy_bin)
    run_dir = domino_home() / "local" / f"run-{os.getpid()}-{int(time.time() * 1000)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    record = RunRecord("local", extra={"run_dir": str(run_dir), "keep_data": keep_data})
    record.save()
    processes: list[ManagedProcess] = []
    sockets: dict[str, socket.socket] = {}
    services: _LocalServices | None = None
    try:
        say("starting Toxiproxy")
        toxiproxy_process, client = _start_toxiproxy(binary, run_dir, record, ready_timeout_s)
        processes.append(toxiproxy_process)
        version = client.version()

        sockets = {service.name: _bound_socket() for service in topology.services}
        ports = {name: int(sock.getsockname()[1]) for name, sock in sockets.items()}
        direct = {name: f"http://{_LOOPBACK}:{port}" for name, port in ports.items()}
        edges: dict[str, EdgeEndpoint] = {}
        for edge in topology.edges:
            upstream = f"{_LOOPBACK}:{ports[edge.target]}"
            proxy = client.create_proxy(edge.proxy_name, upstream, f"{_LOOPBACK}:0")
            edges[edge.name] = EdgeEndpoint(edge.proxy_name, proxy.listen, upstream)

        admin_token = secrets.token_urlsafe(24)
        envs = _service_envs(
            topology,
            edges,
            run_dir=run_dir,
            profile=profile,
            knob_values=knob_values,
            admin_token=admin_token,
        )
        services = _LocalServices(
            topology,
            run_dir=run_dir,
            record=record,
            envs=envs,
            ports=ports,
            ready_timeout_s=ready_timeout_s,
        )
        for service in topology.services:
            say(f"starting {service.name}")
            services.start(service.name, sockets.pop(service.name))
        services.wait_healthy()
        say("stack ready")

        injector = Injector(
            topology=topology,
            toxiproxy=client,
            proxies={name: e.proxy for name, e in edges.items()},
            admin_urls=direct,
            admin_token=admin_token,
        )
        injector.register(ProcessFault, services)
        stack = Stack(
            backend="local",
            topology=topology,
            profile=profile,
            toxiproxy=client,
            toxiproxy_version=version,
            services=direct,
            edges=edges,
            admin_token=admin_token,
            injector=injector,
            extra={"run_dir": str(run_dir), "knobs": knob_values},
        )
        record.extra["stack"] = describe_for_record(stack)
        record.save()
        yield stack
    finally:
        for sock in sockets.values():
            with contextlib.suppress(OSError):
                sock.close()
        if services is not None:
            services.stop_all()
        for process in reversed(processes):
            process.stop()
        _remove_run_dir(record)
        record.discard()
