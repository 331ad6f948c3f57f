"""A user's own adapter named in domino.yaml by import path (``package.module:attribute``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import HttpAdapter, TopologyError, parse_topology
from harness.plugins import get_adapter

TOPOLOGY = """name: mine
adapter: {adapter}
services:
  web: {{command: [web, "{{port}}"], ready: {{http: /health}}}}
edges:
  client->web: {{}}
journeys:
  home: {{method: GET, path: /, slo: {{p95_ms: 100}}, hard: [client->web]}}
"""


class OwnAdapter(HttpAdapter):
    """An adapter a team writes for its own system."""

    name = "own"
    timeout_code = "GAVE_UP"


def test_an_adapter_named_by_import_path_is_the_users_own(tmp_path: Path) -> None:
    path = f"{__name__}:OwnAdapter"
    topology = parse_topology(TOPOLOGY.format(adapter=path), source="mine.yaml", base_dir=tmp_path)
    assert topology.adapter == path
    assert get_adapter(topology.adapter).timeout_code == "GAVE_UP"


def test_an_import_path_that_does_not_load_is_one_line_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        parse_topology(
            TOPOLOGY.format(adapter="no_such_package.adapter:Nope"),
            source="mine.yaml",
            base_dir=tmp_path,
        )
    message = str(info.value)
    assert message.startswith("mine.yaml:2: adapter: cannot load adapter")
    assert "no_such_package" in message
    assert "\n" not in message
