"""Services that read every address from files run from domino.yaml alone, and the user's
files are as they were afterwards: after a normal end, and after SIGKILL of the runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import Latency, Restart, Stack, UsageError, load_topology, start_stack
from harness.infra.runstate import RunRecord, process_started, reconcile
from tests.configfiles.conftest import sigkill_domino_up, snapshot


def _median_ms(stack: Stack, calls: int = 5) -> float:
    with stack.client(timeout_s=10) as client:
        seen = [client.run(stack.topology.journey("buy")) for _ in range(calls)]
    assert all(o.ok for o in seen), seen
    return sorted(o.latency_ms for o in seen)[calls // 2]


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def test_a_system_configured_by_files_runs_through_its_proxies_and_its_files_are_put_back(
    system: Path,
) -> None:
    before = snapshot(system)
    with start_stack("local", topology=load_topology(system / "domino.yaml")) as stack:
        front = json.loads((system / "front" / "config.json").read_text())
        # Its own port is Domino's; every dependency is its edge's Toxiproxy listener.
        assert front["listen"]["port"] == _port(stack.services["front"])
        assert front["stock"]["port"] == _port(stack.edges["front->stock"].listen)
        assert front["ledger"] == f"http://{stack.edges['front->ledger'].listen}"
        assert front["audit"] == {
            "url": f"http://{stack.edges['front->audit'].listen}",
            "retries": 0,  # what the user wrote besides the keys set stays
        }
        dotenv = (system / "ledger" / ".env").read_text().splitlines()
        assert dotenv[:2] == [
            "# The ledger's settings, as a developer runs it.",
            "LEDGER_NAME=main",
        ]
        assert f"export PORT={_port(stack.services['ledger'])}" in dotenv
        # audit's copy is in its data folder; the user's application.yml is never touched.
        assert (system / "audit" / "application.yml").read_bytes() == before[
            "audit/application.yml"
        ][0]
        data_dir = Path(stack.extra["run_dir"]) / "data" / "audit"
        audit = list(yaml.safe_load_all((data_dir / "application.yml").read_text()))
        assert audit[0]["server"] == {
            "port": _port(stack.services["audit"]),
            "address": "127.0.0.1",
        }
        assert audit[1]["server"] == {"port": 80}  # a later document (a Spring profile) is kept

        plain_ms = _median_ms(stack)
        with stack.inject(Latency(edge="front->stock", latency_ms=300)):
            assert _median_ms(stack) >= plain_ms + 270  # the call really crosses the proxy
        with stack.inject(Restart(service="front")):  # a restart writes and reads them again
            assert _median_ms(stack) < plain_ms + 270
        assert _median_ms(stack) < plain_ms + 270
    assert snapshot(system) == before
    assert not list(system.rglob("*.domino-tmp"))


def test_after_sigkill_of_the_runner_the_next_runs_reconcile_puts_the_files_back(
    system: Path,
) -> None:
    before = snapshot(system)
    record_path = sigkill_domino_up(system, "local", timeout_s=60)
    record = RunRecord.load(record_path)
    assert {Path(f.path) for f in record.originals} == {
        system / "front" / "config.json",
        system / "stock" / "config.json",
        system / "ledger" / ".env",
    }
    assert snapshot(system) != before  # the killed run left Domino's files in place

    cleaned = reconcile("local")

    assert snapshot(system) == before
    assert not record_path.exists()
    assert any(line.startswith(f"put back {system / 'ledger' / '.env'}") for line in cleaned)
    assert all(process_started(p.pid) != p.started for p in record.processes)
    # And the next run starts, and ends, as if nothing had happened.
    with start_stack("local", topology=load_topology(system / "domino.yaml")) as stack:
        _median_ms(stack, calls=1)
    assert snapshot(system) == before


def test_the_docker_backend_refuses_a_working_copy_file_with_no_place_in_the_image(
    system: Path,
) -> None:
    """Before anything starts (no engine is asked): it cannot know where the file sits."""
    text = (system / "domino.yaml").read_text()
    text = text.replace("        container_path: /app/ledger/.env\n", "")
    (system / "domino.yaml").write_text(text)
    topology = load_topology(system / "domino.yaml")
    with (
        pytest.raises(UsageError, match=r"^service ledger: files\[0\] \(") as info,
        start_stack("docker", topology=topology),
    ):
        pytest.fail("the docker backend started services without their files")
    assert str(info.value).endswith(
        "is a file of the working copy; on the docker backend say where it is in the image "
        "with `container_path: /absolute/path` (or write it to {data_dir}/NAME)"
    )


def test_the_external_backend_refuses_files_it_cannot_write(system: Path) -> None:
    """It starts no service: the files would be written for nobody, so it says so first."""
    topology = load_topology(system / "domino.yaml")
    with (
        pytest.raises(UsageError, match=r"^the external backend starts no service") as info,
        start_stack("external", topology=topology),
    ):
        pytest.fail("the external backend started with files it cannot write")
    assert "front, stock, ledger, audit declares `files:`" in str(info.value)


def test_no_compose_file_is_generated_for_files_it_could_not_render(
    system: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "harness.backends.docker.compose", str(tmp_path / "out")),
            *("--topology", str(system / "domino.yaml")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    # (Before it, runpy warns that the docker package imported this module already.)
    assert result.stderr.splitlines()[-1:] == [
        "error: front, stock, ledger, audit declares settings files (`files:`), which a "
        "Compose file cannot render per container; run it with `--backend docker` instead"
    ]
    assert not (tmp_path / "out").exists()
