"""`domino ci github|gitlab`: the generated workflow's own commands, run here as its runners
would (the shards as parallel processes, then the merge), give the same matrix as one
unsharded run."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.explore.report import load_matrix

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "tests" / "doctor" / "system"
#: Short holds and no learning pass: sharding, not judging, is under test.
MATRIX_ARGS = "--edges=front->stock --faults=down,reset-peer --no-observe --hold-s 1 --steady-s 0.5"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A team's repository: the shop's code and its topology, the current folder."""
    from harness.toxiproxy.binary import find_toxiproxy

    copy = tmp_path / "repo"
    shutil.copytree(SHOP, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(copy)
    return copy


def _start(command: str, repo: Path) -> subprocess.Popen[bytes]:
    """A workflow step's shell command, as a runner runs it (``domino`` on the PATH)."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out.decode(errors="replace")


def _step(job: dict[str, Any], step_id: str) -> str:
    [step] = [s for s in job["steps"] if s.get("id") == step_id]
    command: str = step["run"]
    return command


def test_the_github_workflow_run_locally_merges_to_the_unsharded_matrix(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = repo / ".github" / "workflows" / "domino-matrix.yml"
    argv = ["ci", "github", "--shards", "2", "--topology", "two-edges.yaml"]
    assert main([*argv, f"--matrix-args={MATRIX_ARGS}", "--runs-on", "self-hosted"]) == 0
    workflow = yaml.safe_load(out.read_text())
    matrix_job, merge_job = workflow["jobs"]["matrix"], workflow["jobs"]["merge"]
    assert matrix_job["runs-on"] == "self-hosted"
    assert merge_job["needs"] == "matrix"
    shards = matrix_job["strategy"]["matrix"]["shard"]
    assert shards == [1, 2]

    # Every shard and one unsharded run at once, as parallel runners would.
    template = _step(matrix_job, "shard")
    running = {
        shard: _start(template.replace("${{ matrix.shard }}", str(shard)), repo) for shard in shards
    }
    unsharded = ["domino", "matrix", "--topology", "two-edges.yaml", *shlex.split(MATRIX_ARGS)]
    whole = _start(shlex.join([*unsharded, "--report", "whole"]), repo)
    finished = {shard: _finish(process) for shard, process in running.items()}
    whole_code, whole_out = _finish(whole)
    assert whole_code == 1, whole_out  # peek fails when stock does: a cascade violation
    for shard, (code, text) in finished.items():
        assert code in (0, 1), f"shard {shard}: {text}"
        assert (repo / "reports" / f"domino-shard-{shard}" / "matrix.json").is_file()

    merge_code, merge_out = _finish(_start(_step(merge_job, "merge"), repo))
    assert merge_code == 1, merge_out
    merged, alone = load_matrix(repo / "reports" / "matrix"), load_matrix(repo / "whole")
    assert merged.planned == alone.planned == 2
    assert {c.id: (c.outcome, c.violations) for c in merged.cells} == {
        c.id: (c.outcome, c.violations) for c in alone.cells
    }
    assert all(c.violations == ["peek"] for c in merged.cells)
    assert main(["compare", "whole", "reports/matrix"]) == 0
    assert "no change" in capsys.readouterr().out


def test_the_gitlab_jobs_run_the_same_commands_as_the_github_steps(repo: Path) -> None:
    common = ["--shards", "3", "--topology", "two-edges.yaml", f"--matrix-args={MATRIX_ARGS}"]
    assert main(["ci", "github", *common, "--baseline", "base/matrix.json"]) == 0
    assert main(["ci", "gitlab", *common, "--baseline", "base/matrix.json"]) == 0
    github = yaml.safe_load((repo / ".github/workflows/domino-matrix.yml").read_text())
    gitlab = yaml.safe_load((repo / "domino-matrix.gitlab-ci.yml").read_text())
    shards, merge = gitlab["domino-matrix"], gitlab["domino-matrix-merge"]
    assert shards["parallel"] == 3
    for index in (1, 2, 3):
        # GitLab's shell fills in CI_NODE_INDEX; GitHub's runner fills in matrix.shard.
        lab = shards["script"][-1].replace("${CI_NODE_INDEX}", str(index))
        hub = _step(github["jobs"]["matrix"], "shard").replace("${{ matrix.shard }}", str(index))
        assert lab == hub
    assert merge["script"][-2:] == [
        _step(github["jobs"]["merge"], "merge"),
        _step(github["jobs"]["merge"], "compare"),
    ]
    assert merge["when"] == "always"


def test_the_command_in_a_workflows_header_writes_it_again(repo: Path) -> None:
    args = ["--shards", "2", "--topology", "two-edges.yaml", "--runs-on", "self-hosted"]
    extra = [f"--matrix-args={MATRIX_ARGS}", "--setup", "make build", "--baseline", "b.json"]
    assert main(["ci", "gitlab", *args, *extra]) == 0
    path = repo / "domino-matrix.gitlab-ci.yml"
    first = path.read_text()
    [command] = [line[4:] for line in first.splitlines() if line.startswith("#   domino ci ")]
    path.unlink()
    assert main(shlex.split(command)[1:]) == 0
    assert path.read_text() == first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shards", "0"], "--shards takes 1 to 64"),
        (["--matrix-args=--bogus"], "--matrix-args: unrecognized arguments: --bogus"),
        (["--matrix-args=--report x"], "--report is set by the workflow itself"),
        (["--topology", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["ci", "github", "--topology", "two-edges.yaml", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (repo / ".github").exists()
