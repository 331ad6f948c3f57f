"""The service host: one process pays the services' imports once, then forks each service.

``python -m services.NAME`` spends about half a second of CPU importing
FastAPI, pydantic, httpx and uvicorn; a stack of four services on two cores
pays it four times at once. The local backend instead starts this host
(``python -m services.kit.host FD``, FD one end of a ``SOCK_SEQPACKET``
socket pair), which imports those (under :func:`~services.kit.startup.quick_start`)
and the kit, then waits for requests on FD. Each request starts one service:
the host forks, and the child becomes what ``python -m MODULE`` would have
been (:func:`_become`): its own session, killed (SIGKILL) when the host
ends, stdin ``/dev/null``, stdout and stderr appended to its log, its own
working folder and environment, a fresh random seed, and the listening
socket passed with the request (``SCM_RIGHTS``) placed at the descriptor
number its ``DOMINO_LISTEN_FD`` names; then the module runs as ``__main__``.

The host stays single-threaded (a fork copies only the forking thread), and
is killed by the runner's parent-death signal like any child Domino starts,
so a SIGKILLed runner takes the host, and the host its services, with it.

Messages are JSON, one per packet. Runner to host:
``{"op": "start", "id", "name", "module", "args", "env", "cwd", "log",
"listen_fd", "gate"}`` (with the socket as ancillary data when ``listen_fd``
is set). Host to runner, once imported: ``{"op": "started", "id", "pid"}``
or ``{"op": "failed", "id", "error"}`` per request, and ``{"op": "exit",
"pid", "code"}`` per child reaped (``code`` in ``subprocess``'s convention:
minus the signal for a signal). When the runner's end closes, the host kills
(SIGKILL) the services still running, reaps them and exits.

This module imports nothing of ``harness``; the runner's side is
``harness.infra.service_host``.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import importlib.util
import json
import os
import pkgutil
import random
import runpy
import select
import signal
import socket
import sys
import time
import traceback
from typing import Any

__all__ = ["main"]

_MESSAGE_MAX_BYTES = 1 << 20
_PR_SET_PDEATHSIG = 1
_GATE_WAIT_S = 60.0
_IMPORTED_WHEN_SERVING = (
    "uvicorn.loops.auto",
    "uvicorn.loops.asyncio",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "httpcore",
    "h11",
    "httptools",
    "encodings.idna",
    "fastapi.telemetry._runtime",
)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m services.kit.host CONTROL_FD", file=sys.stderr)
        return 2
    control = socket.socket(fileno=int(argv[0]))
    _preload()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    children: set[int] = set()
    inherited = (control.fileno(), wake_read, wake_write)
    try:
        while True:
            ready, _, _ = select.select([control.fileno(), wake_read], [], [])
            if wake_read in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_read, 512):
                        pass
            _reap(children, control)
            if control.fileno() in ready:
                data, fds, _flags, _addr = socket.recv_fds(control, _MESSAGE_MAX_BYTES, 1)
                if not data:
                    break  # the runner's end is closed
                _start(json.loads(data), fds, children, control, inherited)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return 0


def _preload() -> None:
    """The imports every service makes, once, before any fork: the libraries, the kit and
    each service's app module (none reads its environment or starts anything on import)."""
    import services
    from services.kit.startup import quick_start

    with quick_start():
        import fastapi  # noqa: F401
        import httpx  # noqa: F401
        import pydantic  # noqa: F401
        import uvicorn  # noqa: F401

        from services.kit.app import tls_context

        tls_context()
        # What a service imports only once it serves: its server's loop, protocol and
        # lifespan, and its clients' connection pool.
        for name in _IMPORTED_WHEN_SERVING:
            if importlib.util.find_spec(name.partition(".")[0]) is not None:
                with contextlib.suppress(ImportError):
                    importlib.import_module(name)
        for found in pkgutil.iter_modules(services.__path__):
            if found.ispkg and importlib.util.find_spec(f"services.{found.name}.app"):
                importlib.import_module(f"services.{found.name}.app")


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def _reap(children: set[int], control: socket.socket) -> None:
    """Collect every child that has exited and report it."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _send(control, {"op": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _start(
    request: dict[str, Any],
    fds: list[int],
    children: set[int],
    control: socket.socket,
    inherited: tuple[int, ...],
) -> None:
    listen = fds[0] if fds else None
    host_pid = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        _send(control, {"op": "failed", "id": request["id"], "error": f"fork: {exc}"})
        return
    finally:
        if listen is not None and os.getpid() == host_pid:
            os.close(listen)  # the child holds its own copy
    if pid == 0:
        code = 1
        try:
            code = _become(request, listen, host_pid, inherited)
        except BaseException:  # noqa: BLE001 - whatever happens, the child must exit here
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            os._exit(code)
    children.add(pid)
    _send(control, {"op": "started", "id": request["id"], "pid": pid})


def _become(
    request: dict[str, Any], listen: int | None, host_pid: int, inherited: tuple[int, ...]
) -> int:
    """In the forked child: become ``python -m MODULE`` as the request describes; its exit code."""
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != host_pid:  # the host died before prctl took hold
            return 1
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if listen is not None:
        target = int(request["listen_fd"])
        if listen != target:
            os.dup2(listen, target)
            os.close(listen)
        os.set_inheritable(target, True)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    random.seed()
    if request.get("gate"):
        _wait_at_gate(request["gate"])
    sys.argv = ["-m", *request["args"]]
    sys.path[0] = os.getcwd()  # as ``python -m`` sets it
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 - as the interpreter would: traceback, exit 1
        traceback.print_exc()
        return 1
    return 0


def _exit_code(code: object) -> int:
    """``SystemExit.code`` as the interpreter turns it into an exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _wait_at_gate(stem: str) -> None:
    """Test seam ($DOMINO_TEST_SPAWN_GATE, see harness.infra.processes): say this child
    exists, then wait until the test lets it go on."""
    with open(f"{stem}.spawning", "w") as marker:
        marker.write(str(os.getpid()))
    deadline = time.monotonic() + _GATE_WAIT_S
    while not os.path.exists(f"{stem}.go") and time.monotonic() < deadline:
        time.sleep(0.005)


if __name__ == "__main__":
    _code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter finalization: tearing down every preloaded module took longer than
    # anything the host still had to do, and the stack's teardown waits for it.
    os._exit(_code)
