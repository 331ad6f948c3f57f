"""``python -m harness.loadgen`` (the future ``domino load``): live line, summary, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.loadgen.conftest import ROOT, ServerProcess


def _load(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.loadgen", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_valid_run_prints_progress_and_a_summary(server: ServerProcess) -> None:
    done = _load(
        "--url", server.url, "--path", "/fast", "--shape", "constant", "--rate", "100",
        "--duration-s", "1.5", "--arrivals", "even", "--max-requests", "5000",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "offered    100/s achieved" in done.stderr
    assert "admitted" in done.stderr
    assert "load run VALID" in done.stdout
    assert len(server.requests("/fast")) == 150


def test_json_output_and_retries(server: ServerProcess) -> None:
    done = _load(
        "--url", server.url, "--path", "/reject", "--rate", "10", "--duration-s", "0.5",
        "--arrivals", "even", "--max-requests", "100", "--retry", "immediate", "--retries", "2",
        "--idempotency-key", "--json", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["actions"] == 5
    assert result["attempts"] == 15
    assert result["attempts_per_action"] == 3.0
    keys = {s.headers["idempotency-key"] for s in server.requests("/reject")}
    assert len(keys) == 5


def test_an_invalid_run_exits_3(server: ServerProcess) -> None:
    done = _load(
        "--url", server.url, "--path", "/slow", "--rate", "50", "--duration-s", "1",
        "--max-requests", "500", "--max-in-flight", "2", "--quiet",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "INVALID" in done.stdout
    assert "dropped" in done.stdout


def test_an_unsafe_target_exits_2_with_one_line() -> None:
    done = _load("--url", "http://10.1.2.3:80", "--max-requests", "10")
    assert done.returncode == 2
    assert "refusing to send traffic" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_request_cap_is_mandatory() -> None:
    done = _load("--url", "http://127.0.0.1:1")
    assert done.returncode == 2
    assert "--max-requests" in done.stderr
