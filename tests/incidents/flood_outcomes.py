"""What a flood's report says about its outcomes, for the incident tests."""

from __future__ import annotations

import re

__all__ = ["KBANK_FLOODS", "assert_failed_actions_moved_money", "flood_of"]


def flood_of(result: object) -> dict[str, object]:
    """The one flood of a run's result, as its report holds it."""
    (flood,) = result.floods  # type: ignore[attr-defined]
    assert isinstance(flood, dict)
    return flood


#: The K Bank floods whose fragile runs report their failed actions as applied: asserted in
#: tests/incidents/test_incidents.py on the run it already makes (one run of each, not two).
KBANK_FLOODS = ("kbank-2024-11-25", "kbank-2024-12-03")


def assert_failed_actions_moved_money(result: object, summary: str) -> None:
    """The actions the app gave up on had been queued at the core, which did them anyway:
    the report counts them, and its line says the same number."""
    outcomes = flood_of(result)["outcomes"]
    assert isinstance(outcomes, dict)
    assert outcomes["failed_but_applied"] > 0, outcomes
    assert outcomes["failed_but_applied"] >= 0.9 * outcomes["failed"], outcomes
    shown = re.search(r"(\d+) failed but applied", summary)
    assert shown is not None, summary
    assert int(shown.group(1)) == outcomes["failed_but_applied"]
