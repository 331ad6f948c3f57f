"""The shop on the docker backend, from images built air-gapped, and from its Compose file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import Latency, StackError, find_topology, load_topology, start_stack
from harness.backends.docker import preflight
from harness.infra.readiness import wait_until
from tests.docker.conftest import REQUIRE_ENV, docker_required

pytestmark = pytest.mark.docker

SHOP_DIR = Path(__file__).resolve().parents[2] / "examples" / "shop"
BUILD = "bash examples/shop/build-images.sh"


@pytest.fixture(scope="module")
def shop_images() -> None:
    try:
        preflight(find_topology(SHOP_DIR / "domino.yaml"))
    except StackError as exc:
        if docker_required():
            pytest.fail(f"{REQUIRE_ENV}=1 but the shop's images are missing ({BUILD}): {exc}")
        pytest.skip(f"the shop's images are not built ({BUILD}): {exc}")


def _median_ms(stack: object, journey: str) -> float:
    from harness import Stack

    assert isinstance(stack, Stack)
    with stack.client(timeout_s=10) as client:
        seen = [client.run(stack.topology.journey(journey)) for _ in range(5)]
    assert all(o.ok for o in seen), seen
    return sorted(o.latency_ms for o in seen)[2]


def test_the_shop_runs_on_docker_and_a_toxic_slows_only_what_crosses_it(shop_images: None) -> None:
    with start_stack("docker", topology=find_topology(SHOP_DIR / "domino.yaml")) as stack:
        before = _median_ms(stack, "browse"), _median_ms(stack, "checkout")
        with stack.inject(Latency(edge="storefront->catalog", latency_ms=400)):
            during = _median_ms(stack, "browse"), _median_ms(stack, "checkout")
        assert during[0] >= before[0] + 360
        assert during[1] < before[1] + 100
        assert stack.injector.leftovers() == []


def test_an_imported_compose_file_runs_the_shop(shop_images: None, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "domino.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "import-compose",
            str(SHOP_DIR / "compose.yaml"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "storefront->catalog" in result.stdout
    imported = load_topology(out)
    assert set(imported.edge_names) == set(find_topology(SHOP_DIR / "domino.yaml").edge_names)
    with start_stack("docker", topology=imported) as stack:
        with stack.client(timeout_s=10) as client:
            seen = client.run(imported.journeys[0])
        assert seen.status is not None  # the placeholder journey reached the storefront
        # Toxiproxy counts a connection's bytes as its pipes finish: wait for them.
        wait_until(
            lambda: stack.toxiproxy.proxy_bytes().get(imported.entry_edge.proxy_name, 0) > 0,
            timeout_s=10,
            what="the journey's bytes on the imported client edge",
        )
