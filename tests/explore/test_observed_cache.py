"""The matrix's observed dependencies, kept per topology + profile and reused (real Toxiproxy,
the stdlib services of ``tests/pairs``, local backend): a second matrix reuses the graph and
judges the same; a changed profile or topology file, ``fresh``, an old or a corrupt file, each
observe again."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import Down, load_topology, start_stack
from harness.explore.matrix import MatrixResult, MatrixTimings, run_matrix
from harness.explore.observed_cache import GraphCache, GraphSource
from harness.explore.report import render_heatmap, write_matrix_reports
from harness.model.topology import Topology
from harness.report.folder import write_file

PAIRS = Path(__file__).resolve().parents[1] / "pairs"
QUICK = MatrixTimings(steady_s=0.5, hold_s=1.0, recovery_s=0.5)
#: A short observation (its parameters are part of the key like the matrix's own).
SHORT = {"calls_per_journey": 3, "quiet_s": 0.5, "sample_s": 0.05, "timeout_s": 5.0}
OBSERVING = "observing which edges each journey crosses"


@pytest.fixture
def system(tmp_path: Path) -> Path:
    """A copy of tests/pairs with a second profile (``other``): its domino.yaml."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    shutil.copy(PAIRS / "services.py", folder / "services.py")
    text = (PAIRS / "domino.yaml").read_text(encoding="utf-8")
    text = text.replace("adapter: http\n", "adapter: http\nprofiles:\n  default: {}\n  other: {}\n")
    (folder / "domino.yaml").write_text(text, encoding="utf-8")
    return folder / "domino.yaml"


def _matrix(topology: Topology, cache: GraphCache, said: list[str]) -> MatrixResult:
    return run_matrix(
        topology,
        edges=["gateway->pricing"],
        kinds=["down"],
        timings=QUICK,
        pairs=False,
        observed_cache=cache,
        say=said.append,
    )


def test_a_second_matrix_reuses_the_kept_graph_and_judges_every_cell_the_same(
    system: Path, tmp_path: Path
) -> None:
    topology = load_topology(system)
    cache = GraphCache(tmp_path / "observed")
    first_said: list[str] = []
    first = _matrix(topology, cache, first_said)
    assert OBSERVING in first_said
    assert first.extra["observed_source"]["source"] == "observed"
    assert (len(list(cache.folder.glob("*.json")))) == 1

    again_said: list[str] = []
    again = _matrix(topology, cache, again_said)
    assert OBSERVING not in again_said, again_said  # no observation step ran
    source = again.extra["observed_source"]
    assert source["source"] == "cache"
    assert source["key"] == first.extra["observed_source"]["key"]
    assert source["observed_at"] == first.extra["observed_source"]["observed_at"]
    assert f"key {source['key'][:12]} (--observe fresh to re-observe)" in source["description"]
    assert f"observed dependencies: {source['description']}" in again_said
    assert f"dependencies {source['description']}" in render_heatmap(again)
    # The same graph, and every cell judged the same with it.
    assert again.extra["observed"] == first.extra["observed"]
    assert {c.id: c.outcome for c in again.cells} == {c.id: c.outcome for c in first.cells}
    assert [c.outcome for c in again.cells] == ["contained"]  # spare answers for pricing
    paths = write_matrix_reports(again, tmp_path / "report")
    assert json.loads(paths["json"].read_text())["observed_source"]["source"] == "cache"
    page = paths["html"].read_text(encoding="utf-8")
    assert f"Dependencies {html.escape(source['description'])}." in page


def _observe(topology: Topology, cache: GraphCache, profile: str | None = None) -> list[str]:
    said: list[str] = []
    with start_stack("local", topology=topology, profile=profile) as stack:
        graph, source = cache.graph(stack, say=said.append)
    assert graph.journey("quote").crossed == ("client->gateway", "gateway->pricing")
    assert source.cached == (OBSERVING not in said)
    return said


def test_another_profile_a_changed_topology_file_and_fresh_each_observe_again(
    system: Path, tmp_path: Path
) -> None:
    cache = GraphCache(tmp_path / "observed", parameters=SHORT)
    assert OBSERVING in _observe(load_topology(system), cache)
    assert OBSERVING not in _observe(load_topology(system), cache)  # kept
    assert OBSERVING in _observe(load_topology(system), cache, profile="other")
    assert OBSERVING not in _observe(load_topology(system), cache, profile="other")
    # The file changed (a journey's SLO): a new key, observed again.
    text = system.read_text(encoding="utf-8").replace("p95_ms: 1500", "p95_ms: 1400")
    system.write_text(text, encoding="utf-8")
    assert OBSERVING in _observe(load_topology(system), cache)
    fresh = GraphCache(cache.folder, fresh=True, parameters=SHORT)
    assert OBSERVING in _observe(load_topology(system), fresh)
    assert len(list(cache.folder.glob("*.json"))) == 3  # default, other, changed file


def test_a_corrupt_foreign_or_old_kept_graph_is_said_observed_again_and_rewritten(
    system: Path, tmp_path: Path
) -> None:
    topology = load_topology(system)
    cache = GraphCache(tmp_path / "observed", parameters=SHORT)
    _observe(topology, cache)
    (kept,) = cache.folder.glob("*.json")
    good = json.loads(kept.read_text(encoding="utf-8"))

    kept.write_text('{"kind": "domino-observed-graph", "format": 1, "ke', encoding="utf-8")
    said = _observe(topology, cache)
    assert OBSERVING in said
    assert any(line.startswith(f"ignored the kept observed graph {kept} (") for line in said)
    assert json.loads(kept.read_text(encoding="utf-8"))["key"] == good["key"]  # rewritten
    assert OBSERVING not in _observe(topology, cache)

    kept.write_text(json.dumps({**good, "key": "0" * 64}), encoding="utf-8")  # another's
    said = _observe(topology, cache)
    assert any("another key's graph" in line for line in said), said

    tomorrow = GraphCache(cache.folder, parameters=SHORT, now_s=lambda: time.time() + 86400 + 60)
    said = _observe(topology, tomorrow)
    assert any("older than 24 h" in line for line in said), said
    assert not list(cache.folder.glob(".*.tmp"))  # no scratch file left behind


def test_where_the_graph_came_from_is_said_in_one_phrase() -> None:
    fresh = GraphSource(cached=False, observed_at="2026-12-06T20:10:04+00:00", observed_s=6.84)
    assert fresh.describe() == "observed (6.8 s)"
    kept = GraphSource(True, "2026-12-06T20:10:04+00:00", 6.84, key="abc123def4567890")
    assert kept.describe() == (
        "from cache, observed 2026-12-06 20:10 UTC, key abc123def456 (--observe fresh to "
        "re-observe)"
    )
    assert kept.as_dict()["source"] == "cache"


def _domino(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "--state-dir", str(home), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=home.parent,
    )


def test_the_command_keeps_the_graph_in_the_state_folder_and_observe_fresh_observes_again(
    system: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    argv = ["matrix", "--topology", str(system), "--edges", "gateway->pricing", "--faults"]
    argv += ["down", "--no-pairs", "--hold-s", "1", "--steady-s", "0.5"]
    first = _domino(home, *argv, "--report", str(tmp_path / "first"))
    assert first.returncode == 0, first.stderr
    assert f"domino: {OBSERVING}" in first.stderr
    assert len(list((home / "observed").glob("*.json"))) == 1
    again = _domino(home, *argv, "--observe", "fresh", "--report", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert f"domino: {OBSERVING}" in again.stderr
    assert "  dependencies observed (" in again.stdout
    both = _domino(home, *argv, "--observe", "fresh", "--no-observe")
    assert both.returncode == 2
    assert both.stderr.strip().splitlines() == [
        "domino: error: --observe fresh and --no-observe contradict each other: give one"
    ]


def test_two_writers_at_once_leave_one_whole_graph_file_and_no_scratch(tmp_path: Path) -> None:
    # Two matrices (workers, shards) keeping the same key's graph at once: a reader sees one
    # writer's whole file or the other's, never a mix or a half.
    path = tmp_path / "key.json"
    bodies = [json.dumps({"writer": n, "pad": "x" * 200_000}) for n in (1, 2)]
    done = threading.Event()
    seen: list[int] = []
    torn: list[str] = []

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(json.loads(path.read_bytes())["writer"])
            except FileNotFoundError:
                pass
            except ValueError as exc:  # half a file, or a mix: what this test is about
                torn.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for _ in range(50):
                list(pool.map(lambda body: write_file(path, body), bodies))
    finally:
        done.set()
        reader.join()
    assert not torn, torn[:3]
    assert seen
    assert set(seen) <= {1, 2}
    assert json.loads(path.read_bytes())["writer"] in (1, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]


def test_a_graph_observed_through_failing_calls_is_used_but_not_kept(
    system: Path, tmp_path: Path
) -> None:
    cache = GraphCache(tmp_path / "observed", parameters=SHORT)
    said: list[str] = []
    with start_stack("local", topology=load_topology(system)) as stack:
        cache.graph(stack)  # a good graph, kept
        assert len(list(cache.folder.glob("*.json"))) == 1
        # Asked for afresh and seen through failing calls: neither graph is kept.
        cache = GraphCache(tmp_path / "observed", parameters=SHORT, fresh=True)
        with stack.inject(Down(edge="client->gateway")):
            graph, source = cache.graph(stack, say=said.append)
    assert graph.journey("quote").ok_calls == 0
    assert source.key == ""
    assert source.describe().startswith("observed (")
    assert (
        "observed dependencies not kept: 3 of 3 quote calls failed while observing; the next "
        "matrix observes again"
    ) in said
    assert not list(cache.folder.glob("*.json"))
