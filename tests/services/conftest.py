"""Helpers for the services' tests: tokens, direct clients, invariant checks, own processes.

Most tests use the harness's running stack (``domino_stack``: real processes,
real SQLite, every edge through a real Toxiproxy) and call services on their
direct URLs. Tests that kill and restart a service start it themselves
(:class:`ServiceProcess`) on ``DOMINO_PORT`` with their own data folder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import Stack
from harness.infra.readiness import http_ok, wait_until

ADMIN_TOKEN = "test-admin-token"
TOKEN_SECRET = "test-token-secret"


def login(base_url: str, customer: str) -> str:
    """A session token for a seeded customer (``c0001`` ... ``c0100``)."""
    response = httpx.post(
        f"{base_url}/login",
        json={"customer_id": customer, "password": f"domino-{customer}"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def invariants(base_url: str, admin_token: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base_url}/admin/invariants", headers={"X-Admin-Token": admin_token}, timeout=10
    )
    response.raise_for_status()
    report: dict[str, Any] = response.json()
    return report


def stats(base_url: str, admin_token: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base_url}/admin/stats", headers={"X-Admin-Token": admin_token}, timeout=10
    )
    response.raise_for_status()
    report: dict[str, Any] = response.json()
    return report


def krw_balance(base_url: str, token: str) -> int:
    response = httpx.get(f"{base_url}/accounts", headers=bearer(token), timeout=10)
    response.raise_for_status()
    for account in response.json()["accounts"]:
        if account["currency"] == "KRW" and account["product"] == "krw":
            return int(account["balance_minor"])
    raise AssertionError("no KRW account")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """One HTTP client for the test (a client per call costs ~50 ms of TLS setup)."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that used a stack leaves every service's invariants intact."""
    if "domino_stack" not in request.fixturenames:
        yield
        return
    # Asked for before the test runs, so the stack is torn down after this check.
    stack: Stack = request.getfixturevalue("domino_stack")
    yield
    with httpx.Client(timeout=10, headers={"X-Admin-Token": stack.admin_token}) as http:
        for name, url in stack.services.items():
            response = http.get(f"{url}/admin/invariants")
            response.raise_for_status()
            report = response.json()
            assert report["ok"], f"{name} invariants broken: {report['violations']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One service run as ``python -m services.NAME`` on its own port and data folder."""

    def __init__(
        self,
        name: str,
        data_dir: Path,
        *,
        profile: str = "hardened",
        deps: Mapping[str, str] | None = None,
        knobs: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.data_dir = data_dir
        self.profile = profile
        self.deps = dict(deps or {})
        self.knobs = dict(knobs or {})
        self.port = _free_port()
        self.log_path = data_dir.parent / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        env = {
            **os.environ,
            "DOMINO_SERVICE": self.name,
            "DOMINO_PROFILE": self.profile,
            "DOMINO_KNOBS": json.dumps(self.knobs),
            "DOMINO_DATA_DIR": str(self.data_dir),
            "DOMINO_ADMIN_TOKEN": ADMIN_TOKEN,
            "DOMINO_TOKEN_SECRET": TOKEN_SECRET,
            "DOMINO_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DOMINO_LISTEN_FD", None)
        for dep, url in self.deps.items():
            env[f"DOMINO_DEP_{dep.upper()}"] = url
            env[f"DOMINO_EDGE_{dep.upper()}"] = f"{self.name}->{dep}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = self._process
        wait_until(
            lambda: http_ok(f"{self.url}/health"),
            timeout_s=30,
            what=f"{self.name} on port {self.port}",
            abort=lambda: None if process.poll() is None else f"{self.name} exited",
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when a machine loses the process."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._process = None


@pytest.fixture
def own_service(tmp_path: Path) -> Iterator[Any]:
    """``own_service(name, **options)`` starts a service process; all are stopped after."""
    started: list[ServiceProcess] = []

    def _start(name: str, **options: Any) -> ServiceProcess:
        process = ServiceProcess(name, tmp_path / "data" / name, **options)
        started.append(process)
        return process.start()

    yield _start
    for process in reversed(started):
        process.stop()
