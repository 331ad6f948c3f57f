"""The bank's demo (``domino demo``): one fault on one edge, and what two user journeys see.

Brings the stack up, measures the card tab and the balance inquiry, holds
1000 ms of latency on ``card->pay``, measures again, and prints a table. It
passes when the card tab got slower by at least the injected latency and the
balance inquiry did not.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from harness.journeys import JourneyClient
from harness.model.faults import Latency
from harness.stack import Stack

__all__ = ["DemoResult", "run_demo"]

_SAMPLES = 5
_LATENCY_MS = 1000


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Median latency per journey before and during the fault, in milliseconds."""

    before_ms: dict[str, float]
    during_ms: dict[str, float]
    injected_ms: int

    fastest_card_tab_during_ms: float

    @property
    def passed(self) -> bool:
        balance_delta = self.during_ms["balance"] - self.before_ms["balance"]
        return (
            self.fastest_card_tab_during_ms >= self.injected_ms
            and balance_delta < self.injected_ms / 4
        )

    def table(self) -> str:
        lines = [f"{'journey':<10} {'before (p50)':>13} {'during (p50)':>13} {'change':>9}"]
        for name, before in self.before_ms.items():
            during = self.during_ms[name]
            lines.append(
                f"{name:<10} {before:>10.1f} ms {during:>10.1f} ms {during - before:>+6.0f} ms"
            )
        return "\n".join(lines)


def _measure(client: JourneyClient, stack: Stack) -> dict[str, list[float]]:
    """Latencies of successful calls per journey (a failed call counts as infinitely slow)."""
    journeys = {j.name: j for j in stack.topology.journeys}
    result = {}
    for name in ("card-tab", "balance"):
        samples = [client.run(journeys[name]) for _ in range(_SAMPLES)]
        result[name] = [o.latency_ms if o.ok else float("inf") for o in samples]
    return result


def run_demo(stack: Stack, say: Callable[[str], None]) -> DemoResult:
    """Run the demo on a running stack; faults are removed on every path."""
    with stack.client() as client:
        say(f"measuring card-tab and balance, {_SAMPLES} calls each, no fault")
        before = _measure(client, stack)
        say(f"holding {_LATENCY_MS} ms latency on card->pay")
        with stack.inject(Latency(edge="card->pay", latency_ms=_LATENCY_MS)):
            during = _measure(client, stack)
        say("fault removed")
    return DemoResult(
        before_ms={k: statistics.median(v) for k, v in before.items()},
        during_ms={k: statistics.median(v) for k, v in during.items()},
        injected_ms=_LATENCY_MS,
        fastest_card_tab_during_ms=min(during["card-tab"]),
    )
