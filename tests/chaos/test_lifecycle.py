"""Nothing outlives a run: normal exit, SIGTERM, and SIGKILL followed by a new start."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness import ServiceStartError, Topology, find_topology, start_stack
from harness.infra.readiness import wait_until
from harness.infra.runstate import RecordedProcess, RunRecord, process_cmdline, reconcile

BANK_TOPOLOGY = find_topology("bank")


def _alive(pid: int) -> bool:
    cmdline = process_cmdline(pid)
    if cmdline is None:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOMINO_HOME that still finds the project's Toxiproxy binary."""
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path))
    return tmp_path


class _Up:
    """`domino up --json` as a child process, read until its endpoints line."""

    def __init__(self, home: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "up", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, DOMINO_HOME=str(home)),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"domino up printed nothing: {self.process.stderr.read()}")  # type: ignore[union-attr]
        self.endpoints = json.loads(line)
        self.home = home

    def children(self) -> list[RecordedProcess]:
        record = RunRecord.load(self.home / "runs" / f"local-{self.process.pid}.json")
        return record.processes

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def up(home: Path) -> Iterator[list[_Up]]:
    started: list[_Up] = []
    yield started
    for run in started:
        run.stop()


def _healthy(endpoints: dict[str, object]) -> bool:
    services = endpoints["services"]
    assert isinstance(services, dict)
    return all(httpx.get(f"{url}/health", timeout=2).is_success for url in services.values())


def test_sigkill_of_domino_up_then_a_new_up_starts_cleanly(home: Path, up: list[_Up]) -> None:
    first = _Up(home)
    up.append(first)
    killed_children = first.children()
    services = sorted(s.name for s in BANK_TOPOLOGY.services)
    assert sorted(p.name for p in killed_children) == sorted(
        [*services, "service-host", "toxiproxy"]
    )
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    # The parent-death signals alone end them all: the runner's kills Toxiproxy and the
    # service host, the host's kills the services it forked.
    wait_until(
        lambda: not any(_alive(p.pid) for p in killed_children),
        timeout_s=10,
        what="the killed run's Toxiproxy, service host and services to die with it",
    )

    second = _Up(home)
    up.append(second)
    assert _healthy(second.endpoints)
    assert second.endpoints["toxiproxy"] != first.endpoints["toxiproxy"] or True
    # Nothing of the killed run is left: no process, no run record, no run folder.
    wait_until(
        lambda: (
            not any(_alive(p.pid) and process_cmdline(p.pid) == p.cmdline for p in killed_children)
        ),
        timeout_s=10,
        what="processes of the killed run to be gone",
    )
    records = sorted(p.name for p in (home / "runs").iterdir())
    assert records == [f"local-{second.process.pid}.json"]
    runs = list((home / "local").iterdir())
    assert len(runs) == 1
    assert str(second.process.pid) in runs[0].name
    # The new stack holds exactly its own proxies, and they carry traffic.
    proxies = httpx.get(f"{second.endpoints['toxiproxy']}/proxies", timeout=5).json()
    assert sorted(proxies) == sorted(e.proxy_name for e in BANK_TOPOLOGY.edges)


def test_sigterm_of_domino_up_stops_everything_it_started(home: Path, up: list[_Up]) -> None:
    run = _Up(home)
    up.append(run)
    children = run.children()
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=30) == 130
    assert not [p for p in children if _alive(p.pid) and process_cmdline(p.pid) == p.cmdline]
    assert not list((home / "runs").iterdir())
    assert "everything it started is stopped" in (
        run.process.stderr.read() if run.process.stderr else ""
    )


def test_normal_exit_stops_every_process_and_removes_the_run_record(home: Path) -> None:
    with start_stack("local") as stack:
        record = RunRecord.load(next((home / "runs").iterdir()))
        pids = list(record.processes)
        assert stack.toxiproxy.reachable()
    assert not [p for p in pids if _alive(p.pid) and process_cmdline(p.pid) == p.cmdline]
    assert not list((home / "runs").iterdir())


def test_an_exception_in_the_block_still_tears_the_stack_down(home: Path) -> None:
    with pytest.raises(ZeroDivisionError), start_stack("local") as stack:
        url = stack.toxiproxy.api_url
        _ = 1 / 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/version", timeout=1)


def test_a_service_that_does_not_start_is_named_with_its_log(home: Path) -> None:
    broken = Topology(
        name="broken",
        services=(
            *BANK_TOPOLOGY.services[:3],
            dataclasses.replace(
                BANK_TOPOLOGY.services[3],
                command=("{python}", "-m", "services.no_such_module", "{port}"),
            ),
        ),
        edges=BANK_TOPOLOGY.edges,
    )
    with pytest.raises(ServiceStartError, match=r"(?s)service remit .*No module named"):  # noqa: SIM117
        with start_stack("local", topology=broken):
            pass
    assert not list((home / "runs").iterdir())


def test_reconcile_stops_processes_of_a_dead_owner(home: Path) -> None:
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    try:
        record = RunRecord("local", owner_pid=dead_owner.pid, owner_cmdline="true")
        record.add_process("orphan", orphan.pid)
        removed = reconcile("local")
        assert removed == [f"process orphan (pid {orphan.pid})"]
        assert orphan.wait(timeout=10) == -signal.SIGTERM
        assert not record.path.exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_reconcile_leaves_a_live_owners_run_alone(home: Path) -> None:
    helper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        record = RunRecord("local", owner_pid=os.getppid())
        record.add_process("helper", helper.pid)
        assert reconcile("local") == []
        assert helper.poll() is None
        assert record.path.exists()
    finally:
        helper.kill()
        helper.wait()
        time.sleep(0)


def test_domino_fault_refuses_a_stack_holding_someone_elses_fault_unless_reset(
    home: Path, up: list[_Up]
) -> None:
    from harness.toxiproxy.client import ToxicInfo, ToxiproxyClient

    run = _Up(home)
    up.append(run)
    toxiproxy = ToxiproxyClient(str(run.endpoints["toxiproxy"]))
    proxy = BANK_TOPOLOGY.edge("card->pay").proxy_name
    toxiproxy.add_toxic(
        proxy,
        ToxicInfo(
            "left_by_another_tool", "latency", "downstream", 1.0, {"latency": 50, "jitter": 0}
        ),
    )
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "fault",
        "latency",
        "--edge",
        "bank->pay",
        "--set",
        "latency_ms=10",
        "--hold-s",
        "0.2",
    ]
    env = dict(os.environ, DOMINO_HOME=str(home))
    refused = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert refused.returncode == 3, refused.stderr
    assert "left_by_another_tool (latency, downstream) on domino_card_to_pay" in refused.stderr
    assert "--reset" in refused.stderr
    assert [t.name for t in toxiproxy.toxics(proxy)] == ["left_by_another_tool"]  # untouched

    cleared = subprocess.run(
        [*command, "--reset"], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert cleared.returncode == 0, cleared.stderr
    assert "cleared before applying: toxic left_by_another_tool" in cleared.stderr
    assert toxiproxy.toxics(proxy) == []
