"""The latency cliff on the bank, against real Toxiproxy: where it is, and whether it is where
the configuration says.

How a cliff relates to the configuration, and the tolerances these tests allow:

- A latency toxic of L ms on ``card->pay`` makes pay's answers reach card L ms late; the card
  tab then takes about ``base + L`` (``base``: its time with no latency, measured by the
  search's first probe, ``base_p95_ms``).
- **hardened**: card waits for pay at most ``deadline_ms`` (its 300 ms dependency timeout, cut
  to the 250 ms bank propagates) and then answers with cached points, marked degraded. The
  card tab leaves healthy once ``L + pay's own time > deadline``: the cliff lies a little
  below the deadline (by pay's own time, a part of ``base``), and the search reports it at
  most ``resolution`` above the true one. So ``|cliff - deadline| <= resolution + base``.
- **fragile**: card waits up to 5 s per attempt, 2 attempts (10 s), so the deadline never
  decides; the card tab is simply too slow once ``base + L > SLO p95``: the cliff is at
  ``SLO p95 - base``, reported up to ``resolution`` above. The base is measured on 4 calls
  (noisy by some tens of ms), hence ``SLO - base - resolution <= cliff <= SLO + resolution``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from harness import HttpAdapter, Stack, start_stack
from harness.explore.cliff import Cliff, configured_limits, find_cliff, find_cliffs


def _check_shape(cliff: Cliff) -> None:
    """The search's own promises, whatever the system."""
    assert cliff.outcome == "found", cliff.describe()
    assert cliff.cliff_ms is not None
    assert cliff.healthy_below_ms is not None
    assert cliff.cliff_ms - cliff.healthy_below_ms <= cliff.resolution_ms
    by_latency = {p.latency_ms: p for p in cliff.probes}
    assert by_latency[0].healthy
    assert not by_latency[cliff.max_ms].healthy
    assert by_latency[cliff.healthy_below_ms].healthy
    assert not by_latency[cliff.cliff_ms].healthy
    # Monotonic as probed: healthy below the cliff, not healthy from it on.
    for probe in cliff.probes:
        assert probe.healthy == (probe.latency_ms < cliff.cliff_ms), cliff.describe()
    assert json.loads(json.dumps(cliff.as_dict()))["cliff_ms"] == cliff.cliff_ms


def test_hardened_card_tab_degrades_at_the_configured_deadline_on_card_to_pay() -> None:
    with start_stack("local", profile="hardened") as stack:
        limits = configured_limits(stack, "card->pay")
        cliff = find_cliff(stack, "card->pay", "card-tab", resolution_ms=50)
        contained = find_cliffs(stack, ["bank->pay"], {"bank->pay": ["balance"]})
        generic = configured_limits(
            dataclasses.replace(stack, adapter=HttpAdapter(), settings={}), "card->pay"
        )
        assert stack.injector.leftovers() == []

    # bank holds card to 300 ms and propagates it; card keeps 50 ms back to answer in time.
    assert limits.deadline_ms == 250.0
    assert limits.worst_wait_ms == 250.0  # no time is left in card's budget for a retry
    assert limits.degrades is True
    assert any(line.startswith("card->pay: card waits at most 250 ms") for line in limits.lines)
    assert cliff.configured == limits

    _check_shape(cliff)
    assert cliff.cliff_ms is not None
    slack_ms = cliff.resolution_ms + cliff.base_p95_ms
    assert abs(cliff.cliff_ms - 250.0) <= slack_ms, cliff.describe()
    assert cliff.where == "at the configured deadline (250 ms)"
    # Beyond the cliff the card tab degrades honestly and fast; it never fails.
    beyond = [p for p in cliff.probes if p.latency_ms >= cliff.cliff_ms]
    assert {p.verdict for p in beyond} == {"degraded"}, cliff.describe()
    assert all(p.p95_ms < 500 for p in beyond)

    # balance never crosses bank->pay: no cliff up to the maximum (twice its 500 ms SLO).
    (balance,) = contained
    assert balance.outcome == "none_up_to_max"
    assert balance.cliff_ms is None
    assert balance.max_ms == 1000.0
    assert [p.latency_ms for p in balance.probes] == [0, 1000.0]
    assert "no cliff up to 1000 ms" in balance.describe()

    # Another system's adapter exposes no settings: nothing is claimed.
    assert generic.deadline_ms is None
    assert generic.lines == ()


@pytest.fixture(scope="module")
def fragile() -> Iterator[Stack]:
    with start_stack("local", profile="fragile") as stack:
        yield stack


def test_fragile_card_tab_cliff_on_card_to_pay_is_the_slo_not_the_long_timeout(
    fragile: Stack,
) -> None:
    lines: list[str] = []
    cliff = find_cliff(fragile, "card->pay", "card-tab", resolution_ms=100, progress=lines.append)

    _check_shape(cliff)
    assert cliff.cliff_ms is not None
    assert cliff.configured.deadline_ms == 5000.0
    assert cliff.configured.worst_wait_ms == 10000.0
    assert cliff.configured.degrades is False
    slo_ms = 1000.0
    assert slo_ms - cliff.base_p95_ms - cliff.resolution_ms <= cliff.cliff_ms, cliff.describe()
    assert cliff.cliff_ms <= slo_ms + cliff.resolution_ms, cliff.describe()
    assert cliff.where.startswith("at the SLO"), cliff.where
    assert "long before the configured deadline (5000 ms)" in cliff.where
    # Beyond the cliff the card tab is slow: it fails, never an honest degradation.
    assert {p.verdict for p in cliff.probes if not p.healthy} == {"failed"}
    assert len(lines) == len(cliff.probes)
    assert fragile.injector.leftovers() == []


def test_fragile_login_has_a_cliff_on_card_to_pay_because_it_waits_for_card_data(
    fragile: Stack,
) -> None:
    cliff = find_cliff(fragile, "card->pay", "login", resolution_ms=100)

    _check_shape(cliff)
    assert cliff.cliff_ms is not None
    slo_ms = 800.0
    assert slo_ms - cliff.base_p95_ms - cliff.resolution_ms <= cliff.cliff_ms <= slo_ms + 100
    assert any("login_fetches_card on" in line for line in cliff.configured.lines)
    assert fragile.injector.leftovers() == []
