"""Reconcile signals a process only if it provably is the stale run's, never another live run's.

The red team planted a run record, as a killed run leaves one, whose pid
(reused: pid_max is 32,768 here) named a live run's bank with the same
command line; the next run "cleaned it up" and killed that bank. Here a live
``domino up`` owns the bank, and stale records with a dead owner name it:
with no start time (as every record did then), with another start time (the
pid reused), and with its own start time (a record that names it exactly,
while the live run's record lists it). Reconcile must leave the bank alone
each time, and still stop a real orphan the same records name. A stale
record's run folder is removed only when it is provably that run's: not a
live run's, not outside ``DOMINO_HOME``, not used by a process reconcile left
alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from harness.infra.readiness import wait_until
from harness.infra.runstate import (
    RecordedProcess,
    RunRecord,
    process_cmdline,
    process_started,
    reconcile,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def live_run(home: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, object]]]:
    """Another run: ``domino up --json`` in the same DOMINO_HOME, until the test ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "up", "--json", "--profile", "hardened"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, DOMINO_HOME=str(home)),
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        yield process, endpoints
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _sleeper() -> subprocess.Popen[bytes]:
    """A process to stand for a stale run's orphan, once it runs ``sleep`` (exec done)."""
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)
    wait_until(
        lambda: process_cmdline(orphan.pid) == "sleep 300", timeout_s=10, what="sleep to run"
    )
    return orphan


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def _plant(
    home: Path, owner_pid: int, processes: list[dict[str, object]], run_dir: Path | None = None
) -> Path:
    """A run record as a SIGKILLed run leaves it: its owner gone, its processes listed."""
    path = home / "runs" / f"local-{owner_pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "backend": "local",
        "owner_pid": owner_pid,
        "owner_cmdline": "python -m harness.cli run kbpay-2023-01-25",
        "processes": processes,
        "extra": {"run_dir": str(run_dir)} if run_dir else {},
    }
    path.write_text(json.dumps(record))
    return path


def test_a_stale_record_naming_a_live_runs_process_leaves_it_alone(
    home: Path, live_run: tuple[subprocess.Popen[str], dict[str, object]]
) -> None:
    process, endpoints = live_run
    owner = RunRecord.load(home / "runs" / f"local-{process.pid}.json")
    bank = next(p for p in owner.processes if p.name == "bank")
    assert bank.started == process_started(bank.pid)
    # A real orphan of the stale runs, which reconcile must still stop.
    orphan = _sleeper()
    try:
        orphan_entry = asdict(
            RecordedProcess(
                "pay",
                orphan.pid,
                process_cmdline(orphan.pid) or "",
                process_started(orphan.pid) or "",
            )
        )
        same = {"name": "bank", "pid": bank.pid, "cmdline": bank.cmdline}
        planted = [
            # Written as every record was before start times: pid and command line.
            _plant(home, _dead_pid(), [same]),
            # The pid reused: the stale run's bank started at another time.
            _plant(home, _dead_pid(), [{**same, "started": f"{bank.started}0"}]),
            # Named exactly, start time included: the live run's record lists it.
            _plant(home, _dead_pid(), [{**same, "started": bank.started}, orphan_entry]),
        ]

        removed = reconcile("local")

        assert removed == [f"process pay (pid {orphan.pid})"]
        assert orphan.wait(timeout=10) == -signal.SIGTERM
        assert process_started(bank.pid) == bank.started, "the live run's bank was signalled"
        assert process_cmdline(bank.pid) == bank.cmdline
        assert not [p for p in planted if p.exists()], "stale records are removed"
        services = endpoints["services"]
        assert isinstance(services, dict)
        wait_until(
            lambda: httpx.get(f"{services['bank']}/health", timeout=2).is_success,
            timeout_s=5,
            what="the live run's bank to answer",
        )
        assert process.poll() is None
        assert (home / "runs" / f"local-{process.pid}.json").exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_a_reused_owner_pid_does_not_keep_a_stale_record_alive(home: Path) -> None:
    """The owner's start time is recorded too: a live process that now holds the dead
    owner's pid, with the owner's command line (here: this test's process), is not it."""
    orphan = _sleeper()
    try:
        entry = RecordedProcess(
            "orphan",
            orphan.pid,
            process_cmdline(orphan.pid) or "",
            process_started(orphan.pid) or "",
        )
        path = _plant(home, os.getpid(), [asdict(entry)])
        raw = json.loads(path.read_text())
        raw["owner_cmdline"] = process_cmdline(os.getpid())
        raw["owner_started"] = f"{process_started(os.getpid())}0"  # the owner started earlier
        path.write_text(json.dumps(raw))
        # Reconcile from another process: a run never reconciles its own record.
        script = "from harness.infra.runstate import reconcile; print(reconcile('local'))"
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
        )
        assert result.stdout.strip() == str([f"process orphan (pid {orphan.pid})"])
        assert orphan.wait(timeout=10) == -signal.SIGTERM
        assert not path.exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def _folder(home: Path, owner_pid: int) -> Path:
    """A run folder where new_run_dir makes it for ``owner_pid``, with a file in it."""
    folder = home / "local" / f"run-{owner_pid}-1700000000000"
    folder.mkdir(parents=True)
    (folder / "bank.db").write_text("a live run's data")
    return folder


def test_a_stale_record_removes_only_a_run_folder_that_is_provably_its_own(
    home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Reconcile removed whatever folder a stale record named as its run folder: a live
    run's (named by a planted record, as the soak plants one) or a folder anywhere."""
    from harness.backends.local import reconcile_local

    owner = _sleeper()  # a live run's owner, with its record
    lingering = _sleeper()  # a process a stale record lists that reconcile leaves alone
    try:
        live = _folder(home, owner.pid)
        live_record = home / "runs" / f"local-{owner.pid}.json"
        live_record.parent.mkdir(parents=True, exist_ok=True)
        live_record.write_text(
            json.dumps(
                {
                    "backend": "local",
                    "owner_pid": owner.pid,
                    "owner_cmdline": process_cmdline(owner.pid),
                    "owner_started": process_started(owner.pid),
                    "extra": {"run_dir": str(live)},
                }
            )
        )
        elsewhere = tmp_path_factory.mktemp("another-home") / "local" / "run-1-1"
        elsewhere.mkdir(parents=True)
        dead = [_dead_pid() for _ in range(4)]
        used = _folder(home, dead[2])
        own = _folder(home, dead[3])
        planted = [
            # A live run's folder (as the soak's planted records name the other run's).
            _plant(home, dead[0], [], run_dir=live),
            # A folder outside this DOMINO_HOME.
            _plant(home, dead[1], [], run_dir=elsewhere),
            # Its own, but a process it lists (no start time: not provably its own) runs.
            _plant(
                home,
                dead[2],
                [{"name": "bank", "pid": lingering.pid, "cmdline": "sleep 300"}],
                run_dir=used,
            ),
            # Its own, nothing of it running: the one to remove.
            _plant(home, dead[3], [], run_dir=own),
        ]

        reconcile_local()

        assert (live / "bank.db").exists(), "a live run's folder was removed"
        assert elsewhere.is_dir(), "a folder outside DOMINO_HOME was removed"
        assert (used / "bank.db").exists(), "a folder a running process may use was removed"
        assert not own.exists(), "the stale run's own folder was left"
        assert lingering.poll() is None
        assert not [p for p in planted if p.exists()], "stale records are removed"
        assert live_record.exists()
    finally:
        for process in (owner, lingering):
            process.kill()
            process.wait()
