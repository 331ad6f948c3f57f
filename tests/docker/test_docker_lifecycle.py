"""No container or network of Domino's outlives a docker run, on any path.

Normal exit, an exception, a failed start and SIGTERM remove everything the
run created; SIGKILL cannot, so the next start removes what it left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import ServiceStartError, find_topology
from harness.backends.docker import docker_stack, domino_resources, owner_label
from harness.backends.docker.compose import LABEL_OWNER, LABEL_RUN, TOXIPROXY_IMAGE
from harness.infra.runstate import runs_dir

BANK_TOPOLOGY = find_topology("bank")

pytestmark = pytest.mark.docker

_CHILD = """
import json, sys
from harness import find_topology
BANK_TOPOLOGY = find_topology("bank")
from harness.backends.docker import docker_stack
with docker_stack(BANK_TOPOLOGY) as stack:
    print(json.dumps({"run": stack.extra["run"]}), flush=True)
    sys.stdin.read()  # hold the stack until the test closes stdin or signals us
"""


def _client() -> Any:
    from harness.backends.docker import _connect

    return _connect()


def _names(label: str) -> tuple[list[str], list[str]]:
    containers, networks = domino_resources(_client(), label=label)
    return sorted(c.name for c in containers), sorted(n.name for n in networks)


def _remove(label: str) -> None:
    """Remove what a failed test may have left, so one failure does not leak into others."""
    from harness.backends.docker import _remove_labelled

    _remove_labelled(_client(), label)


class _Child:
    """A process holding a docker stack, started the way a user's script would."""

    def __init__(self, home: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, DOMINO_HOME=str(home)),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until the stack is up (or the child died)
        if not line:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"the child printed nothing: {stderr[-2000:]}")
        self.run = str(json.loads(line)["run"])

    def end(self, sig: signal.Signals | None = None) -> int:
        """Close stdin (a normal exit) or send ``sig``; return the exit code."""
        if sig is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
        else:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOMINO_HOME, for run records of this test only."""
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def children(home: Path) -> Iterator[list[_Child]]:
    started: list[_Child] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait(timeout=30)
        _remove(f"{LABEL_RUN}={child.run}")


def test_sigkill_leaves_containers_that_the_next_start_removes(
    home: Path, children: list[_Child]
) -> None:
    child = _Child(home)
    children.append(child)
    label = f"{LABEL_RUN}={child.run}"
    containers, networks = _names(label)
    assert len(containers) == 1 + len(BANK_TOPOLOGY.services)
    assert len(networks) == 1

    assert child.end(signal.SIGKILL) == -signal.SIGKILL
    assert _names(label) == (containers, networks), "SIGKILL left nothing to reconcile?"
    assert list(runs_dir().glob("docker-*.json")), "the killed run's record should remain"

    messages: list[str] = []
    with docker_stack(BANK_TOPOLOGY, progress=messages.append) as stack:
        assert _names(label) == ([], [])
        assert any("removed what a killed run left" in m for m in messages), messages
        assert stack.extra["run"] != child.run
    assert not list(runs_dir().glob("docker-*.json"))


@pytest.mark.parametrize("how", ["normal exit", "exception"])
def test_a_run_removes_its_containers_and_network(home: Path, how: str) -> None:
    run = ""
    expected = pytest.raises(RuntimeError) if how == "exception" else contextlib.nullcontext()
    with expected, docker_stack(BANK_TOPOLOGY) as stack:
        run = stack.extra["run"]
        containers, networks = _names(f"{LABEL_RUN}={run}")
        assert len(containers) == 1 + len(BANK_TOPOLOGY.services)
        assert networks == [stack.extra["network"]]
        if how == "exception":
            raise RuntimeError("a test failed inside the stack")
    assert run
    assert _names(f"{LABEL_RUN}={run}") == ([], [])
    assert not list(runs_dir().glob("docker-*.json"))


def test_a_failed_start_removes_what_it_created(home: Path) -> None:
    mine = f"{LABEL_OWNER}={owner_label()}"
    before = _names(mine)  # the session's shared stacks are this process's too
    # Toxiproxy's image as the services' image: containers start, health never answers.
    with (
        pytest.raises(ServiceStartError, match="service bank"),
        docker_stack(BANK_TOPOLOGY, images={"*": TOXIPROXY_IMAGE}, ready_timeout_s=2),
    ):
        pytest.fail("the stack should not have come up")
    assert _names(mine) == before


def test_sigterm_removes_everything(home: Path, children: list[_Child]) -> None:
    child = _Child(home)
    children.append(child)
    child.end(signal.SIGTERM)
    assert _names(f"{LABEL_RUN}={child.run}") == ([], [])
    assert not list(runs_dir().glob("docker-*.json"))
