"""A service stops when told to, gracefully (``services/kit/server.py: PromptServer``).

Behaviour, not time: an answer in flight when SIGTERM arrives is still
given, then the lifespan's shutdown runs, and the process ends by the
SIGTERM it was stopped with, which uvicorn raises again once it has stopped
(so its parent sees how it ended: exit status -15, as with ``uvicorn.run``);
an idle service, kept-alive connection and all, stops so with its shutdown
run, although its grace for answers in flight is long (a stop that waited
for idle connections would outlast the test's wait). The app is
:mod:`tests.services.prompt_app`; a real service of Domino's
(``python -m services.pay``) shows its shutdown by closing its SQLite file.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.infra.readiness import http_ok, wait_until
from tests.services.conftest import ServiceProcess

REPO = Path(__file__).resolve().parents[2]
#: Far below the app's 60 s grace: a stop that waited for it fails here.
_STOP_WAIT_S = 20


class _App:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.services.prompt_app", str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        try:
            assert self.process.stdout is not None
            line = self.process.stdout.readline()
            assert line.strip().isdigit(), f"no port: {line!r} {self._said()}"
            self.url = f"http://127.0.0.1:{int(line)}"
            wait_until(
                lambda: http_ok(f"{self.url}/health"),
                timeout_s=30,
                what="the app to answer",
                abort=lambda: None if self.process.poll() is None else "the app exited",
            )
        except BaseException:  # a start that failed leaves no app running
            self.process.kill()
            self.process.wait()
            raise

    def _said(self) -> str:
        """What the app wrote on stderr (once it has exited; else nothing is read)."""
        if self.process.poll() is None or self.process.stderr is None:
            return "(still running)"
        return self.process.stderr.read()

    def stopped(self) -> int:
        """SIGTERM; its exit status (-15 once stopped gracefully: see the module docstring)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=_STOP_WAIT_S)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[_App]:
    started = _App(tmp_path)
    yield started
    if started.process.poll() is None:
        started.process.kill()
    started.process.communicate(timeout=10)


def test_an_answer_in_flight_at_sigterm_is_given_then_the_service_stops(app: _App) -> None:
    answers: list[httpx.Response | BaseException] = []

    def ask() -> None:
        try:
            answers.append(httpx.get(f"{app.url}/held", timeout=_STOP_WAIT_S))
        except httpx.HTTPError as exc:
            answers.append(exc)

    asking = threading.Thread(target=ask)
    asking.start()
    try:
        wait_until((app.folder / "held").exists, timeout_s=10, what="the call in flight")
        assert not (app.folder / "shutdown").exists()
        assert app.stopped() == -signal.SIGTERM
    finally:
        asking.join(timeout=_STOP_WAIT_S)
    (answer,) = answers
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 200
    # Answered after the stop was asked for, and before the lifespan's shutdown.
    assert answer.json() == {"told_to_stop": True, "shutdown_ran_first": False}
    assert (app.folder / "shutdown").exists()


def test_an_idle_service_stops_on_sigterm_with_its_shutdown_run(app: _App) -> None:
    assert app.stopped() == -signal.SIGTERM
    assert (app.folder / "shutdown").read_text() == "the lifespan's shutdown ran"


def test_an_idle_kept_alive_connection_does_not_hold_the_stop(app: _App) -> None:
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{app.url}/health").is_success  # its connection stays open, idle
        # Not after the 60 s grace: the idle connection was closed at once.
        assert app.stopped() == -signal.SIGTERM
        assert (app.folder / "shutdown").exists()
        with pytest.raises(httpx.TransportError):
            client.get(f"{app.url}/health")


def test_a_service_of_dominos_stops_on_sigterm_closing_its_data(tmp_path: Path) -> None:
    service = ServiceProcess("pay", tmp_path / "data" / "pay").start()
    process: Any = service._process
    try:
        wal = sorted(p.name for p in service.data_dir.glob("*-wal"))
        assert wal, "the running service holds its SQLite file open (WAL)"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=_STOP_WAIT_S) == -signal.SIGTERM
        # Its lifespan's shutdown closed the database: SQLite removes the WAL on the last close.
        assert sorted(p.name for p in service.data_dir.glob("*-wal")) == []
    finally:
        service.stop()
