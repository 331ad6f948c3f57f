"""A run's report folder: taken for the run, cleared of the last run's reports, and marked
incomplete until the run's own are written (harness.report.folder)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness.errors import StackError, UsageError
from harness.explore.report import load_matrix
from harness.report.folder import (
    MATRIX_REPORTS,
    RUN_REPORTS,
    ReportFolder,
    ReportFolderBusyError,
)


def _old_reports(folder: Path, names: tuple[str, ...]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("from the run before")


def _error_message(junit: Path) -> str:
    root = ET.parse(junit).getroot()
    assert root.get("errors") == "1"
    assert root.get("failures") == "0"
    (case,) = list(root.iter("testcase"))
    error = case.find("error")
    assert error is not None
    return error.get("message", "")


def test_entering_clears_the_reports_a_run_writes_and_nothing_else(tmp_path: Path) -> None:
    _old_reports(tmp_path, (*RUN_REPORTS.all, "notes.txt"))
    with ReportFolder(tmp_path, RUN_REPORTS) as folder:
        assert not (tmp_path / "stability.json").exists()
        assert (tmp_path / "notes.txt").read_text() == "from the run before"
        data = json.loads((tmp_path / "report.json").read_text())
        assert data["complete"] is False
        assert data["outcome"] == "incomplete"
        assert f"still going (pid {os.getpid()}" in data["reason"]
        assert "did not finish: the run is still going" in _error_message(tmp_path / "junit.xml")
        (tmp_path / "report.json").write_text('{"complete": true}')
        folder.complete()
    assert (tmp_path / "report.json").read_text() == '{"complete": true}'  # left as written
    assert not (tmp_path / ".domino-report.lock").exists()


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (KeyboardInterrupt(), "interrupted"),
        (StackError("service bank did not start\nlast lines: ..."), "ended by an error: service "),
    ],
)
def test_a_run_that_ends_before_its_reports_marks_them_incomplete_saying_why(
    tmp_path: Path, raised: BaseException, reason: str
) -> None:
    with pytest.raises(type(raised)), ReportFolder(tmp_path, RUN_REPORTS):
        raise raised
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["complete"] is False
    assert data["reason"].startswith(reason)
    assert "\n" not in data["reason"]
    assert _error_message(tmp_path / "junit.xml").startswith(f"the run did not finish: {reason}")
    assert "did not finish" in (tmp_path / "report.html").read_text()


def test_a_second_run_into_a_taken_folder_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    with ReportFolder(tmp_path, RUN_REPORTS) as first:
        with pytest.raises(ReportFolderBusyError) as refused:
            ReportFolder(tmp_path, RUN_REPORTS).__enter__()
        assert isinstance(refused.value, UsageError)  # one line, exit 2
        assert f"another domino run (pid {os.getpid()}, started " in str(refused.value)
        assert json.loads((tmp_path / "report.json").read_text())["complete"] is False
        first.complete()
    with ReportFolder(tmp_path, RUN_REPORTS) as again:
        again.complete()


def test_a_sigkilled_run_leaves_reports_that_say_so_and_a_free_folder(tmp_path: Path) -> None:
    _old_reports(tmp_path, MATRIX_REPORTS.all)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from pathlib import Path
                from harness.report.folder import MATRIX_REPORTS, ReportFolder
                with ReportFolder(Path({str(tmp_path)!r}), MATRIX_REPORTS):
                    print("taken", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "taken"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)

    message = _error_message(tmp_path / "junit.xml")
    still = f"the matrix did not finish: the matrix is still going (pid {holder.pid}"
    assert message.startswith(still), message
    with pytest.raises(UsageError, match="the matrix did not finish"):
        load_matrix(tmp_path)  # `domino report merge` never merges a shard that did not finish
    began = time.monotonic()
    with ReportFolder(tmp_path, MATRIX_REPORTS) as taken:  # the kernel released the lock
        taken.complete()
    assert time.monotonic() - began < 1
