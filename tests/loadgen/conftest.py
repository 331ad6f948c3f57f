"""Fixtures for the load engine's tests: a real HTTP server on 127.0.0.1, in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Seen:
    at: float  # time.monotonic() (system-wide) when the server had read the request
    method: str
    path: str
    headers: dict[str, str]
    body: str
    connection: int  # a number per TCP connection the server accepted


class ServerProcess:
    """``tests/loadgen/server.py`` run as a child process; see its doc for the routes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.loadgen.server"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        # the child prints its port as soon as it listens (readline blocks until then)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"test server did not start: {line!r}")
        self.port = int(line)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self, path: str | None = None) -> list[Seen]:
        with urllib.request.urlopen(f"{self.url}/__seen", timeout=5) as answer:  # noqa: S310
            items: list[dict[str, Any]] = json.loads(answer.read())
        return [Seen(**item) for item in items if path is None or item["path"] == path]

    def accepted(self) -> list[tuple[int, float]]:
        """``(connection, at)`` for each connection accepted since the last reset, in order."""
        with urllib.request.urlopen(f"{self.url}/__accepted", timeout=5) as answer:  # noqa: S310
            items: list[dict[str, Any]] = json.loads(answer.read())
        return [(item["connection"], item["at"]) for item in items]

    def reset(self) -> None:
        with urllib.request.urlopen(f"{self.url}/__reset", timeout=5):  # noqa: S310
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="session")
def _server_process() -> Iterator[ServerProcess]:
    started = ServerProcess()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def server(_server_process: ServerProcess) -> ServerProcess:
    """The test server, with no requests recorded yet."""
    _server_process.reset()
    return _server_process
