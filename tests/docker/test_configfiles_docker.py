"""Services that read every address from files next to their code, on the docker backend.

The same test system as tests/configfiles (front and stock read a config.json
beside their code, ledger a .env, audit an application.yml it is given the
path of), from domino.yaml alone: its image holds the code at /app, each
file's ``container_path`` says where it sits there, and Domino copies each
container's own rendered file in before it starts. The user's working copy is
only read: it is as it was during the run, after it, and after SIGKILL of the
runner.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import Crash, Latency, Stack, load_topology, start_stack
from tests.configfiles.conftest import SYSTEM, sigkill_domino_up, snapshot

pytestmark = pytest.mark.docker

#: Where services listen inside their containers (on the run's own network).
ALL_ADDRESSES = "0.0.0.0"  # noqa: S104 - read from a file, not bound

IMAGE = "domino-test/configfiles:0.1.0"
#: An image with python3 that docker/build-images.sh always builds.
BASE_IMAGE = "domino/services:0.1.0"
_DOCKERFILE = f"""FROM {BASE_IMAGE}
COPY . /app
ENV PYTHONPATH=/app/vendor
"""


def _engine() -> Any:
    from harness.backends.docker.engine import connect

    return connect()


@pytest.fixture(scope="module")
def image() -> str:
    """The test system's image: its code at /app, PyYAML (audit reads YAML) vendored in.

    Built without network from the image docker/build-images.sh makes, in
    seconds from the engine's layer cache. Kept afterwards, like the images
    that script builds: another worker may be running containers from it.
    """
    client = _engine()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = _DOCKERFILE.encode()
        entry = tarfile.TarInfo("Dockerfile")
        entry.size = len(dockerfile)
        tar.addfile(entry, io.BytesIO(dockerfile))
        tar.add(SYSTEM, arcname=".", filter=_no_cache)
        tar.add(Path(yaml.__file__).parent, arcname="vendor/yaml", filter=_no_cache)
    context.seek(0)
    try:
        client.images.build(
            fileobj=context, custom_context=True, tag=IMAGE, network_mode="none", rm=True
        )
    finally:
        client.close()
    return IMAGE


def _no_cache(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "__pycache__" in info.name or info.name.endswith(".so") else info


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the test system (a user's working copy), with its own DOMINO_HOME."""
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    copy = tmp_path / "shop"
    shutil.copytree(SYSTEM, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _median_ms(stack: Stack, calls: int = 5) -> float:
    with stack.client(timeout_s=10) as client:
        seen = [client.run(stack.topology.journey("buy")) for _ in range(calls)]
    assert all(o.ok for o in seen), seen
    return sorted(o.latency_ms for o in seen)[calls // 2]


def _read_in(stack: Stack, service: str, path: str) -> str:
    client = _engine()
    try:
        container = client.containers.get(stack.extra["containers"][service])
        code, output = container.exec_run(["cat", path])
    finally:
        client.close()
    assert code == 0, output
    return str(output.decode())


def test_a_system_configured_by_files_runs_on_docker_and_the_working_copy_is_only_read(
    image: str, system: Path
) -> None:
    before = snapshot(system)
    with start_stack("docker", topology=load_topology(system / "domino.yaml")) as stack:
        assert snapshot(system) == before  # nothing is written on the host
        front = json.loads(_read_in(stack, "front", "/app/front/config.json"))
        # Its own port is its container_port; each dependency its edge's listener.
        listener = {n: e.upstream for n, e in stack.edges.items()}
        assert front["listen"] == {"host": ALL_ADDRESSES, "port": 8080}
        assert front["stock"]["host"] == "toxiproxy"
        assert front["ledger"].startswith("http://toxiproxy:")
        assert front["audit"] == {"url": front["audit"]["url"], "retries": 0}
        assert listener["front->stock"] == "stock:8080"
        dotenv = _read_in(stack, "ledger", "/app/ledger/.env").splitlines()
        assert dotenv[:2] == [
            "# The ledger's settings, as a developer runs it.",
            "LEDGER_NAME=main",
        ]
        assert "export PORT=8080" in dotenv
        audit = list(yaml.safe_load_all(_read_in(stack, "audit", "/data/audit/application.yml")))
        assert audit[0]["server"] == {"port": 8080, "address": ALL_ADDRESSES}
        assert audit[1]["server"] == {"port": 80}  # a later document (a Spring profile) is kept

        plain_ms = _median_ms(stack)
        with stack.inject(Latency(edge="front->stock", latency_ms=300)):
            assert _median_ms(stack) >= plain_ms + 270  # the call really crosses the proxy
        with stack.inject(Crash(service="front")):  # killed, then started again at the end
            pass
        assert _median_ms(stack) < plain_ms + 270  # the started container kept its files
    assert snapshot(system) == before


def test_after_sigkill_of_a_docker_runner_the_users_files_are_as_they_were(
    image: str, system: Path
) -> None:
    from harness.backends.docker import reconcile_docker

    before = snapshot(system)
    sigkill_domino_up(system, "docker", timeout_s=90)
    try:
        assert snapshot(system) == before
    finally:
        removed = reconcile_docker()  # the killed run's containers and network
    assert any(runner_name.startswith("container domino-") for runner_name in removed), removed
    assert snapshot(system) == before
