"""On the docker backend, a container that exits with no fault to explain it is a death
the service control reports (its exit code, its finish time, its logs); a crash fault's
kill is not."""

from __future__ import annotations

import time

import pytest

from harness.backends.docker import ContainerControl
from harness.infra.readiness import wait_until
from harness.stack import Stack

pytestmark = pytest.mark.chaos


@pytest.mark.docker
@pytest.mark.domino_backend("docker")
def test_a_container_killed_by_hand_is_a_death_with_its_exit_code_and_finish_time(
    domino_stack: Stack,
) -> None:
    control = domino_stack.injector.services
    assert isinstance(control, ContainerControl)
    before = len(control.deaths())
    control.kill("pay")  # a crash fault's kill: down on purpose, not a death
    assert len(control.deaths()) == before
    control.start("pay")

    killed_at = time.monotonic()
    control._container("card").kill(signal="SIGKILL")  # by hand, past the control
    wait_until(
        lambda: len(control.deaths()) > before, timeout_s=10, interval_s=0.1, what="card's death"
    )
    deaths = control.deaths()[before:]
    assert [d.service for d in deaths] == ["card"], deaths
    (death,) = deaths
    assert death.exit_code == 137
    assert death.exit_status == "exited with code 137 (128 + signal 9)"
    assert death.exited_at_s is not None
    assert killed_at - 1 <= death.exited_at_s <= death.seen_at_s
    assert death.log_tail
    assert control.restore_all() == ["card"]  # recorded first, then started again
    assert control.deaths()[before:] == deaths
