"""What the docker backend says when it cannot start, and whose leftovers it removes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness import StackError, find_topology, start_stack
from harness.backends.docker import (
    DockerImageMissingError,
    DockerImageStaleError,
    DockerUnavailableError,
    docker_stack,
    owner_label,
)
from harness.backends.docker.owners import _owner_gone
from harness.systems.bank.adapter import services_digest

BANK_TOPOLOGY = find_topology("bank")


def test_no_engine_is_a_one_line_stack_error_saying_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(DockerUnavailableError) as caught, start_stack("docker"):
        pytest.fail("started without an engine")
    message = str(caught.value)
    assert isinstance(caught.value, StackError)
    assert "\n" not in message
    assert "no Docker engine reachable" in message
    assert "dockerd" in message


@pytest.mark.docker
def test_a_missing_image_names_the_build_command() -> None:
    with (
        pytest.raises(DockerImageMissingError, match=r"domino/no-such:0\.0.*build-images\.sh"),
        docker_stack(BANK_TOPOLOGY, images={"bank": "domino/no-such:0.0"}),
    ):
        pytest.fail("started without the image")


def test_the_services_digest_is_the_one_the_build_script_computes() -> None:
    root = Path(__file__).resolve().parents[2]
    script = (
        "find services -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort "
        "| xargs sha256sum | sha256sum | cut -d' ' -f1"
    )
    shell = subprocess.run(
        ["bash", "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert shell.stdout.strip() == services_digest(root)
    assert issubclass(DockerImageStaleError, DockerImageMissingError)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="start times from /proc")
def test_owners_that_are_gone_and_owners_that_are_not() -> None:
    assert not _owner_gone(owner_label())  # this process
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert _owner_gone(owner_label(child.pid))  # exited and reaped
    pid, started = owner_label().split(":")[1:]
    host = socket.gethostname()
    assert _owner_gone(f"{host}:{pid}:{int(started) + 1}")  # the pid now belongs to another start
    assert not _owner_gone(f"another-host:{child.pid}:1")  # not ours to judge
    assert not _owner_gone("")  # a hand-made `docker compose up`
