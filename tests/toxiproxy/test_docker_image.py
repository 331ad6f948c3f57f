"""The Toxiproxy image the docker backend runs holds Domino's server (docker/build-images.sh).

Needs a Docker engine and Domino's images; skipped without them unless
``DOMINO_REQUIRE_DOCKER=1`` (CI sets it), as tests/docker does.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from harness.backends import start_stack
from harness.errors import StackError
from harness.model.faults import Down
from harness.toxiproxy.abilities import SERVER_VERSION


def _docker_or_skip() -> None:
    from harness.backends.docker import preflight

    try:
        preflight()
    except StackError as exc:
        if os.environ.get("DOMINO_REQUIRE_DOCKER") == "1":
            pytest.fail(f"DOMINO_REQUIRE_DOCKER=1 but Docker cannot run: {exc}", pytrace=False)
        pytest.skip(f"no Docker engine or images: {exc}")


@pytest.fixture
def docker_ready() -> None:
    _docker_or_skip()


@pytest.mark.usefixtures("docker_ready")
def test_the_image_reports_domino_server_version() -> None:
    from harness.backends.docker.compose import TOXIPROXY_IMAGE

    printed = subprocess.run(
        ["docker", "run", "--rm", "--network=none", TOXIPROXY_IMAGE, "-version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert printed.split()[-1] == SERVER_VERSION


@pytest.mark.chaos
@pytest.mark.usefixtures("docker_ready")
def test_a_down_edge_on_docker_counts_the_calls_that_tried_it() -> None:
    with start_stack("docker", profile="hardened") as stack, stack.client(timeout_s=10) as journeys:
        assert stack.injector.server_toxics >= {"domino_hang", "domino_refuse"}
        journeys.token()  # the session first: only the card tab's call meets the fault
        card_tab = stack.topology.journey("card-tab")
        with stack.inject(Down(edge="bank->card")) as (applied,):
            assert stack.toxiproxy.proxy(applied.target).enabled
            answer = journeys.run(card_tab)
        assert answer.degraded or not answer.ok, answer
        calls, words = stack.injector.own_traffic(applied) or (0, "")
        assert calls >= 1, words
        assert "tried to cross it and were refused" in words
