"""Any change to a topology's `files:` declarations gives a valid topology or one precise line."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import TopologyError, parse_topology
from tests.configfiles.conftest import SYSTEM
from tests.fuzzing import examples
from tests.mutations import paths, replace

_DOC = yaml.safe_load((SYSTEM / "domino.yaml").read_text())
#: Every place inside a service's `files`, the list itself included.
_FILE_PATHS = [p for p in paths(_DOC) if len(p) >= 4 and p[0] == "services" and p[2] == "files"]
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "{port}",
            "{stock.url}",
            "{front->stock.port}",
            "{data_dir}/x.json",
            "{data_dir}/../x",
            "../x.json",
            "/etc/passwd",
            "front",
            "domino.yaml",
            "a.b..c",
            "{dir}/front/config.json",
            "stock/config.json",
            "x\0y",
        ]
    ),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(
        st.sampled_from(["path", "json", "yaml", "dotenv", "template", "from", "x.y", "PORT"]),
        st.one_of(st.text(max_size=12), st.sampled_from(["{port}", "{nope}", "audit/app.py"])),
        max_size=3,
    ),
)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_FILE_PATHS), value=_VALUES)
def test_any_change_to_a_files_declaration_is_valid_or_one_line(
    path: tuple[object, ...], value: object
) -> None:
    parse_topology(yaml.safe_dump(_DOC, sort_keys=False), source="fuzz.yaml", base_dir=SYSTEM)
    text = yaml.safe_dump(replace(_DOC, path, value), sort_keys=False)
    try:
        parse_topology(text, source="fuzz.yaml", base_dir=SYSTEM)
    except TopologyError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith("fuzz.yaml:")


def test_a_container_path_must_be_an_absolute_path_in_the_image() -> None:
    for bad in ("app/config.json", "/app/../etc/x", "/app/", "{data_dir}/x"):
        doc = replace(_DOC, ("services", "front", "files", 0, "container_path"), bad)
        with pytest.raises(TopologyError) as info:
            parse_topology(yaml.safe_dump(doc, sort_keys=False), source="t.yaml", base_dir=SYSTEM)
        message = str(info.value)
        assert "services.front.files[0].container_path" in message, message
        assert "give the file's absolute path inside the image, e.g. /app/config.json" in message
