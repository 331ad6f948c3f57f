"""Broken topology files get one precise line (file:line: field: what), exit 2, nothing started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import ServiceStartError, TopologyError, load_topology, parse_topology, start_stack
from tests.corpus import expected_error
from tests.fuzzing import examples
from tests.mutations import paths, replace

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))
ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop" / "domino.yaml"
BANK = ROOT / "harness" / "systems" / "bank" / "domino.yaml"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_topology_gives_one_precise_line(path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected_error(path) in message


@pytest.mark.parametrize("name", ["unknown-adapter", "edge-to-undeclared", "no-port", "not-yaml"])
def test_cli_validate_and_up_exit_2_and_start_nothing(name: str, tmp_path: Path) -> None:
    path = Path(__file__).parent / "broken" / f"{name}.yaml"
    for argv in (["validate", str(path)], ["up", "--topology", str(path)]):
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=dict(os.environ, DOMINO_HOME=str(tmp_path)),
        )
        assert result.returncode == 2, result.stderr
        assert expected_error(path) in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "runs").exists()  # no stack was started
        assert not (tmp_path / "local").exists()


def test_shipped_topologies_validate_on_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", str(BANK), str(SHOP)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "topology 'bank' is valid: 4 services, 5 edges" in result.stdout
    assert "topology 'shop' is valid: 4 services, 5 edges" in result.stdout


def test_an_unreachable_readiness_target_names_the_service_and_shows_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    # A service that starts, prints, and never listens on its port.
    script = "import sys, time; print('booting on', sys.argv[1], flush=True); time.sleep(60)"
    text = f"""
name: sleeper
services:
  web:
    command: ["{{python}}", -c, "{script}", "{{port}}"]
    ready: {{http: /health, timeout_s: 1.5}}
edges:
  client->web: {{}}
journeys:
  home: {{path: /, slo: {{p95_ms: 100}}}}
"""
    topology = parse_topology(text, source="sleeper.yaml", base_dir=tmp_path)
    with pytest.raises(ServiceStartError) as info, start_stack("local", topology=topology):
        pytest.fail("a service that never listens became ready")
    message = str(info.value)
    assert "service web" in message
    assert "GET /health" in message
    assert "booting on" in message  # the log tail
    assert not list((tmp_path / "home" / "runs").glob("*.json"))  # nothing left recorded


def _check(text: str) -> None:
    try:
        parse_topology(text, source="fuzz.yaml", base_dir=SHOP.parent)
    except TopologyError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message
    assert message.startswith("fuzz.yaml")


_SHOP = yaml.safe_load(SHOP.read_text())
_SHOP_PATHS = paths(_SHOP)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_SHOP_PATHS), value=_VALUES)
def test_any_change_to_a_valid_topology_is_valid_or_one_line(
    path: tuple[object, ...], value: object
) -> None:
    _check(yaml.safe_dump(replace(_SHOP, path, value), sort_keys=False))


@settings(max_examples=examples(300), deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_is_a_topology_or_one_line(text: str) -> None:
    _check(text)
