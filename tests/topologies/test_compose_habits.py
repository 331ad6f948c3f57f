"""Compose's YAML habits in domino.yaml: top-level ``x-`` keys ignored, ``<<: *anchor`` merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import TopologyError, parse_topology

_PLAIN = """
name: habits
services:
  front:
    command: ["{python}", "-m", "http.server", "{port}"]
    env: {MODE: fast}
    ready: {tcp: true}
  back:
    command: ["{python}", "-m", "http.server", "{port}"]
    env: {MODE: fast}
    ready: {tcp: true}
edges:
  client->front: {}
  front->back: {env: {BACK_URL: "http://{host}:{port}"}}
journeys:
  home:
    path: /
    session: false
    slo: {p95_ms: 500}
    hard: [client->front]
"""

_WITH_ANCHORS = """
x-service: &service
  command: ["{python}", "-m", "http.server", "{port}"]
  env: {MODE: fast}
  ready: {tcp: true}
x-notes:                        # anything at all may live under an x- key
  - [1, 2, {deeply: [nested]}]
  - !!binary aGVsbG8=
name: habits
services:
  front:
    <<: *service
  back: *service
edges:
  client->front: {}
  front->back: {env: {BACK_URL: "http://{host}:{port}"}}
journeys:
  home:
    path: /
    session: false
    slo: {p95_ms: 500}
    hard: [client->front]
"""


def _parse(text: str, tmp_path: Path) -> object:
    return parse_topology(text, source="domino.yaml", base_dir=tmp_path)


def test_x_keys_are_ignored_and_their_anchors_merge_like_the_written_out_file(
    tmp_path: Path,
) -> None:
    assert _parse(_WITH_ANCHORS, tmp_path) == _parse(_PLAIN, tmp_path)


def test_a_key_beside_a_merge_wins_and_merges_chain(tmp_path: Path) -> None:
    text = (
        _WITH_ANCHORS.replace(
            "  front:\n    <<: *service\n",
            "  front:\n    <<: *service\n    env: {MODE: slow}\n",
        )
        .replace(
            "x-notes:",
            "x-more: &more\n  <<: *service\n  env: {MODE: chained}\nx-notes:",
        )
        .replace("  back: *service\n", "  back: {<<: *more}\n")
    )
    topology = _parse(text, tmp_path)
    assert topology.service("front").env == {"MODE": "slow"}  # type: ignore[attr-defined]
    assert topology.service("back").env == {"MODE": "chained"}  # type: ignore[attr-defined]
    assert topology.service("back").command[-1] == "{port}"  # type: ignore[attr-defined]


def test_an_error_in_a_merged_field_points_at_the_anchor_line(tmp_path: Path) -> None:
    text = _WITH_ANCHORS.replace("  ready: {tcp: true}\n", "  ready: {tcp: maybe}\n", 1)
    with pytest.raises(TopologyError) as info:
        _parse(text, tmp_path)
    assert str(info.value) == (
        "domino.yaml:5: services.front.ready.tcp: write `tcp: true` to wait for the port"
    )


def test_a_merge_of_something_not_a_mapping_is_one_line(tmp_path: Path) -> None:
    text = _PLAIN.replace("  front:\n", "  front:\n    <<: 5\n", 1)
    with pytest.raises(TopologyError) as info:
        _parse(text, tmp_path)
    assert str(info.value) == (
        "domino.yaml:5: services.front.'<<': a merge key takes a mapping (an alias such as "
        "*defaults), got 5"
    )


def test_an_unknown_top_level_key_names_the_x_escape(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        _parse(_PLAIN + "extras: {a: 1}\n", tmp_path)
    message = str(info.value)
    assert message.startswith("domino.yaml:21: extras: unknown field; allowed here: name,")
    assert message.endswith(", or x-... (ignored)")


def test_x_keys_are_only_ignored_at_the_top_level(tmp_path: Path) -> None:
    hard = "    hard: [client->front]\n"
    text = _PLAIN.replace(hard, hard + "    x-note: 1\n")
    with pytest.raises(TopologyError, match=r"journeys\.home\.x-note: unknown field"):
        _parse(text, tmp_path)
