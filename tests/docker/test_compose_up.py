"""compose/docker-compose.yml itself works: a Compose tool brings it up, a journey
crosses the client->bank edge, and it is torn down without leftovers.

The Compose tool is ``$DOMINO_COMPOSE`` if set (e.g. ``docker compose``), else
``docker-compose`` (Debian's v1.29, what CI installs), else ``docker compose``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import JourneyClient, find_topology
from harness.backends.docker import domino_resources, owner_label
from harness.backends.docker.compose import TOXIPROXY_API_PORT, TOXIPROXY_HOST, edge_listeners
from harness.infra.readiness import wait_until
from harness.plugins import get_adapter
from harness.toxiproxy.client import ToxiproxyClient
from tests.docker.conftest import REQUIRE_ENV, docker_required

BANK_TOPOLOGY = find_topology("bank")

pytestmark = pytest.mark.docker

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"


def _compose_tool() -> list[str] | None:
    configured = os.environ.get("DOMINO_COMPOSE")
    if configured:
        return shlex.split(configured)
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
    )
    return ["docker", "compose"] if probe.returncode == 0 else None


class _Project:
    """One Compose project from the committed file, on ports the engine picks."""

    def __init__(self, tool: list[str]) -> None:
        self.name = f"domino-compose-test-{os.getpid()}"
        self.base = [*tool, "--project-name", self.name, "--file", str(COMPOSE_FILE)]
        self.env = dict(
            os.environ,
            DOMINO_TOXIPROXY_PORT="0",
            DOMINO_ENTRY_PORT="0",
            # Labels the containers as this process's: if the test is killed,
            # the next docker_stack start removes them.
            DOMINO_OWNER=owner_label(),
        )

    def run(self, *args: str, timeout_s: float = 180) -> str:
        result = subprocess.run(
            [*self.base, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"`{shlex.join([*self.base, *args])}` failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return result.stdout

    def address(self, service: str, port: int) -> str:
        """``host:port`` on the harness's side for a published container port."""
        return self.run("port", service, str(port)).strip().splitlines()[-1]


@pytest.fixture
def project() -> Iterator[_Project]:
    tool = _compose_tool()
    if tool is None:
        message = "no Compose tool (docker-compose or `docker compose`)"
        if docker_required():
            pytest.fail(f"{REQUIRE_ENV}=1 but {message}", pytrace=False)
        pytest.skip(message)
    compose = _Project(tool)
    try:
        yield compose
    finally:
        compose.run("down", "--volumes", "--remove-orphans", "--timeout", "5")
    from harness.backends.docker import _connect

    label = f"com.docker.compose.project={compose.name}"
    containers, networks = domino_resources(_connect(), label=label)
    assert (containers, networks) == ([], []), "`down` left containers or networks behind"


def test_compose_file_answers_a_journey_through_the_client_edge(project: _Project) -> None:
    project.run("up", "--detach")
    entry_port = edge_listeners(BANK_TOPOLOGY)[BANK_TOPOLOGY.entry_edge.name].port
    entry_url = "http://" + project.address(TOXIPROXY_HOST, entry_port)
    assert entry_url.startswith("http://127.0.0.1:")

    # Toxiproxy loaded every edge's proxy from the mounted config.
    toxiproxy = ToxiproxyClient("http://" + project.address(TOXIPROXY_HOST, TOXIPROXY_API_PORT))
    assert set(toxiproxy.proxies()) == {e.proxy_name for e in BANK_TOPOLOGY.edges}

    journeys = {j.name: j for j in BANK_TOPOLOGY.journeys}
    with JourneyClient(entry_url, BANK_TOPOLOGY, get_adapter("bank"), timeout_s=10) as client:
        # `up` returns once bank's dependencies are healthy; bank itself may still be starting.
        wait_until(
            lambda: client.run(journeys["login"]).ok, timeout_s=60, what=f"login at {entry_url}"
        )
        balance = client.run(journeys["balance"])
    assert balance.ok, balance
    crossed = toxiproxy.proxy_bytes().get(BANK_TOPOLOGY.entry_edge.proxy_name, 0)
    assert crossed > 0, "the journeys did not cross the client->bank proxy"
