"""Every file Domino reads, fuzzed: a valid model or the reader's one-line error, nothing else.

Domino reads three kinds of file a user writes: incident specs
(:func:`harness.spec.load_spec`, errors :class:`SpecError`), topology files
(:func:`harness.files.topology_file.load_topology`, :class:`TopologyError`) and
Compose files to import (:func:`harness.files.compose_import.import_compose`,
:class:`ComposeImportError`). For each, inputs are built from every valid file
Domino ships, by stacking structural mutations (a value replaced by a hostile
one, a field deleted or added, a value moved elsewhere, wrapped in a list),
by mutating the YAML text (tags, anchors, aliases, cut or repeated lines), and
from arbitrary text and bytes. Each input is written to a file and read the
way the CLI reads it. The outcome must be

- a model that is really usable (a topology whose journeys name its edges and
  whose request bodies are JSON; a spec whose faults address its topology; an
  imported Compose file that is itself a valid topology file), or
- exactly one line of the reader's own error class, starting with the file's
  path, with no traceback text in it.

Any other exception, or a second line, fails the test with the input that
caused it. Hypothesis runs derandomized (the same inputs on every run, no
example database), with a bounded number of examples per property.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ComposeImportError, SpecError, TopologyError
from harness.files.compose_import import import_compose
from harness.files.incident_file import load_spec
from harness.files.topology_file import load_topology
from harness.files.yamldoc import MAX_DEPTH, MAX_VALUES
from harness.library import find_topology, incident_dirs
from harness.model.incident import IncidentSpec
from harness.model.topology import Topology
from tests.fuzzing import examples
from tests.mutations import paths, replace

ROOT = Path(__file__).resolve().parents[2]
BANK_TOPOLOGY = ROOT / "harness" / "systems" / "bank" / "domino.yaml"
SHOP_TOPOLOGY = ROOT / "examples" / "shop" / "domino.yaml"

TOPOLOGY_FILES = [BANK_TOPOLOGY, SHOP_TOPOLOGY]
SPEC_FILES = [
    *sorted(incident_dirs()["bank"].glob("*.yaml")),
    *sorted((ROOT / "examples" / "shop" / "incidents").glob("*.yaml")),
]
COMPOSE_FILES = [
    *sorted(
        p for p in (ROOT / "tests" / "specs" / "compose").glob("*.yaml") if "broken" not in p.name
    ),
    ROOT / "examples" / "shop" / "compose.yaml",
    ROOT / "compose" / "docker-compose.yml",
]

#: Same inputs on every run (CI is deterministic), nothing stored between runs.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _spec_doc(path: Path) -> dict[str, Any]:
    """A shipped spec, its ``topology:`` pinned to an absolute path so it reads from anywhere."""
    doc = yaml.safe_load(path.read_text())
    system = "bank" if path.parent == incident_dirs()["bank"] else None
    doc["topology"] = system or str((path.parent / doc["topology"]).resolve())
    return doc


CORPUS: dict[str, list[Any]] = {
    "topology": [yaml.safe_load(p.read_text()) for p in TOPOLOGY_FILES],
    "spec": [_spec_doc(p) for p in SPEC_FILES],
    "compose": [yaml.safe_load(p.read_text()) for p in COMPOSE_FILES],
}


def test_every_shipped_file_is_in_the_corpus_and_reads() -> None:
    assert len(CORPUS["topology"]) == len(TOPOLOGY_FILES) == 2
    assert len(CORPUS["spec"]) == len(SPEC_FILES) >= 4
    assert len(CORPUS["compose"]) == len(COMPOSE_FILES) >= 6
    for kind, docs in CORPUS.items():
        for doc in docs:
            folder = _fresh_folder()
            outcome = _read_text(kind, folder, yaml.safe_dump(doc, sort_keys=False))
            assert not isinstance(outcome, str), f"a shipped {kind} file does not read: {outcome}"


# -- reading a file the way the CLI does -------------------------------------------------

_ERRORS: dict[str, type[Exception]] = {
    "topology": TopologyError,
    "spec": SpecError,
    "compose": ComposeImportError,
}
_FILE_NAMES = {"topology": "domino.yaml", "spec": "incident.yaml", "compose": "compose.yaml"}
_counter = iter(range(10**9))
_BASE: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _scratch(tmp_path_factory: pytest.TempPathFactory) -> None:
    _BASE[:] = [tmp_path_factory.mktemp("fuzz")]


def _fresh_folder() -> Path:
    folder = _BASE[0] / f"in{next(_counter)}" / "project"
    folder.mkdir(parents=True)
    return folder


def _load(kind: str, path: Path) -> object:
    if kind == "topology":
        return load_topology(path)
    if kind == "spec":
        return load_spec(path, find_topology=find_topology)
    return import_compose(path)


def _read(kind: str, path: Path) -> object | str:
    """The model read from ``path``, or the text of the one-line error it raised."""
    try:
        model = _load(kind, path)
    except _ERRORS[kind] as exc:
        message = str(exc)
        assert len(message.splitlines()) == 1, f"not one line: {message!r}"
        assert message.startswith(str(path)), f"does not name the file: {message!r}"
        assert "Traceback" not in message
        assert len(message) < 2000, f"not a line a person reads: {len(message)} characters"
        return message
    _check_model(kind, model, path)
    return model


def _read_text(kind: str, folder: Path, text: str | bytes) -> object | str:
    path = folder / _FILE_NAMES[kind]
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return _read(kind, path)


def _check_model(kind: str, model: object, path: Path) -> None:
    """A model that validated must be one Domino can use without failing later."""
    if kind == "topology":
        assert isinstance(model, Topology)
        _check_topology(model)
    elif kind == "spec":
        assert isinstance(model, IncidentSpec)
        assert model.topology is not None
        edges = set(model.topology.edge_names)
        assert model.faulted_edges <= edges
        assert model.faulted_services <= set(model.topology.service_names)
        assert math.isfinite(model.floor_s)
        assert model.floor_s > 0
        assert set(model.expect) == set(model.profiles)
    else:
        # An imported Compose file is a topology file that must itself validate.
        out = path.with_name("imported-domino.yaml")
        out.write_text(model.yaml_text, encoding="utf-8")  # type: ignore[attr-defined]
        topology = load_topology(out)
        assert tuple(topology.edge_names) == model.edges  # type: ignore[attr-defined]
        assert all("\n" not in note for note in model.notes)  # type: ignore[attr-defined]
        _check_topology(topology)


def _check_topology(topology: Topology) -> None:
    edges = set(topology.edge_names)
    assert topology.entry_edge.name in edges
    for journey in topology.journeys:
        assert set(journey.hard_deps) | set(journey.soft_deps) <= edges
        # Request bodies are sent as JSON: anything else would fail mid-run.
        json.dumps(journey.json_body, allow_nan=False)
    if topology.session is not None:
        json.dumps(topology.session.json_body, allow_nan=False)


# -- hostile values ---------------------------------------------------------------------

_TRICKY_TEXT = [
    "",
    " ",
    "\n",
    "a\nb",
    "\x00",
    "\u2028",
    "\x85",
    "{",
    "}",
    "{}",
    "{port}",
    "{{port}}",
    "{port!r}",
    "{port:>5}",
    "{user.password}",
    "{body.token}",
    "{0}",
    "->",
    "client->bank",
    "bank->card",
    "client",
    "*",
    "/",
    "²",
    "١٢",
    "8080",
    "0x1F",
    "1e400",
    "-0",
    "nan",
    "http://[::1",
    "http://a:99999",
    "http://127.0.0.1:0",
    "http://user@:80",
    "127.0.0.1:²",
    "127.0.0.1:",
    ":8080",
    "[::1]:8080",
    "${",
    "${A:-${B}}",
    "$$",
    "'quoted'",
    "~",
    "é" * 50,
    "x" * 300,
]
#: Values that broke readers before, or that sit on a boundary: tried often.
_HOSTILE = [
    None,
    True,
    False,
    0,
    -1,
    1,
    0.5,
    65535,
    65536,
    2**31,
    2**63,
    10**20,
    10**400,
    -(10**400),
    math.inf,
    -math.inf,
    math.nan,
    # YAML types beyond JSON's: written unquoted or tagged, they read back as such.
    dt.date(2024, 12, 3),
    dt.datetime(2024, 12, 3, 23, 0, tzinfo=dt.UTC),
    b"\x00\xff",
    *_TRICKY_TEXT,
]
_EDGE_NUMBERS = [0, -1, 0.001, 65536, 2**53 + 1, 2**63, 10**400, math.inf, math.nan, "²", True]
_EDGE_TEXTS = [
    *_TRICKY_TEXT,
    dt.date(2024, 12, 3),
    b"\x00",
    math.inf,
    10**400,
    None,
    ["x"],
    {"x": 1},
]
_scalars = st.one_of(
    st.sampled_from(_HOSTILE),
    st.sampled_from(_HOSTILE),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=16),
)
_values = st.one_of(
    _scalars,
    st.recursive(
        _scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.one_of(st.sampled_from(_TRICKY_TEXT), st.text(max_size=6)), inner, max_size=3
            ),
        ),
        max_leaves=6,
    ),
)

#: Fields of each format (docs/topologies.md, docs/incidents.md, the Compose keys the
#: importer reads) that a mutation may add where a shipped file does not have them.
_FIELDS = {
    "topology": [
        "url",
        "listen",
        "protocol",
        "cwd",
        "image",
        "container_command",
        "container_port",
        "container_healthcheck",
        "ready",
        "http",
        "tcp",
        "log",
        "status",
        "timeout_s",
        "expect",
        "session",
        "users",
        "build",
        "profiles",
        "provides",
        "json",
        "headers",
        "expect_body",
        "has",
        "equals",
        "contains",
        "min_bytes",
        "timeout_ms",
        "retries",
        "fallback",
    ],
    "spec": [
        "topology",
        "background",
        "ramp_s",
        "onset_s",
        "hold_s",
        "slo",
        "codes",
        "invariants",
        "edge",
        "service",
        "journey",
        "users",
        "latency_ms",
        "jitter_ms",
        "timeout_ms",
        "toxicity",
        "stream",
        "route",
        "status",
        "share",
        "window_s",
        "feature",
    ],
    "compose": [
        "ports",
        "expose",
        "environment",
        "healthcheck",
        "test",
        "command",
        "depends_on",
        "networks",
        "aliases",
        "container_name",
        "links",
        "build",
        "image",
        "env_file",
        "name",
        "<<",
        "target",
        "protocol",
    ],
}


# -- structural mutations ---------------------------------------------------------------


def _value_at(doc: Any, path: tuple[object, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _delete(doc: Any, path: tuple[object, ...]) -> Any:
    """``doc`` without the value at ``path`` (a key removed, or a list item)."""
    if not path:
        return None
    parent_path, last = path[:-1], path[-1]
    parent = _value_at(doc, parent_path)
    if isinstance(parent, dict):
        smaller: Any = {k: v for k, v in parent.items() if k != last}
    else:
        smaller = [v for i, v in enumerate(parent) if i != last]
    return replace(doc, parent_path, smaller)


def _keys_of(doc: Any) -> list[str]:
    """Every mapping key in ``doc``: fields a mutation may add where they do not belong."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += [str(key), *_keys_of(value)]
    elif isinstance(doc, list):
        for value in doc:
            found += _keys_of(value)
    return found


def _boundary(draw: st.DrawFn, current: Any) -> Any:
    """A boundary value of the same kind where the file has a number or a text."""
    if isinstance(current, int | float) and not isinstance(current, bool):
        return draw(st.sampled_from(_EDGE_NUMBERS))
    if isinstance(current, str):
        return draw(st.sampled_from(_EDGE_TEXTS))
    return draw(_values)


def _grown(draw: st.DrawFn, current: Any, known_keys: list[str]) -> Any:
    """``current`` with one more field (one a format knows, in the wrong place) or item."""
    if isinstance(current, dict):
        key = draw(st.one_of(st.sampled_from(known_keys), st.sampled_from(_TRICKY_TEXT)))
        return {**current, key: draw(_values)}
    if isinstance(current, list):
        return [*current, draw(_values)]
    return current


def _mutate_once(draw: st.DrawFn, doc: Any, known_keys: list[str]) -> Any:
    where = paths(doc)
    path = draw(st.sampled_from(where))
    current = _value_at(doc, path)
    operation = draw(
        st.sampled_from(["edge", "edge", "replace", "delete", "add", "move", "wrap", "repeat"])
    )
    if operation == "delete":
        return _delete(doc, path)
    if operation == "edge":
        new = _boundary(draw, current)
    elif operation == "replace":
        new = draw(_values)
    elif operation == "add":
        new = _grown(draw, current, known_keys)
    elif operation == "move":
        # A realistic value in the wrong place: the type confusions users make.
        new = copy.deepcopy(_value_at(doc, draw(st.sampled_from(where))))
    elif operation == "wrap":
        new = [current]
    else:
        new = (
            [*current, copy.deepcopy(current[0])]
            if isinstance(current, list) and current
            else current
        )
    return replace(doc, path, new)


@st.composite
def _mutated(draw: st.DrawFn, kind: str) -> Any:
    """A shipped file of ``kind`` with one to three mutations stacked."""
    doc = copy.deepcopy(draw(st.sampled_from(CORPUS[kind])))
    known_keys = sorted(set(_keys_of(doc)) | set(_FIELDS[kind]))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        doc = _mutate_once(draw, doc, known_keys)
    return doc


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# -- text mutations -----------------------------------------------------------------------

_TEXT_INSERTS = [
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!null ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!str ",
    "!!python/object:os.system ",
    "!custom ",
    "&anchor ",
    "*anchor",
    "*undefined",
    "<<: *anchor",
    "? ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "|",
    ">",
    "#",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\t",
    "\ufeff",
    "\x00",
    "\x1b[31m",
    "9" * 5000,
]


@st.composite
def _mutated_text(draw: st.DrawFn, kind: str) -> str:
    text = (
        _dump(draw(_mutated(kind)))
        if draw(st.booleans())
        else _dump(draw(st.sampled_from(CORPUS[kind])))
    )
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        lines = text.splitlines(keepends=True) or [""]
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        operation = draw(
            st.sampled_from(["tag", "tag", "insert", "drop", "repeat", "cut", "indent", "alias"])
        )
        line = lines[i]
        if operation == "tag":
            # A tag on a value: what the YAML constructors then make of it.
            key, sep, rest = line.partition(": ")
            tag = draw(st.sampled_from([t for t in _TEXT_INSERTS if t.startswith(("!", "&"))]))
            lines[i] = f"{key}{sep}{tag}{rest}" if sep else f"{tag}{line}"
        elif operation == "insert":
            at = draw(st.integers(min_value=0, max_value=len(line)))
            piece = draw(st.one_of(st.sampled_from(_TEXT_INSERTS), st.text(max_size=4)))
            lines[i] = line[:at] + piece + line[at:]
        elif operation == "drop":
            del lines[i]
        elif operation == "repeat":
            lines.insert(i, line)
        elif operation == "cut":
            text = "".join(lines)
            lines = [text[: draw(st.integers(min_value=0, max_value=len(text)))]]
        elif operation == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", ""])) + line.lstrip()
        else:
            # An anchor on one value and an alias to it in another place (or inside itself).
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            key, sep, _rest = line.partition(": ")
            if sep:
                lines[i] = f"{key}: &a {_rest}"
                other_key, other_sep, _ = lines[j].partition(": ")
                if other_sep:
                    lines[j] = f"{other_key}: *a\n"
        text = "".join(lines)
    return text


# -- the properties -----------------------------------------------------------------------

KINDS = ["spec", "topology", "compose"]


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=examples(150))
@given(data=st.data())
def test_mutated_shipped_files_give_a_valid_model_or_one_line(
    kind: str, data: st.DataObject
) -> None:
    _read_text(kind, _fresh_folder(), _dump(data.draw(_mutated(kind))))


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=examples(100))
@given(data=st.data())
def test_mutated_yaml_text_gives_a_valid_model_or_one_line(kind: str, data: st.DataObject) -> None:
    _read_text(kind, _fresh_folder(), data.draw(_mutated_text(kind)))


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=examples(60))
@given(text=st.text(max_size=300))
def test_any_text_gives_a_valid_model_or_one_line(kind: str, text: str) -> None:
    _read_text(kind, _fresh_folder(), text)


@pytest.mark.parametrize("kind", KINDS)
@settings(FUZZ, max_examples=examples(40))
@given(blob=st.binary(max_size=300))
def test_any_bytes_give_a_valid_model_or_one_line(kind: str, blob: bytes) -> None:
    _read_text(kind, _fresh_folder(), blob)


_OUT_OF_RANGE = [10**400, -(10**400), 2**63, math.inf, math.nan, -1]


def _numbers(doc: Any) -> list[tuple[object, ...]]:
    return [
        p
        for p in paths(doc)
        if isinstance(_value_at(doc, p), int | float) and not isinstance(_value_at(doc, p), bool)
    ]


@pytest.mark.parametrize(
    ("kind", "index"), [(kind, i) for kind in KINDS for i in range(len(CORPUS[kind]))]
)
def test_every_number_of_a_shipped_file_out_of_range_gives_a_valid_model_or_one_line(
    kind: str, index: int
) -> None:
    # Random search rarely puts a 400-digit number exactly where a number is read.
    doc = CORPUS[kind][index]
    numbers = _numbers(doc)
    assert numbers or kind == "compose"
    for path in numbers:
        for value in _OUT_OF_RANGE:
            _read_text(kind, _fresh_folder(), _dump(replace(doc, path, value)))


# -- inputs a random search rarely builds, each a crash found here ----------------------

_nested = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
_deeper = "[" * 3000 + "]" * 3000
_laughs = "".join(
    f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}" if n else "x"] * 10) + "]\n" for n in range(7)
)
_HOSTILE_YAML = {
    "int-tag": "name: !!int abc\n",
    "float-tag": "name: !!float abc\n",
    "bool-tag": "name: !!bool maybe\n",
    "timestamp-tag": "name: !!timestamp yesterday\n",
    "binary-tag": "name: !!binary '!!!'\n",
    "python-tag": "name: !!python/object:os.system x\n",
    "huge-int": "name: " + "9" * 5000 + "\n",
    "nested": f"name: {_nested}\n",
    "nested-beyond-the-parser": f"name: {_deeper}\n",
    "self-alias": "name: &a [*a]\n",
    "self-alias-mapping": "name: &a {x: *a}\n",
    "billion-laughs": _laughs,
    "bom": "\ufeffname: x\n",
    "nul": "name: x\x00\n",
    "empty-int-tag": "name: !!int ''\n",
    "tab-indent": "name:\n\t- x\n",
    "key-is-a-list": "[a]: b\n",
    "many-documents": "name: a\n---\nname: b\n",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(_HOSTILE_YAML))
def test_hostile_yaml_is_one_line_and_read_in_bounded_time(kind: str, name: str) -> None:
    started = time.monotonic()
    outcome = _read_text(kind, _fresh_folder(), _HOSTILE_YAML[name])
    assert isinstance(outcome, str), f"{name} read as a {kind}"
    assert time.monotonic() - started < 10, f"{name} took {time.monotonic() - started:.1f} s"


def test_a_file_that_expands_past_the_value_limit_is_refused_naming_the_limit() -> None:
    outcome = _read_text("topology", _fresh_folder(), _laughs)
    assert isinstance(outcome, str)
    assert f"more than {MAX_VALUES:,} values" in outcome


def _with(doc: Any, path: tuple[object, ...], value: object) -> str:
    """``doc`` as YAML text with ``value`` set at ``path`` (added when it is not there)."""
    changed = copy.deepcopy(doc)
    parent = _value_at(changed, path[:-1])
    parent[path[-1]] = value
    return _dump(changed)


_BANK, _SHOP = CORPUS["topology"]
_KBPAY = next(d for d in CORPUS["spec"] if d["id"] == "kbpay-2023-01-25")

#: (kind, file text, text its one-line error must hold): each crashed a reader before it was
#: fixed (found while writing these tests; a random search rarely builds them).
_FOUND: dict[str, tuple[str, str, str]] = {
    "url-with-a-bad-ipv6-host": (
        "topology",
        _with(_SHOP, ("services", "catalog", "url"), "http://[::1"),
        "services.catalog.url: must be http://HOST:PORT",
    ),
    "url-with-a-port-out-of-range": (
        "topology",
        _with(_SHOP, ("services", "catalog", "url"), "http://127.0.0.1:99999"),
        "services.catalog.url: must be http://HOST:PORT",
    ),
    "listen-with-a-superscript-port": (
        "topology",
        _with(_SHOP, ("edges", "client->storefront"), {"listen": "127.0.0.1:²"}),
        "listen: must be HOST:PORT",
    ),
    "journey-body-with-a-date": (
        "topology",
        _with(_BANK, ("journeys", "transfer", "json", "memo"), "2024-12-03").replace(
            "'2024-12-03'", "2024-12-03"
        ),
        "journeys.transfer.json.memo: must be JSON",
    ),
    "journey-body-with-infinity": (
        "topology",
        _with(_BANK, ("journeys", "transfer", "json", "amount_krw"), math.inf),
        "journeys.transfer.json.amount_krw: must be JSON",
    ),
    "timeout-beyond-a-float": (
        "topology",
        _with(_SHOP, ("services", "catalog", "ready", "timeout_s"), 10**400),
        "services.catalog.ready.timeout_s: must be between 0.5 and 600",
    ),
    "hold-beyond-a-float": (
        "spec",
        _with(_KBPAY, ("timeline", 0, "hold_s"), 10**400),
        "timeline[0].hold_s: must be between",
    ),
    "fault-attribute-beyond-a-float": (
        "spec",
        _with(_KBPAY, ("timeline", 0, "timeout_ms"), 10**400),
        "timeline[0].timeout_ms: 100000000000... (401 digits) is too large",
    ),
    "topology-path-with-a-nul": (
        "spec",
        _with(_KBPAY, ("topology",), "a\x00b.yaml"),
        "topology: cannot read topology 'a\\x00b.yaml'",
    ),
    "compose-port-with-a-superscript": (
        "compose",
        "services:\n  web:\n    image: w\n    ports: ['²']\n",
        "services.web.ports[0]: '²' is not a port number",
    ),
}


@pytest.mark.parametrize("name", sorted(_FOUND))
def test_inputs_that_crashed_a_reader_are_one_line_naming_the_field(name: str) -> None:
    kind, text, expected = _FOUND[name]
    outcome = _read_text(kind, _fresh_folder(), text)
    assert isinstance(outcome, str), f"{name} read as a {kind}"
    assert expected in outcome
