"""A real Toxiproxy whose admin API hangs while a fault is removed: the local backend
restarts it with its proxies, the run goes on, and no toxic is left.

The hang is made real by freezing the server (SIGSTOP): it still accepts
connections and never answers, as a server deadlocked by a toxic removed
under traffic does (Toxiproxy #88 ... #558, fixed only in v2.13.0).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from harness import parse_topology, start_stack
from harness.infra.readiness import wait_until
from harness.infra.runstate import RunRecord, process_cmdline, stopped
from harness.model.faults import build_fault
from tests.chaos.two_servers import TWO_SERVERS


def _toxiproxy_pid(home: Path) -> int:
    record = RunRecord.load(home / "runs" / f"local-{os.getpid()}.json")
    alive = [p.pid for p in record.processes if p.name == "toxiproxy" and process_cmdline(p.pid)]
    assert len(alive) == 1, record.processes
    return alive[0]


def test_a_hung_admin_api_is_restarted_with_its_proxies_and_no_toxic_is_left(
    home: Path, tmp_path: Path
) -> None:
    said: list[str] = []
    topology = parse_topology(TWO_SERVERS, source="domino.yaml", base_dir=tmp_path)
    with start_stack("local", topology=topology, progress=said.append) as stack:
        before = {name: p.listen for name, p in stack.toxiproxy.proxies().items()}
        stack.toxiproxy.timeout_s = 1.0  # the hang is noticed after 1 s instead of 5
        hung_pid = _toxiproxy_pid(home)
        user = stack.client(timeout_s=5)
        journey = topology.journeys[0]
        latency = build_fault("latency", {"edge": "client->front", "latency_ms": 50})
        started = time.monotonic()
        with stack.inject(latency):
            assert user.run(journey).ok
            os.kill(hung_pid, signal.SIGSTOP)  # the admin API now never answers
            wait_until(lambda: stopped(hung_pid), timeout_s=5, what="Toxiproxy to be frozen")
        # The scope ended without an error: the removal hung, the server was restarted.
        assert time.monotonic() - started < 15
        fresh_pid = _toxiproxy_pid(home)
        assert fresh_pid != hung_pid
        [recovery] = stack.toxiproxy.recoveries
        assert "/toxics/domino_latency_downstream_1 got no answer within 1s" in recovery
        assert f"(pid {hung_pid} -> {fresh_pid}), with its 2 proxies made again" in recovery
        assert any(line.startswith("Toxiproxy's admin API hung: restarted") for line in said)
        # The same proxies on the same ports, no toxic, and traffic flows through them.
        after = stack.toxiproxy.proxies()
        assert {name: p.listen for name, p in after.items()} == before
        assert stack.injector.leftovers() == []
        assert user.run(journey).ok
        stack.reset()
    # Teardown stopped the fresh server too.
    wait_until(
        lambda: process_cmdline(fresh_pid) is None,
        timeout_s=10,
        what="the restarted Toxiproxy to be stopped with the stack",
    )
    assert process_cmdline(hung_pid) is None
