"""A read-only checkout works: Domino writes only where --state-dir / DOMINO_HOME and --report say.

The project (tests/foreign's three stdlib services, their domino.yaml and a
short incident) is made read-only: mode 0555, and immutable (``chattr +i``)
when the tests run as root, for whom modes are no barrier.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.infra.readiness import wait_until
from harness.infra.runstate import RunRecord
from tests.configfiles.conftest import snapshot

FOREIGN = Path(__file__).resolve().parents[1] / "foreign"
INCIDENT = """\
id: foreign-primary-slow
topology: ../domino.yaml
title: The primary answers 200 ms late
date: "2026-12-06"
sources: [tests/trust/test_read_only_checkout.py]
summary: A short run from a read-only checkout.
profiles: [default]
steady_state_s: 1
recovery_s: 1
client_timeout_s: 5
journeys:
  - {journey: quote, users: 1, think_ms: 100}
timeline:
  - {fault: latency, edge: "gateway->primary", latency_ms: 200, onset_s: 0, hold_s: 1}
expect:
  default:
    journeys:
      quote: healthy
"""


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


def _chattr(flag: str, folders: list[Path]) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(
        ["chattr", flag, *map(str, folders)], capture_output=True, timeout=30, check=False
    )
    return done.returncode == 0


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    """A project nobody can write in: its domino.yaml, its services and an incident."""
    project = tmp_path / "project"
    (project / "incidents").mkdir(parents=True)
    for name in ("domino.yaml", "services.py"):
        shutil.copy2(FOREIGN / name, project / name)
    (project / "incidents" / "primary-slow.yaml").write_text(INCIDENT, encoding="utf-8")
    folders = [project, project / "incidents"]
    for folder in folders:
        folder.chmod(0o555)
    immutable = not _writable(project) or _chattr("+i", folders)
    try:
        if _writable(project) or not immutable:
            pytest.skip("cannot make a read-only folder here (no chattr as root)")
        yield project
    finally:
        if immutable:
            _chattr("-i", folders)
        for folder in folders:
            folder.chmod(0o755)


def _env(**extra: str) -> dict[str, str]:
    from harness.toxiproxy.binary import find_toxiproxy

    env = {k: v for k, v in os.environ.items() if k != "DOMINO_HOME"}
    root = str(Path(__file__).resolve().parents[2])
    env.update(PYTHONPATH=root, DOMINO_TOXIPROXY_BIN=str(find_toxiproxy()), **extra)
    return env


def _domino(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_validate_run_and_up_work_from_a_read_only_checkout(checkout: Path, tmp_path: Path) -> None:
    before = snapshot(checkout)
    state, reports = tmp_path / "state", tmp_path / "reports"

    checked = _domino(checkout, "validate", "domino.yaml", "incidents/primary-slow.yaml")
    assert checked.returncode == 0, checked.stderr

    ran = _domino(
        checkout,
        *("run", "incidents/primary-slow.yaml"),
        *("--state-dir", str(state), "--report", str(reports)),
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (reports / "report.json").is_file()
    assert (state / "runs").is_dir()  # the run kept its record there, and removed it
    assert list((state / "runs").iterdir()) == []

    # `domino up` with DOMINO_HOME instead, ended by SIGTERM as a user's Ctrl-C would.
    home = tmp_path / "home"
    up = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "up"],
        cwd=checkout,
        env=_env(DOMINO_HOME=str(home)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    record = home / "runs" / f"local-{up.pid}.json"
    try:
        wait_until(
            lambda: (
                up.poll() is None and record.is_file() and "stack" in RunRecord.load(record).extra
            ),
            timeout_s=60,
            what="domino up from a read-only checkout",
        )
    finally:
        up.send_signal(signal.SIGTERM)
        _, errors = up.communicate(timeout=30)
    assert up.returncode == 130, errors
    assert not record.exists()
    assert snapshot(checkout) == before
    assert sorted(p.name for p in checkout.iterdir()) == ["domino.yaml", "incidents", "services.py"]


def test_a_read_only_checkout_without_a_state_dir_is_told_how_to_choose_one(
    checkout: Path, tmp_path: Path
) -> None:
    ran = _domino(checkout, "run", "incidents/primary-slow.yaml", "--report", str(tmp_path / "r"))
    assert ran.returncode == 2
    (line,) = ran.stderr.strip().splitlines()
    assert line.startswith(
        f"domino: error: cannot write Domino's state folder {checkout}/.domino ("
    )
    assert line.endswith("choose a writable one with --state-dir DIR or DOMINO_HOME=DIR")
