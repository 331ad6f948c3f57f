"""The fault timeline holds each step in a scope of the injector (harness/experiment/timeline.py).

The injector is real; Toxiproxy, the observer and the fault family are
stand-ins, so the order of what the timeline does is what is checked: a ramp
step's scope is left before the next step's is entered, and a fault that
counts its own traffic is read after its scope removed it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.adapters.http import NoControl
from harness.errors import AdminCallError, FaultRemovalError
from harness.experiment.timeline import Timeline
from harness.library import find_topology
from harness.model.faults import Latency
from harness.model.incident import FaultStep
from harness.stack.injection import Injector

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "domino.yaml"
EDGE = "checkout->catalog"


class _Recording:
    """A fault family that logs what the injector asks of it, and counts its own traffic."""

    def __init__(self, *, fail_removal: bool = False) -> None:
        self.log: list[str] = []
        self._fail_removal = fail_removal

    def apply(self, fault: Latency) -> tuple[str, str]:
        handle = f"{fault.latency_ms}ms"
        self.log.append(f"apply {handle}")
        return fault.edge, handle

    def remove(self, target: str, handle: str) -> None:
        self.log.append(f"remove {handle}")
        if self._fail_removal:
            raise AdminCallError(f"could not remove {handle}")

    def own_traffic(self, handle: str) -> tuple[int, str]:
        self.log.append(f"count {handle}")
        return 3, f"3 calls met {handle}"


def _timeline(family: _Recording, step: FaultStep) -> Timeline:
    topology = find_topology(SHOP)
    toxiproxy: Any = SimpleNamespace(version=lambda: "2.12.0", proxy_bytes=dict, traffic=dict)
    injector = Injector(
        topology=topology, toxiproxy=toxiproxy, proxies={EDGE: EDGE}, control=NoControl()
    )
    injector.register(Latency, family)
    stack: Any = SimpleNamespace(
        topology=topology,
        toxiproxy=toxiproxy,
        injector=injector,
        edges={e.name: SimpleNamespace(proxy=e.name) for e in topology.edges},
    )
    observer: Any = SimpleNamespace(
        now_s=lambda: 1.0,
        stats=lambda: SimpleNamespace(calls=0),
        calls_started=dict,
    )
    return Timeline(stack, (step,), observer)


def _play(timeline: Timeline) -> None:
    for _at_s, action in timeline.events():
        action()


def test_each_ramp_step_is_held_in_its_own_scope_and_counted_after_removal() -> None:
    family = _Recording()
    timeline = _timeline(family, FaultStep(Latency(edge=EDGE, latency_ms=400), 0.0, 4.0, 2.0))
    _play(timeline)
    assert family.log == [
        "apply 100ms",
        "remove 100ms",
        "apply 200ms",
        "remove 200ms",
        "apply 300ms",
        "remove 300ms",
        "apply 400ms",
        "remove 400ms",
        "count 400ms",
    ]
    (window,) = timeline.windows
    assert (window.touched, window.evidence) == (True, "3 calls met 400ms")


def test_a_step_still_held_is_removed_by_release_all() -> None:
    family = _Recording()
    timeline = _timeline(family, FaultStep(Latency(edge=EDGE, latency_ms=400), 0.0, 4.0))
    first_apply = timeline.events()[0][1]
    first_apply()
    timeline.release_all()
    assert family.log == ["apply 400ms", "remove 400ms", "count 400ms"]


def test_a_removal_that_fails_says_what_may_be_left_behind() -> None:
    family = _Recording(fail_removal=True)
    timeline = _timeline(family, FaultStep(Latency(edge=EDGE, latency_ms=400), 0.0, 4.0))
    with pytest.raises(FaultRemovalError, match="faults may be left behind: latency"):
        _play(timeline)
