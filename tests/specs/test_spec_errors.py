"""Broken spec files get one precise line (file:line: field: what, allowed) and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import SpecError, find_topology
from harness.files.incident_file import load_spec, parse_spec
from harness.library import incident_dirs, list_incidents
from tests.corpus import expected_error
from tests.fuzzing import examples
from tests.mutations import paths, replace

BANK_TOPOLOGY = find_topology("bank")
INCIDENTS_DIR = incident_dirs()["bank"]

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_spec_gives_one_precise_line(path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(path, topology=BANK_TOPOLOGY)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected_error(path) in message


@pytest.mark.parametrize("name", ["unknown-edge", "negative-latency", "not-yaml"])
def test_cli_run_of_a_broken_spec_exits_2_and_starts_nothing(name: str, tmp_path: Path) -> None:
    path = Path(__file__).parent / "broken" / f"{name}.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(path)],
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


def test_unknown_incident_id_lists_the_shipped_ones() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "kbpay-2099"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no incident 'kbpay-2099'; shipped incidents: " in result.stderr
    assert "kbpay-2023-01-25" in result.stderr


def test_every_shipped_incident_validates_and_expects_both_profiles() -> None:
    specs = list_incidents()
    assert {s.id for s in specs} >= {"kbpay-2023-01-25"}
    assert len(specs) == len(list(INCIDENTS_DIR.glob("*.yaml")))
    for spec in specs:
        assert set(spec.profiles) == {"fragile", "hardened"}, spec.id
        assert set(spec.expect) == {"fragile", "hardened"}, spec.id


# -- property-based: no input makes the loader fail any other way ----------------------

_VALID = (INCIDENTS_DIR / "kbpay-2023-01-25.yaml").read_text()
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _check(text: str) -> None:
    try:
        parse_spec(text, source="fuzz.yaml", topology=BANK_TOPOLOGY)
    except SpecError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message
    assert message.startswith("fuzz.yaml")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_valid_spec_either_loads_or_raises_one_line_spec_error(data: st.DataObject) -> None:
    doc = yaml.safe_load(_VALID)
    path = data.draw(st.sampled_from(paths(doc)))
    mutated = replace(doc, path, data.draw(_values))
    _check(yaml.safe_dump(mutated, allow_unicode=True))


@settings(max_examples=examples(200), deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_either_loads_or_raises_one_line_spec_error(text: str) -> None:
    _check(text)
