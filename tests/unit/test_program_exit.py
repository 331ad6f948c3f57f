"""``domino`` as a program ends with ``os._exit`` once its output is flushed (``_end_program``).

Checked on real processes: the output is whole, the exit codes are the
command's, nothing is printed about a pipe whose reader is gone, Python's
finalization (an ``atexit`` handler stands for it) is skipped, and a program
that calls :func:`harness.cli.main` with a thread of its own still running
ends the usual way, waiting for that thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    """The program's environment: its own DOMINO_HOME, stdout buffered as in a real pipe."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["DOMINO_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _domino(tmp_path: Path, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *argv],
        capture_output="stdout" not in kw,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=_env(tmp_path / "home"),
        **kw,  # type: ignore[call-overload]
    )


def test_list_as_a_program_prints_what_main_returns_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list"]) == 0
    expected = capsys.readouterr().out
    assert expected.count("\n") >= 5  # the shipped incidents, one a line
    result = _domino(tmp_path, "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert result.stderr == ""


def test_output_to_a_file_is_whole_when_the_program_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file is block-buffered: what os._exit would lose if it were not flushed first.
    assert main(["show", "kbank-2024-11-25"]) == 0
    expected = capsys.readouterr().out
    out = tmp_path / "out.txt"
    with out.open("w") as file:
        result = _domino(tmp_path, "show", "kbank-2024-11-25", stdout=file, stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr
    assert out.read_text() == expected


def test_an_unknown_incident_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _domino(tmp_path, "run", "nosuch")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("domino: error: no incident 'nosuch'")


@pytest.mark.parametrize("argv", [["list"], ["show", "kbank-2024-11-25"]])
def test_a_reader_gone_before_the_output_gets_one_line_and_no_traceback(
    argv: list[str], tmp_path: Path
) -> None:
    # The pipe's reading end is closed before the program starts, so its first write
    # meets a reader that is gone (`| head -0`), whatever the output's size.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=_env(tmp_path / "home"),
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stderr == "domino: error: cannot write to standard output (Broken pipe)\n"


def _program(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(body))
    return script


def _run_program(tmp_path: Path, script: Path, marker: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), str(marker)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=_env(tmp_path / "home"),
    )


def test_the_program_skips_pythons_finalization(tmp_path: Path) -> None:
    # An exit handler is part of the finalization os._exit skips (Domino registers none).
    script = _program(
        tmp_path,
        """
        import atexit, sys
        from pathlib import Path
        from harness.cli import main

        marker = Path(sys.argv[1])
        atexit.register(marker.write_text, "finalized")
        sys.argv = ["domino", "list"]
        sys.exit(main())
        """,
    )
    marker = tmp_path / "finalized.txt"
    result = _run_program(tmp_path, script, marker)
    assert result.returncode == 0, result.stderr
    assert "kbank-2024-11-25" in result.stdout
    assert not marker.exists(), "main ended the process before the exit handlers"


def test_a_thread_of_the_programs_own_still_running_is_waited_for(tmp_path: Path) -> None:
    script = _program(
        tmp_path,
        """
        import sys, threading
        from pathlib import Path
        from harness.cli import main

        marker = Path(sys.argv[1])
        main_returned = threading.Event()

        def after_main():  # writes only once main has returned
            main_returned.wait()
            marker.write_text("written after main returned")

        threading.Thread(target=after_main, name="mine").start()  # not a daemon
        sys.argv = ["domino", "list"]
        try:
            code = main()
        finally:
            main_returned.set()
        sys.exit(code)
        """,
    )
    marker = tmp_path / "after-main.txt"
    result = _run_program(tmp_path, script, marker)
    assert result.returncode == 0, result.stderr
    assert "kbank-2024-11-25" in result.stdout
    assert marker.read_text() == "written after main returned"


def test_the_programs_exit_code_is_the_commands(tmp_path: Path) -> None:
    script = _program(
        tmp_path,
        """
        import sys
        from harness.cli import main

        sys.argv = ["domino", "run", "nosuch"]
        main()
        sys.exit(0)  # never reached: main ends the program with the command's code
        """,
    )
    result = _run_program(tmp_path, script, tmp_path / "unused")
    assert result.returncode == 2
    assert "no incident 'nosuch'" in result.stderr
