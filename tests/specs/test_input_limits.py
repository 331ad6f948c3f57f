"""Hostile inputs are one line and exit 2, before anything starts: deep YAML, files that are
not regular files, a report folder that cannot be written, a standard output that fails.

What the red team found: ``domino validate`` on YAML nested ~500 levels printed
a RecursionError traceback (exit 1); a FIFO given as a spec, topology or
Compose file hung forever; a bad ``--report`` path or a closed stdout gave a
traceback after the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import TopologyError, load_topology

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop" / "domino.yaml"


def _domino(
    home: Path, *argv: str, timeout_s: float = 30, **popen: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "harness.cli", *argv],
        capture_output="stdout" not in popen,
        stderr=subprocess.PIPE if "stdout" in popen else None,
        text=True,
        timeout=timeout_s,
        check=False,
        env=dict(os.environ, DOMINO_HOME=str(home)),
        cwd=home.parent,
        **popen,
    )


def _one_line(result: subprocess.CompletedProcess[str], home: Path) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("domino: error: ")
    assert not (home / "runs").exists(), "something was started"
    assert not (home / "local").exists(), "something was started"
    return lines[0]


_DEEP = {
    "flow mapping": "a: " + "{b: " * 500 + "1" + "}" * 500 + "\n",
    "flow list": "a: " + "[" * 500 + "1" + "]" * 500 + "\n",
    "block mapping": "a:\n"
    + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(500))
    + "  " * 501
    + "v\n",
}


@pytest.mark.parametrize("name", ["spec.yaml", "domino.yaml"], ids=["as-spec", "as-topology"])
@pytest.mark.parametrize("style", sorted(_DEEP))
def test_yaml_nested_500_levels_is_one_line_naming_file_and_line(
    style: str, name: str, tmp_path: Path
) -> None:
    deep = tmp_path / name
    deep.write_text(_DEEP[style])
    home = tmp_path / "home"
    line = _one_line(_domino(home, "validate", str(deep)), home)
    assert f"{deep}:" in line
    assert "nested too deeply (more than 64 levels)" in line


def test_a_topology_nested_500_levels_is_refused_by_the_reader(tmp_path: Path) -> None:
    deep = tmp_path / "domino.yaml"
    deep.write_text(_DEEP["block mapping"])
    with pytest.raises(TopologyError, match=r"domino\.yaml:65: the YAML is nested too deeply"):
        load_topology(deep)


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "{path}"],
        ["show", "{path}"],
        ["run", "{path}"],
        ["up", "--topology", "{path}"],
        ["import-compose", "{path}", "-o", "{out}"],
    ],
    ids=["validate", "show", "run", "up --topology", "import-compose"],
)
def test_a_fifo_is_refused_at_once_not_waited_on(argv: list[str], tmp_path: Path) -> None:
    fifo = tmp_path / "incident.yaml"
    os.mkfifo(fifo)
    home = tmp_path / "home"
    began = time.monotonic()
    argv = [a.replace("{path}", str(fifo)).replace("{out}", str(tmp_path / "o.yaml")) for a in argv]
    line = _one_line(_domino(home, *argv, timeout_s=30), home)
    assert time.monotonic() - began < 20
    assert f"{fifo}: a named pipe (FIFO), not a regular file" in line


def test_a_device_is_refused_as_not_a_regular_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    line = _one_line(_domino(home, "validate", "/dev/zero"), home)
    assert "/dev/zero: a character device, not a regular file" in line


def test_a_report_path_that_is_a_file_is_refused_before_the_stack_starts(tmp_path: Path) -> None:
    taken = tmp_path / "report.html"
    taken.write_text("an old report")
    home = tmp_path / "home"
    for report, blamed in ((taken, "it is a file"), (taken / "sub", f"{taken} is a file")):
        began = time.monotonic()
        line = _one_line(_domino(home, "run", "kbpay-2023-01-25", "--report", str(report)), home)
        assert time.monotonic() - began < 20
        assert f"--report {report}: {blamed}, not a folder" in line
    line = _one_line(_domino(home, "matrix", "--report", str(taken)), home)
    assert f"--report {taken}: it is a file, not a folder" in line
    assert taken.read_text() == "an old report"


def test_a_report_folder_that_cannot_be_written_is_refused_and_nothing_is_left(
    tmp_path: Path,
) -> None:
    if not Path("/sys").is_dir():
        pytest.skip("needs /sys, a folder even root cannot write in")
    home = tmp_path / "home"
    line = _one_line(_domino(home, "run", "kbpay-2023-01-25", "--report", "/sys/domino"), home)
    assert "--report /sys/domino: cannot write there" in line
    # A folder that can be made is checked by making it, and removed again.
    fresh = tmp_path / "a" / "b"
    taken = tmp_path / "taken"
    taken.write_text("")
    _one_line(_domino(home, "run", "kbpay-2023-01-25", "--report", str(taken)), home)
    assert not (tmp_path / "a").exists()
    from harness.infra.outputs import check_report_folder

    check_report_folder(fresh)
    assert not (tmp_path / "a").exists()


def test_a_closed_stdout_is_refused_before_anything_starts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = _domino(home, "list", stdout=None, preexec_fn=lambda: os.close(1))
    line = _one_line(result, home)
    assert "standard output is closed" in line


def test_a_stdout_whose_reader_is_gone_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    read, write = os.pipe()
    os.close(read)  # nobody will read: every write is EPIPE
    try:
        result = _domino(home, "list", stdout=write)
    finally:
        os.close(write)
    line = _one_line(result, home)
    assert line == "domino: error: cannot write to standard output (Broken pipe)"


def test_a_full_stdout_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    home = tmp_path / "home"
    with Path("/dev/full").open("w") as full:
        result = _domino(home, "list", stdout=full)
    line = _one_line(result, home)
    assert line == "domino: error: cannot write to standard output (No space left on device)"


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_help_into_a_pipe_whose_reader_is_gone_exits_quietly(
    argv: list[str], tmp_path: Path
) -> None:
    # `domino --help | head -1`: the help waited in stdout's buffer (a pipe is buffered
    # unless PYTHONUNBUFFERED is set) and Python's flush at exit failed: "Exception
    # ignored ... BrokenPipeError" on stderr, exit 120.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    read, write = os.pipe()
    os.close(read)  # head has read its line and gone
    try:
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
            env=dict(env, DOMINO_HOME=str(tmp_path / "home")),
        )
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 0
