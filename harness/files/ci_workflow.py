"""``domino ci github|gitlab``: a CI workflow that runs the matrix in N shards and merges them.

A QA team runs the matrix on its own runners, split over ``shards`` jobs
(``domino matrix --shard I/N``: disjoint parts that add up to the whole;
docs/matrix.md), then one job joins the shard reports with ``domino report
merge`` — and, given a ``baseline`` report, gates on ``domino compare``.

Each shard writes ``reports/domino-shard-I``; GitHub's artifacts of that
name download into the same folders, GitLab's artifacts keep their paths,
so the merge job runs the same command a developer runs locally after
running the shards side by side. The Domino commands of the workflow are
exactly those (:func:`shard_command`, :func:`merge_command`), and a test
runs them locally and checks the merged report equals an unsharded run.

The workflow is YAML written from plain data (``yaml.safe_dump``), so a
topology path or matrix argument with quotes or colons stays one value.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from harness.errors import UsageError

__all__ = ["CiPlan", "merge_command", "remake_command", "render_workflow", "shard_command"]

CiKind = Literal["github", "gitlab"]

#: Where each kind of CI reads a workflow from, by default.
DEFAULT_PATHS: dict[str, str] = {
    "github": ".github/workflows/domino-matrix.yml",
    "gitlab": "domino-matrix.gitlab-ci.yml",
}
MAX_SHARDS = 64
#: ``domino matrix`` options the workflow sets itself.
_OWN_OPTIONS = ("--shard", "--report", "--topology")
_SHARD_DIR = "reports/domino-shard-"
_MERGED_DIR = "reports/matrix"


@dataclass(frozen=True)
class CiPlan:
    """What the workflow runs: ``shards`` jobs of ``domino matrix`` on ``topology``.

    ``runs_on`` are the runner labels (GitHub ``runs-on``, default
    ``ubuntu-latest``; GitLab ``tags``, default none);
    ``install`` installs Domino on a runner (e.g. ``pip install
    domino-chaos``); ``setup`` are commands run before the matrix (building
    the services, say); ``matrix_args`` go to every ``domino matrix``;
    ``baseline`` a report the merged matrix is compared with (``domino
    compare``: the merge job fails on a regression).
    """

    shards: int
    topology: str = "domino.yaml"
    runs_on: tuple[str, ...] = ()
    install: str = "pip install domino-chaos"
    setup: tuple[str, ...] = ()
    matrix_args: tuple[str, ...] = ()
    baseline: str | None = None
    python_version: str = "3.12"
    go_version: str = "1.22"
    image: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= MAX_SHARDS:
            raise UsageError(f"--shards takes 1 to {MAX_SHARDS}, got {self.shards}")
        for arg in self.matrix_args:
            name = arg.split("=", 1)[0]
            if name in _OWN_OPTIONS:
                raise UsageError(
                    f"--matrix-args: {name} is set by the workflow itself; leave it out"
                )
        if self.topology.startswith(("/", "~")) or ":\\" in self.topology:
            raise UsageError(
                f"--topology {self.topology}: give its path relative to the repository's root, "
                "as the runners see it"
            )
        if not all(label.strip() for label in self.runs_on):
            raise UsageError("--runs-on takes a runner label, e.g. ubuntu-latest or self-hosted")
        if not self.install.strip():
            raise UsageError("--install takes the command that installs Domino on a runner")


def shard_command(plan: CiPlan, index: str) -> str:
    """The shell command of shard ``index`` (a number, or the CI's variable for it)."""
    fixed = shlex.join(["domino", "matrix", "--topology", plan.topology, *plan.matrix_args])
    return f'{fixed} --shard "{index}/{plan.shards}" --report "{_SHARD_DIR}{index}"'


def merge_command() -> str:
    """The shell command that joins every shard's report into ``reports/matrix``."""
    return f"domino report merge {_SHARD_DIR}* --out {_MERGED_DIR}"


def _compare_command(plan: CiPlan) -> str | None:
    if plan.baseline is None:
        return None
    return shlex.join(["domino", "compare", plan.baseline, _MERGED_DIR])


def _runs_on(plan: CiPlan) -> str | list[str]:
    labels = plan.runs_on or ("ubuntu-latest",)
    return labels[0] if len(labels) == 1 else list(labels)


def _github_setup(plan: CiPlan, *, toxiproxy: bool) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": plan.python_version}},
    ]
    if toxiproxy:
        # Domino builds its own toxiproxy-server (with its extra toxics) from Go source.
        steps.append({"uses": "actions/setup-go@v5", "with": {"go-version": plan.go_version}})
    steps.append({"name": "install Domino", "run": plan.install})
    if toxiproxy:
        steps.append({"name": "build Domino's toxiproxy-server", "run": "domino toxiproxy install"})
        steps += [{"name": f"setup {i + 1}", "run": cmd} for i, cmd in enumerate(plan.setup)]
    return steps


def _github(plan: CiPlan) -> dict[str, Any]:
    shard = "${{ matrix.shard }}"
    matrix_steps = [
        *_github_setup(plan, toxiproxy=True),
        {"id": "shard", "name": "run this shard of the matrix", "run": shard_command(plan, shard)},
        {
            "if": "always()",
            "uses": "actions/upload-artifact@v4",
            "with": {"name": f"domino-shard-{shard}", "path": f"{_SHARD_DIR}{shard}"},
        },
    ]
    merge_steps = [
        *_github_setup(plan, toxiproxy=False),
        {
            "uses": "actions/download-artifact@v4",
            "with": {"pattern": "domino-shard-*", "path": "reports"},
        },
        {"id": "merge", "name": "merge the shards' reports", "run": merge_command()},
    ]
    compare = _compare_command(plan)
    if compare:
        merge_steps.append({"id": "compare", "name": "compare with the baseline", "run": compare})
    merge_steps.append(
        {
            "if": "always()",
            "uses": "actions/upload-artifact@v4",
            "with": {"name": "domino-matrix", "path": _MERGED_DIR},
        }
    )
    return {
        "name": "Domino matrix",
        "on": {"pull_request": {}, "workflow_dispatch": {}},
        "jobs": {
            "matrix": {
                "name": f"matrix shard {shard}/{plan.shards}",
                "runs-on": _runs_on(plan),
                "strategy": {
                    "fail-fast": False,
                    "matrix": {"shard": list(range(1, plan.shards + 1))},
                },
                "steps": matrix_steps,
            },
            "merge": {
                "needs": "matrix",
                # A shard with a violation fails its job; the merged report is still made.
                "if": "${{ !cancelled() }}",
                "runs-on": _runs_on(plan),
                "steps": merge_steps,
            },
        },
    }


def _gitlab(plan: CiPlan) -> dict[str, Any]:
    common: dict[str, Any] = {"tags": list(plan.runs_on)} if plan.runs_on else {}
    if plan.image:
        common["image"] = plan.image
    merge_script = [plan.install, merge_command()]
    compare = _compare_command(plan)
    if compare:
        merge_script.append(compare)
    return {
        "domino-matrix": {
            **common,
            "stage": "test",
            "parallel": plan.shards,
            "script": [
                plan.install,
                "domino toxiproxy install",
                *plan.setup,
                shard_command(plan, "${CI_NODE_INDEX}"),
            ],
            "artifacts": {"when": "always", "paths": ["reports/"]},
        },
        "domino-matrix-merge": {
            **common,
            "stage": ".post",
            "when": "always",
            "needs": [{"job": "domino-matrix", "artifacts": True}],
            "script": merge_script,
            "artifacts": {"when": "always", "paths": [f"{_MERGED_DIR}/"]},
        },
    }


def remake_command(kind: CiKind, plan: CiPlan) -> str:
    """The ``domino ci`` command that writes this workflow again (for its header)."""
    argv = ["domino", "ci", kind, "--shards", str(plan.shards), "--topology", plan.topology]
    for label in plan.runs_on:
        argv += ["--runs-on", label]
    argv += ["--install", plan.install]
    for command in plan.setup:
        argv += ["--setup", command]
    if plan.matrix_args:
        argv.append("--matrix-args=" + shlex.join(plan.matrix_args))
    if plan.baseline:
        argv += ["--baseline", plan.baseline]
    if plan.image:
        argv += ["--image", plan.image]
    return shlex.join(argv)


def render_workflow(kind: CiKind, plan: CiPlan) -> str:
    """The workflow file's text for ``kind``, with a header saying how to write it again."""
    data = _github(plan) if kind == "github" else _gitlab(plan)
    made_by = remake_command(kind, plan)
    header = (
        f"# The blast-radius matrix in {plan.shards} shard(s) on your runners, merged into one\n"
        "# report (reports/matrix). Regenerate rather than edit; written by:\n"
        f"#   {made_by}\n"
    )
    if kind == "gitlab":
        header += "# Include it from .gitlab-ci.yml: `include: {local: " + (
            DEFAULT_PATHS["gitlab"] + "}`\n"
        )
    return header + yaml.dump(
        data, Dumper=_NoAliases, sort_keys=False, width=1000, default_flow_style=False
    )


class _NoAliases(yaml.SafeDumper):
    """A dumper that writes a value used twice (the jobs' tags) out twice, not as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
