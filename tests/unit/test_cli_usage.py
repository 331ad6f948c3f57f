"""Bad command lines get one line on stderr and exit code 2, with nothing started."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["up", "--profile", "brittle"], "unknown profile 'brittle' for topology 'bank'"),
        (["up", "--topology", "no-such-system"], "no topology 'no-such-system'"),
        (["validate", "no-such-file.yaml"], "no-such-file.yaml: no such"),
        (["up", "--knob", "retries"], "--knob takes NAME=VALUE"),
        (["up", "--knob", "no_such_knob=1"], "unknown knob 'no_such_knob'"),
        (["up", "--knob", "retries=many"], "knob retries takes a number"),
        (["fault", "latency", "--edge", "card->pay", "--set", "latency_ms=-1"], "must be >= 0"),
        (["fault", "latency", "--edge", "card->pay", "--set", "latncy_ms=5"], "unknown attribute"),
        (["nonsense"], "invalid choice: 'nonsense'"),
    ],
)
def test_bad_usage_exits_2_with_a_clear_line(argv: list[str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
