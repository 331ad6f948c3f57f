"""Compose's YAML habits in incident specs: top-level ``x-`` keys are ignored, anchors merge."""

from __future__ import annotations

import pytest

from harness import SpecError, find_topology
from harness.files.incident_file import parse_spec

BANK_TOPOLOGY = find_topology("bank")

_SPEC = """
id: habits-spec
title: T
date: "2023-01-25"
sources: [S]
profiles: [fragile]
journeys:
  - {journey: balance, users: 2, slo: {p95_ms: 400, success_rate: 0.9}}
  - {journey: card-tab, users: 2, slo: {p95_ms: 400, success_rate: 0.9}}
timeline:
  - {fault: latency, edge: "card->pay", latency_ms: 10, hold_s: 1}
expect:
  fragile:
    journeys: {balance: healthy}
"""

_WITH_ANCHORS = """
x-slow: &slow {p95_ms: 400, success_rate: 0.9}
x-load: &load {users: 2, slo: *slow}
x-anything: [1, {two: !!binary aGVsbG8=}]
id: habits-spec
title: T
date: "2023-01-25"
sources: [S]
profiles: [fragile]
journeys:
  - {journey: balance, <<: *load}
  - {<<: *load, journey: card-tab}
timeline:
  - {fault: latency, edge: "card->pay", latency_ms: 10, hold_s: 1}
expect:
  fragile:
    journeys: {balance: healthy}
"""


def test_x_keys_are_ignored_and_their_anchors_merge_like_the_written_out_spec() -> None:
    plain = parse_spec(_SPEC, source="plain.yaml", topology=BANK_TOPOLOGY)
    merged = parse_spec(_WITH_ANCHORS, source="merged.yaml", topology=BANK_TOPOLOGY)
    assert merged == plain
    assert merged.journeys[1].slo.p95_ms == 400


def test_an_unknown_top_level_key_names_the_x_escape() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_SPEC + "colour: blue\n", source="s.yaml", topology=BANK_TOPOLOGY)
    message = str(info.value)
    assert message.startswith("s.yaml:15: colour: unknown field; allowed here: id, title,")
    assert message.endswith(", or x-... (ignored)")


def test_a_merge_of_a_list_of_texts_is_one_line() -> None:
    text = _SPEC.replace("  - {journey: balance, users: 2,", "  - {<<: [a, b], journey: balance,")
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="s.yaml", topology=BANK_TOPOLOGY)
    assert str(info.value) == (
        "s.yaml:8: journeys[0].'<<'[0]: a merge key takes a mapping (an alias such as "
        "*defaults), got text 'a'"
    )
