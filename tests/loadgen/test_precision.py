"""The engine's dispatcher keeps the schedule: never early, no wait for what is due, on
uvloop's loop where it is installed."""

from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest

from harness.loadgen.engine import _until
from harness.loadgen.loop import loop_name, run_on_fast_loop


@pytest.mark.parametrize("spin_s", [0.0, 0.002], ids=["sleeping", "spinning"])
def test_the_dispatcher_never_starts_an_arrival_before_its_time(spin_s: float) -> None:
    async def late_by_s() -> list[float]:
        lateness = []
        for offset_s in (0.0002, 0.0009, 0.0015, 0.003, 0.0071):
            intended = time.monotonic() + offset_s
            assert await _until(intended, spin_s) is True
            lateness.append(time.monotonic() - intended)
        return lateness

    assert all(late >= 0 for late in asyncio.run(late_by_s()))


def test_an_arrival_already_due_is_started_without_waiting() -> None:
    async def due() -> bool:
        return await _until(time.monotonic() - 0.001)

    assert asyncio.run(due()) is False


def test_a_run_is_on_uvloop_exactly_where_uvloop_is_installed() -> None:
    async def running_loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    installed = importlib.util.find_spec("uvloop") is not None
    module = run_on_fast_loop(running_loop_module())
    assert module.startswith("uvloop") == installed
    assert loop_name() == ("uvloop" if installed else "asyncio")
