"""The local backend: Toxiproxy and the services as processes on loopback.

Start order: reconcile what a killed run left, run the topology's build
step, start Toxiproxy on a free port, reserve one loopback port per service
(a bound socket, held until just before the service starts), create one
proxy per edge pointing at those ports, then start each service from its
command with its dependencies' addresses set to the proxies' listeners, and
wait for each by its readiness strategy. Every call between services
therefore crosses Toxiproxy. Teardown runs in reverse on every path.

A Toxiproxy whose admin API hangs is replaced by a new one on the same port;
its client then makes the proxies again (:meth:`ToxiproxyClient.recover_with`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.backends.assembly import (
    RunPlan,
    plan_run,
    render_command,
    service_environment,
    service_values,
)
from harness.backends.lifecycle import (
    Brought,
    new_run_dir,
    remove_stale_run_dir,
    stack_lifecycle,
)
from harness.backends.service_files import address_values, render_files, write_files
from harness.contracts import ServiceDeath
from harness.errors import (
    PortInUseError,
    ServiceHostError,
    ServiceNotListeningError,
    ServiceStartError,
    ToxiproxyError,
    UnknownServiceError,
    UsageError,
)
from harness.infra.early_host import close_early_host, take_early_host
from harness.infra.processes import ChildProcess, ManagedProcess, spawn
from harness.infra.readiness import ReadinessTimeoutError, wait_ready, wait_until
from harness.infra.runstate import RunRecord, reconcile, restore_originals, stopped
from harness.infra.service_host import HostedProcess, ServiceHost, host_wanted, hosted_module
from harness.infra.signals import interrupts_deferred
from harness.infra.sockets import session_listeners
from harness.model.topology import Edge, Topology
from harness.stack import EdgeEndpoint, Stack
from harness.toxiproxy.binary import find_toxiproxy
from harness.toxiproxy.client import ToxiproxyClient

__all__ = ["local_stack"]

_LOOPBACK = "127.0.0.1"
_TOXIPROXY_READY_S = 15.0


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


def _exited(process: ChildProcess) -> Callable[[], str | None]:
    """An abort check for :func:`wait_until`: a reason once the process has exited."""

    def check() -> str | None:
        return None if process.alive() else f"{process.name} exited"

    return check


def _log_hint(process: ChildProcess) -> str:
    return f"last lines of {process.log_path}:\n{process.log_tail()}"


def _run_build(plan: RunPlan, run_dir: Path, say: Callable[[str], None]) -> None:
    """The topology's build step (e.g. ``go build``), once, before any service starts."""
    build = plan.topology.build
    if build is None:
        return
    values = {"dir": str(plan.topology.base_dir), "python": sys.executable}
    argv = render_command(build.command, values, where="build")
    log_path = run_dir / "build.log"
    say(f"building {plan.topology.name}: {' '.join(argv)}")
    try:
        with log_path.open("wb") as log:
            result = subprocess.run(
                argv,
                cwd=build.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=build.timeout_s,
                check=False,
            )
    except FileNotFoundError:
        raise ServiceStartError(
            f"build of {plan.topology.name}: {argv[0]!r} not found; install it or fix build.command"
        ) from None
    except subprocess.TimeoutExpired:
        raise ServiceStartError(
            f"build of {plan.topology.name} did not finish within {build.timeout_s:g}s"
        ) from None
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-15:])
        raise ServiceStartError(
            f"build of {plan.topology.name} failed (exit {result.returncode}): {tail}"
        )


class _LocalServices:
    """The local backend's :class:`~harness.contracts.ServiceControl`: service processes by name.

    A crash is SIGKILL and a start launches the service again on the same
    port and data folder (so durable storage is really tested); a pause is
    SIGSTOP, a resume SIGCONT. A process that exits while it is not down on
    purpose (killed, stopped or restarted here) is a death: recorded with its
    return code and log tail when first seen (:meth:`deaths`, and before
    :meth:`restore_all` starts it again).
    """

    backend = "local"

    def __init__(
        self,
        plan: RunPlan,
        *,
        run_dir: Path,
        record: RunRecord,
        values: Mapping[str, dict[str, str]],
        listener: Callable[[Edge], tuple[str, int]],
        ports: Mapping[str, int],
        host: ServiceHost | None = None,
        say: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self._plan = plan
        self._host = host
        self._say = say
        self._topology = plan.topology
        self._run_dir = run_dir
        self._record = record
        self._values = values
        self._listener = listener
        self._ports = ports
        self.running: dict[str, ChildProcess] = {}
        # Services down because this control was asked to (kill, stop, restart), until
        # started again; services whose death is recorded, until started again.
        self._down_on_purpose: set[str] = set()
        self._dead: set[str] = set()
        self._deaths: list[ServiceDeath] = []
        self._lock = threading.Lock()

    def _takes_socket(self, name: str) -> bool:
        service = self._topology.service(name)
        texts = (*service.command, *service.env.values())
        return any("{listen_fd}" in text for text in texts)

    def launch(self, name: str, reserved: socket.socket | None = None) -> ChildProcess:
        """Start a service on its port: forked by the service host when it is one of
        Domino's own (:mod:`harness.infra.service_host`), else as its own process.

        A service that takes ``{listen_fd}`` inherits a socket already
        listening on its port (``reserved`` on the first start, a new one
        on a restart), so connections made while it restarts wait in the
        socket's queue instead of being refused. Any other service gets the
        port free: ``reserved`` is closed at the very last moment.
        """
        service = self._topology.service(name)
        sock: socket.socket | None = None
        values = dict(self._values[name])
        # Its settings files, before each start: a restart reads them again.
        file_values = {**values, **address_values(self._topology, service, self._listener)}
        files = render_files(service, file_values, data_dir=Path(values["data_dir"]))
        write_files(files, self._record)
        if self._takes_socket(name):
            sock = reserved or _bound_socket(self._ports[name])
            values["listen_fd"] = str(sock.fileno())
        elif reserved is not None:
            reserved.close()
        where = f"service {name}"
        argv = render_command(service.command, values, where=where)
        env = service_environment(
            self._plan, service, values, edge_address=self._listener, inherit=True
        )
        cwd = service.cwd or self._topology.base_dir

        def adopt(process: ChildProcess) -> None:
            with self._lock:
                self.running[name] = process
                self._down_on_purpose.discard(name)
                self._dead.discard(name)
            self._record.add_process(name, process.pid)

        log_path = self._run_dir / f"{name}.log"
        module = hosted_module(argv, cwd) if self._host is not None else None
        if module is not None:
            hosted = self._start_hosted(
                name, module, argv, env=env, cwd=cwd, log_path=log_path, sock=sock, adopt=adopt
            )
            if hosted is not None:
                return hosted
        try:
            process = spawn(
                name,
                argv,
                log_path=log_path,
                env=env,
                cwd=cwd,
                pass_fds=[sock.fileno()] if sock is not None else [],
                adopt=adopt,
            )
        except FileNotFoundError:
            raise ServiceStartError(
                f"service {name}: command {argv[0]!r} not found "
                f"(cwd {cwd}); build it first or fix its command"
            ) from None
        except OSError as exc:
            raise ServiceStartError(f"service {name}: cannot start its command: {exc}") from None
        finally:
            if sock is not None:
                sock.close()  # the child holds its own copy
        return process

    def _start_hosted(
        self,
        name: str,
        module: str,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        sock: socket.socket | None,
        adopt: Callable[[HostedProcess], None],
    ) -> HostedProcess | None:
        """Start a service through the service host; None when the host is gone (said
        once; from then on services start as their own processes, ``sock`` still open)."""
        host = self._host
        assert host is not None
        if host.usable:
            try:
                process = host.start(
                    name,
                    module,
                    argv[3:],
                    env=env,
                    cwd=cwd,
                    log_path=log_path,
                    listen_fd=sock.fileno() if sock is not None else None,
                    adopt=adopt,
                )
            except ServiceHostError as exc:
                reason = str(exc)
            except BaseException:
                if sock is not None:
                    sock.close()
                raise
            else:
                if sock is not None:
                    sock.close()  # the service holds its own copy
                return process
        else:
            reason = host.gone()
        self._say(f"{reason}\nDomino's services are started as their own processes from now on")
        self._host = None
        return None

    def wait_healthy(self, names: list[str] | None = None) -> None:
        for name in names or list(self.running):
            process = self.running[name]
            service = self._topology.service(name)
            try:
                wait_ready(
                    service.ready,
                    base_url=f"http://{_LOOPBACK}:{self._ports[name]}",
                    what=f"service {name}",
                    abort=_exited(process),
                    logs=functools.partial(_log_hint, process),
                    output=lambda p=process: p.log_path.read_text(errors="replace"),  # type: ignore[misc]
                )
            except ServiceStartError:
                if process.alive():
                    _check_listens_on(name, process, f"{_LOOPBACK}:{self._ports[name]}")
                raise

    def restore_all(self) -> list[str]:
        """Start any service that is not running, resume any that is frozen; say which.

        A service that died unasked is recorded as a death first (:meth:`deaths`).
        """
        self._look()
        restored = []
        for name, process in list(self.running.items()):
            if process.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)  # a no-op unless it was paused
                continue
            self.launch(name)
            self.wait_healthy([name])
            restored.append(name)
        return restored

    def deaths(self) -> list[ServiceDeath]:
        """Look at every service now; every death seen so far, oldest first."""
        self._look()
        with self._lock:
            return list(self._deaths)

    def _look(self) -> None:
        """Record each process that has exited while not down on purpose, once."""
        with self._lock:
            for name, process in self.running.items():
                if name in self._down_on_purpose or name in self._dead:
                    continue
                code = process.poll()
                if code is None:
                    continue
                self._dead.add(name)
                tail = tuple(process.log_tail(_DEATH_LOG_LINES).splitlines())
                self._deaths.append(
                    ServiceDeath(
                        service=name,
                        seen_at_s=time.monotonic(),
                        exit_code=code,
                        exit_status=_exit_status(code),
                        log_tail=tail,
                    )
                )

    def _on_purpose(self, name: str) -> ChildProcess:
        """The service's process, marked down on purpose before it is brought down."""
        process = self._process(name)
        with self._lock:
            self._down_on_purpose.add(name)
        return process

    def stop_all(self) -> None:
        """Stop every service at once: each stop is a SIGTERM and a wait for the exit, and
        waiting one after another made a stack's teardown the sum of its services'."""
        processes = list(self.running.values())
        if processes:
            with ThreadPoolExecutor(max_workers=len(processes)) as pool:
                list(pool.map(lambda process: process.stop(), processes))

    # -- ServiceControl: what process faults do (harness.stack.process_faults) ----------

    def _process(self, name: str) -> ChildProcess:
        process = self.running.get(name)
        if process is None:
            raise UnknownServiceError(name, sorted(self.running))
        return process

    def kill(self, service: str) -> None:
        process = self._on_purpose(service)
        process.kill()
        process.wait(10)

    def stop(self, service: str) -> None:
        self._on_purpose(service).stop()

    def start(self, service: str) -> None:
        if not self._process(service).alive():
            self.launch(service)
            self.wait_healthy([service])
        with self._lock:
            self._down_on_purpose.discard(service)

    def pause(self, service: str) -> None:
        os.kill(self._process(service).pid, signal.SIGSTOP)

    def resume(self, service: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._process(service).pid, signal.SIGCONT)

    def restart(self, service: str) -> None:
        self._on_purpose(service).stop()
        self.start(service)

    def held(self) -> list[str]:
        """Services whose process has exited or is frozen (SIGSTOP)."""
        found = []
        for name, process in self.running.items():
            if not process.alive():
                found.append(f"service {name} is not running")
            elif stopped(process.pid):
                found.append(f"service {name} is frozen")
        return found


def _check_listens_on(name: str, process: ChildProcess, expected: str) -> None:
    """Raise ServiceNotListeningError if ``process`` listens, but not on ``expected``.

    Called when a service did not become ready: a service that ignores its
    ``{port}`` and listens on a port of its own is named with both ports.
    """
    listeners = session_listeners(process.pid)
    port = int(expected.rpartition(":")[2])
    if not listeners or any(lst.port == port for lst in listeners):
        return
    found = [lst.address for lst in listeners]
    raise ServiceNotListeningError(
        f"service {name} listens on {', '.join(found)}, not on the address Domino gave it "
        f"({expected}): make it listen on {{port}} (and {{bind_host}}) given in its command, "
        "env or files, instead of a port of its own",
        service=name,
        expected=expected,
        found=found,
    )


#: How many of a dead service's last log lines its death keeps.
_DEATH_LOG_LINES = 15


def _exit_status(code: int) -> str:
    """A process's return code in words: the signal that ended it, or its exit code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def reconcile_local() -> list[str]:
    """Clean up after killed local runs (:func:`~harness.infra.runstate.reconcile`): their
    processes and, when provably theirs, their run folders; return what was removed."""
    return reconcile("local", extra_cleanup=remove_stale_run_dir)


def _remove_run_dir(record: RunRecord) -> None:
    run_dir = record.extra.get("run_dir")
    if run_dir and not record.extra.get("keep_data"):
        shutil.rmtree(run_dir, ignore_errors=True)


def _spawn_toxiproxy(
    binary: Path, run_dir: Path, port: int, adopt: Callable[[ManagedProcess], None]
) -> ManagedProcess:
    return spawn(
        "toxiproxy",
        [str(binary), "-host", _LOOPBACK, "-port", str(port), "-proxy-metrics"],
        log_path=run_dir / "toxiproxy.log",
        # Toxiproxy logs every connection at trace level by default (~2 KB each).
        env={**os.environ, "LOG_LEVEL": "info"},
        adopt=adopt,
    )


def _start_toxiproxy(
    binary: Path,
    run_dir: Path,
    record: RunRecord,
    ready_timeout_s: float,
    started: Callable[[ManagedProcess], None],
) -> tuple[ManagedProcess, ToxiproxyClient]:
    """Start Toxiproxy on a free port, retrying if another process takes the port first.

    ``started`` makes each Toxiproxy started the caller's to stop, at once
    (before it is ready, and before an interrupt that arrived meanwhile is raised).
    """

    def adopt(process: ManagedProcess) -> None:
        started(process)
        record.add_process("toxiproxy", process.pid)

    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        process = _spawn_toxiproxy(binary, run_dir, port, adopt)
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


def _prepare_services(
    plan: RunPlan,
    run_dir: Path,
    record: RunRecord,
    ports: Mapping[str, int],
    listener: Callable[[Edge], tuple[str, int]],
    *,
    host: ServiceHost | None = None,
    say: Callable[[str], None] = lambda _msg: None,
) -> _LocalServices:
    """Each service's placeholder values: its port, data folder, and its edges' listeners."""
    topology = plan.topology
    values = {}
    for service in topology.services:
        data_dir = run_dir / "data" / service.name
        data_dir.mkdir(parents=True, exist_ok=True)
        values[service.name] = service_values(
            topology, service, port=ports[service.name], bind_host=_LOOPBACK, data_dir=str(data_dir)
        )
    return _LocalServices(
        plan,
        run_dir=run_dir,
        record=record,
        values=values,
        listener=listener,
        ports=ports,
        host=host,
        say=say,
    )


def _require_commands(topology: Topology) -> None:
    missing = [s.name for s in topology.services if not s.command]
    if missing:
        raise UsageError(
            f"the local backend starts services from their command; {', '.join(missing)} "
            "has none in the topology file (add `command:`, or use --backend docker/external)"
        )


def _reserve_port() -> socket.socket:
    """A bound loopback socket: its port is the service's until just before it starts."""
    return _bound_socket(0)


class _LocalRun:
    """The local backend's part of a run (:class:`~harness.backends.lifecycle.BackendRun`)."""

    name = "local"

    def __init__(self, binary: Path, run_dir: Path, record: RunRecord) -> None:
        self._binary = binary
        self._run_dir = run_dir
        self._record = record
        self._processes: list[ManagedProcess] = []
        self._reserved: dict[str, socket.socket] = {}
        self._services: _LocalServices | None = None
        self._host: ServiceHost | None = None

    def _start_host(self, topology: Topology, record: RunRecord) -> None:
        """Start the service host if any service is one of Domino's own; it imports
        while Toxiproxy starts, and answers the first service start once it has.

        A host the command launched before its own imports is taken instead
        (:mod:`harness.infra.early_host`), or closed if this stack has no use for it.
        """
        log_path = self._run_dir / "service-host.log"
        wanted = host_wanted() and any(
            hosted_module(
                [sys.executable if part == "{python}" else part for part in s.command],
                s.cwd or topology.base_dir,
            )
            for s in topology.services
        )

        def adopt(process: ManagedProcess) -> None:
            self._processes.append(process)
            record.add_process("service-host", process.pid)

        with interrupts_deferred():
            if not wanted:
                # The guess was wrong: this stack has no use for it (nor for its log).
                close_early_host()
                return
            early = take_early_host(log_path)
            if early is not None:
                self._host = early  # torn down with the stack from here
                adopt(early.process)
                return
        self._host = ServiceHost.launch(log_path, adopt=adopt)

    def bring_up(self, plan: RunPlan, record: RunRecord, say: Callable[[str], None]) -> Brought:
        topology = plan.topology
        _run_build(plan, self._run_dir, say)
        self._start_host(topology, record)
        say("starting Toxiproxy")
        _toxiproxy, client = _start_toxiproxy(
            self._binary, self._run_dir, record, _TOXIPROXY_READY_S, self._processes.append
        )
        client.recover_with(functools.partial(self._restart_toxiproxy, client.api_url, say))

        self._reserved = {service.name: _reserve_port() for service in topology.services}
        ports = {name: int(sock.getsockname()[1]) for name, sock in self._reserved.items()}
        direct = {name: f"http://{_LOOPBACK}:{port}" for name, port in ports.items()}
        edges: dict[str, EdgeEndpoint] = {}
        for edge in topology.edges:
            upstream = f"{_LOOPBACK}:{ports[edge.target]}"
            proxy = client.create_proxy(edge.proxy_name, upstream, f"{_LOOPBACK}:0")
            edges[edge.name] = EdgeEndpoint(edge.proxy_name, proxy.listen, upstream)

        def listener(edge: Edge) -> tuple[str, int]:
            host, _, port = edges[edge.name].listen.rpartition(":")
            return host, int(port)

        services = _prepare_services(
            plan, self._run_dir, record, ports, listener, host=self._host, say=say
        )
        self._services = services
        for service in topology.services:
            say(f"starting {service.name}")
            services.launch(service.name, self._reserved.pop(service.name))
        services.wait_healthy()
        say("stack ready")
        return Brought(
            toxiproxy=client,
            services=direct,
            edges=edges,
            services_control=services,
            extra={"run_dir": str(self._run_dir)},
        )

    def _restart_toxiproxy(self, api_url: str, say: Callable[[str], None]) -> str:
        """Replace a Toxiproxy whose admin API hangs with a new one on the same port.

        Its proxies are made again by the client (:meth:`ToxiproxyClient.recover_with`).
        """
        hung = next(p for p in self._processes if p.name == "toxiproxy")
        # SIGKILL: a hung server may not act on SIGTERM, and its state is lost either way.
        hung.kill()
        hung.wait(10)
        port = int(api_url.rpartition(":")[2])

        def adopt(process: ManagedProcess) -> None:
            self._processes[self._processes.index(hung)] = process
            self._record.add_process("toxiproxy", process.pid)

        fresh = _spawn_toxiproxy(self._binary, self._run_dir, port, adopt)
        probe = ToxiproxyClient(api_url, timeout_s=1.0)
        try:
            wait_until(
                probe.reachable,
                timeout_s=_TOXIPROXY_READY_S,
                what="Toxiproxy API after a restart",
                abort=_exited(fresh),
            )
        except ReadinessTimeoutError as exc:
            raise ToxiproxyError(f"{exc}; log: {fresh.log_tail(5)}") from None
        done = f"restarted Toxiproxy on {api_url} (pid {hung.pid} -> {fresh.pid})"
        say(f"Toxiproxy's admin API hung: {done}")
        return done

    def release(self, stack: Stack) -> None:
        return None  # everything it started stops with it

    def tear_down(self) -> None:
        for sock in self._reserved.values():
            with contextlib.suppress(OSError):
                sock.close()
        if self._services is not None:
            self._services.stop_all()
        if self._host is not None:
            self._host.close()
        for process in reversed(self._processes):
            process.stop()
        restore_originals(self._record)
        _remove_run_dir(self._record)


@contextmanager
def local_stack(
    topology: Topology,
    *,
    profile: str | None = None,
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    toxiproxy_bin: str | Path | None = None,
    keep_data: bool = False,
) -> Iterator[Stack]:
    """Bring ``topology`` up as local processes; tear everything down on exit."""
    say = progress or (lambda _msg: None)
    plan = plan_run(topology, profile, knobs)
    _require_commands(topology)
    reconcile_local()
    binary = find_toxiproxy(toxiproxy_bin)
    run_dir = new_run_dir("local")
    record = RunRecord("local", extra={"run_dir": str(run_dir), "keep_data": keep_data})
    with stack_lifecycle(_LocalRun(binary, run_dir, record), plan, record, say) as stack:
        yield stack
