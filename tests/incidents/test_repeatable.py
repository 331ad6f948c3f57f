"""The KB Pay verdicts are stable: five runs in a row give the same verdict per check."""

from __future__ import annotations

import pytest

from harness.experiment import run_incident
from harness.library import find_incident
from harness.pytest_plugin import StackPool

pytestmark = pytest.mark.chaos

REPEATS = 5


@pytest.mark.parametrize("profile", ["fragile", "hardened"])
def test_kbpay_verdicts_do_not_change_over_five_runs(
    profile: str, domino_stack_pool: StackPool, request: pytest.FixtureRequest
) -> None:
    spec = find_incident("kbpay-2023-01-25")
    stack = domino_stack_pool.get(request.config.getoption("--domino-backend"), profile)
    seen = []
    for _ in range(REPEATS):
        result = run_incident(stack, spec, profile)
        seen.append(
            (result.verdict.outcome, tuple((c.name, c.passed) for c in result.verdict.checks))
        )
    assert len(set(seen)) == 1, seen
    assert seen[0][0] == "pass"
