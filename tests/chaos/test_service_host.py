"""The service host: Domino's own services forked from one preloaded process.

The host (``services.kit.host``) is real, and so are its children: a small
test system (:mod:`tests.chaos.hosted_sleeper`) where the host's own
behaviour is checked, and the bank's stack where the backend uses it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness import start_stack
from harness.backends.local import _LocalServices
from harness.errors import ServiceHostError, UsageError
from harness.infra.readiness import wait_until
from harness.infra.runstate import (
    RecordedProcess,
    RunRecord,
    process_cmdline,
    process_started,
    reconcile,
)
from harness.infra.service_host import HostedProcess, ServiceHost, hosted_module

pytestmark = pytest.mark.chaos

REPO = Path(__file__).resolve().parents[2]
SLEEPER = "tests.chaos.hosted_sleeper"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[ServiceHost]:
    with ServiceHost.open(tmp_path / "host.log") as started:
        yield started


def _start(host: ServiceHost, tmp_path: Path, *args: str, **kw: object) -> HostedProcess:
    """Start the sleeper in ``tmp_path``, which finds ``tests`` there (as ``python -m``
    would: its working folder first on the path)."""
    if not (tmp_path / "tests").exists():
        (tmp_path / "tests").symlink_to(REPO / "tests")
    env = {"GREETING": "hello"}
    env.update(kw.pop("env", {}))  # type: ignore[arg-type]
    return host.start(
        "sleeper",
        SLEEPER,
        list(args),
        env=env,
        cwd=tmp_path,
        log_path=tmp_path / f"sleeper-{args[0]}.log",
        **kw,  # type: ignore[arg-type]
    )


def _described(process: HostedProcess) -> dict[str, object]:
    """The sleeper's first log line, once written."""
    wait_until(
        lambda: process.log_path.exists() and "\n" in process.log_path.read_text(),
        timeout_s=30,
        what="the sleeper's first line",
    )
    return dict(json.loads(process.log_path.read_text().splitlines()[0]))


def _gone(pid: int) -> bool:
    return process_started(pid) is None


def test_a_hosted_module_runs_as_python_m_would(host: ServiceHost, tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    fd = listener.fileno()
    process = _start(
        host, tmp_path, "sleep", "extra", env={"DOMINO_LISTEN_FD": str(fd)}, listen_fd=fd
    )
    listener.close()  # from now on only the service holds the listening socket
    try:
        seen = _described(process)
        assert seen["argv"] == ["sleep", "extra"]
        assert seen["name"] == "__main__"
        assert seen["cwd"] == str(tmp_path)
        env = seen["env"]
        assert isinstance(env, dict)
        assert env["GREETING"] == "hello"
        assert "HOME" not in env, "the environment is the request's alone"
        assert seen["pid"] == process.pid
        assert seen["sid"] == process.pid, "a session of its own"
        assert seen["ppid"] == host.process.pid
        assert seen["stdin"] == "/dev/null"
        assert seen["listen_port"] == port, "the socket is at the descriptor its env names"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # queued on the service's listening socket
        assert process.alive()
    finally:
        process.stop(timeout_s=5)
    assert process.poll() == -signal.SIGTERM
    assert _gone(process.pid)


def test_exits_reach_the_runner_with_their_code(host: ServiceHost, tmp_path: Path) -> None:
    exited = _start(host, tmp_path, "exit", "3")
    assert exited.wait(10) == 3
    raised = _start(host, tmp_path, "raise")
    assert raised.wait(10) == 1
    assert "RuntimeError: boom from the hosted sleeper" in raised.log_tail()
    killed = _start(host, tmp_path, "sleep")
    _described(killed)
    killed.kill()
    assert killed.wait(10) == -signal.SIGKILL
    assert not killed.alive()


def test_a_start_given_up_on_shuts_the_host_so_no_service_is_forked_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host is still importing when the start gives up: the request stays queued. It must
    # not become a service nobody owns once the host has imported.
    monkeypatch.setattr("harness.infra.service_host._START_TIMEOUT_S", 0.01)
    with ServiceHost.open(tmp_path / "host.log") as host:
        with pytest.raises(ServiceHostError, match="did not answer in time"):
            _start(host, tmp_path, "sleep")
        host.process.wait(30)  # the host ended by itself, killing what it forked
        wait_until(lambda: not host.usable, timeout_s=10, what="the host to be seen gone")
    log = tmp_path / "sleeper-sleep.log"
    if log.exists() and log.read_text().strip():  # it was forked before the host saw the end
        forked = int(json.loads(log.read_text().splitlines()[0])["pid"])
        wait_until(lambda: _gone(forked), timeout_s=10, what="the late fork to be gone")


def test_the_hosts_death_kills_its_services_and_is_reported(
    host: ServiceHost, tmp_path: Path
) -> None:
    process = _start(host, tmp_path, "sleep")
    _described(process)
    os.kill(host.process.pid, signal.SIGKILL)
    process.wait(10)  # its death is reported (the code is the runner's: the host is gone)
    wait_until(lambda: _gone(process.pid), timeout_s=10, what="the service to be gone")
    assert not host.usable
    with pytest.raises(ServiceHostError, match="service host"):
        _start(host, tmp_path, "sleep")


def test_reconcile_stops_a_hosted_service_a_killed_run_left(
    host: ServiceHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    process = _start(host, tmp_path, "sleep")
    _described(process)
    record = RunRecord("local", owner_pid=_dead_pid())
    record.owner_started = "gone"
    cmdline, started = process_cmdline(process.pid), process_started(process.pid)
    recorded = RecordedProcess("sleeper", process.pid, cmdline or "", started or "")
    assert "services.kit.host" in recorded.cmdline, "a fork's command line is the host's"
    record.processes.append(recorded)
    record.save()
    removed = reconcile("local")
    assert any(f"pid {process.pid}" in line for line in removed), removed
    assert process.wait(10) in (-signal.SIGTERM, -signal.SIGKILL)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_only_dominos_own_python_services_are_hosted(tmp_path: Path) -> None:
    python = sys.executable
    assert hosted_module([python, "-m", "services.bank"], tmp_path) == "services.bank"
    assert hosted_module(["python3", "-m", "services.bank"], tmp_path) is None
    assert hosted_module([python, "-m", "services.nonesuch"], tmp_path) is None
    assert hosted_module([python, "-m", SLEEPER], tmp_path) is None
    assert hosted_module([python, "services/bank/__main__.py"], tmp_path) is None
    (tmp_path / "services").mkdir()  # a user's own services package would shadow Domino's
    assert hosted_module([python, "-m", "services.bank"], tmp_path) is None


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def test_the_bank_runs_hosted_and_process_faults_go_through_the_host(home: Path) -> None:
    with start_stack("local", profile="hardened") as stack:
        control = stack.injector.services
        assert isinstance(control, _LocalServices)
        record = RunRecord.load(next((home / "runs").iterdir()))
        host_pid = next(p.pid for p in record.processes if p.name == "service-host")
        first = dict(control.running)
        assert all(isinstance(p, HostedProcess) for p in first.values())
        assert {_ppid(p.pid) for p in first.values()} == {host_pid}
        for url in stack.services.values():
            assert httpx.get(f"{url}/health", timeout=5).is_success

        control.kill("pay")  # the crash fault
        assert first["pay"].poll() == -signal.SIGKILL
        control.start("pay")  # its removal: started again, through the host
        again = control.running["pay"]
        assert again.pid != first["pay"].pid
        assert _ppid(again.pid) == host_pid
        assert httpx.get(f"{stack.services['pay']}/health", timeout=5).is_success

        control.pause("card")
        wait_until(lambda: control.held() == ["service card is frozen"], timeout_s=5, what="pause")
        control.resume("card")
        wait_until(lambda: control.held() == [], timeout_s=5, what="card to run again")

        os.kill(first["remit"].pid, signal.SIGKILL)  # a death nobody asked for
        wait_until(lambda: bool(control.deaths()), timeout_s=10, what="remit's death seen")
        (death,) = control.deaths()
        assert (death.service, death.exit_code) == ("remit", -signal.SIGKILL)
        assert death.exit_status == "killed by SIGKILL"
        assert control.restore_all() == ["remit"]
        assert _ppid(control.running["remit"].pid) == host_pid
        pids = [p.pid for p in control.running.values()] + [host_pid]
    assert all(_gone(pid) for pid in pids)


def test_with_the_host_off_services_are_their_own_processes(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMINO_SERVICE_HOST", "off")
    with start_stack("local", profile="hardened") as stack:
        control = stack.injector.services
        assert isinstance(control, _LocalServices)
        assert not any(isinstance(p, HostedProcess) for p in control.running.values())
        assert {_ppid(p.pid) for p in control.running.values()} == {os.getpid()}
        record = RunRecord.load(next((home / "runs").iterdir()))
        assert "service-host" not in [p.name for p in record.processes]
        assert httpx.get(f"{stack.services['bank']}/health", timeout=5).is_success


def test_a_bad_host_switch_is_a_usage_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMINO_SERVICE_HOST", "maybe")
    with pytest.raises(UsageError, match="DOMINO_SERVICE_HOST"), start_stack("local"):
        pass


def test_a_stack_whose_host_dies_reports_the_deaths_and_starts_services_on_their_own(
    home: Path,
) -> None:
    said: list[str] = []
    with start_stack("local", profile="hardened", progress=said.append) as stack:
        control = stack.injector.services
        assert isinstance(control, _LocalServices)
        record = RunRecord.load(next((home / "runs").iterdir()))
        host_pid = next(p.pid for p in record.processes if p.name == "service-host")
        hosted = [p.pid for p in control.running.values()]
        os.kill(host_pid, signal.SIGKILL)
        wait_until(
            lambda: len(control.deaths()) == len(control.running),
            timeout_s=10,
            what="every hosted service's death to be seen",
        )
        for death in control.deaths():
            assert "the service host" in death.log_tail[-1]
        for pid in hosted:  # really dead, not only reported so
            wait_until(lambda p=pid: _gone(p), timeout_s=10, what=f"hosted service {pid} gone")
        assert sorted(control.restore_all()) == sorted(control.running)
        assert any("started as their own processes" in line for line in said), said
        assert {_ppid(p.pid) for p in control.running.values()} == {os.getpid()}
        for url in stack.services.values():
            assert httpx.get(f"{url}/health", timeout=5).is_success
