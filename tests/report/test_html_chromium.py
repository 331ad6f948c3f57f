"""The HTML report opened in a real headless Chromium: it parses, lays out and paints its plots.

The unit tests read the markup Domino writes; these read what a browser made
of it: the DOM after parsing (``--dump-dom``) and the pixels (``--screenshot``).
The page is the sample report with a hostile incident title, so the browser
also proves the title stayed text.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.report.html import render_html
from tests.report.markup import parse
from tests.report.png import read_png
from tests.report.samples import load_sample

HOSTILE = "<script>alert(1)</script>"
#: Generous: a cold start on a loaded CI machine takes a few seconds; a hang must not block CI.
TIMEOUT_S = 90.0
WIDTH, HEIGHT = 1280, 4000


def run_chromium(binary: Path, args: Sequence[str], profile_dir: Path) -> str:
    """Run headless Chromium on ``args``; return its stdout.

    Chromium starts helper processes (zygote, renderer, GPU); it runs in its own
    process group so a timeout kills all of them, not just the parent.
    """
    command = [
        str(binary),
        "--headless",
        "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        *args,
    ]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"chromium did not finish within {TIMEOUT_S:.0f} s: {command}")
    assert process.returncode == 0, f"chromium exited {process.returncode}: {stderr[-2000:]}"
    return stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, sample_data: dict[str, Any]) -> Path:
    sample_data["runs"][0]["incident"]["title"] = HOSTILE
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(sample_data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample_data() -> dict[str, Any]:
    return load_sample()


def test_chromium_builds_the_plots_and_the_verdict_table(
    chromium: Path, page: Path, tmp_path: Path, sample_data: dict[str, Any]
) -> None:
    dom = parse(run_chromium(chromium, ["--dump-dom", page.as_uri()], tmp_path / "profile"))
    sections = dom.find_all("section", "run")
    assert len(sections) == len(sample_data["runs"])
    for section, run in zip(sections, sample_data["runs"], strict=True):
        plots = {svg.attrs["data-journey"]: svg for svg in section.find_all("svg", "plot")}
        assert set(plots) == set(run["timeseries"])
        for journey, points in run["timeseries"].items():
            marks = plots[journey].find_all("circle") + plots[journey].find_all("path", "pt-deg")
            assert len(marks) == len(points)
            assert len(plots[journey].find_all("rect", "fault")) == 2
        verdict = section.find("table", "verdict").find("tbody").find_all("tr")
        assert len(verdict) == len(run["verdict"]["checks"])
        assert section.find_all("table", "blast")
    assert dom.find_all("script") == []
    assert sections[0].find("p", "incident-title").text == HOSTILE


def test_chromium_paints_the_page_with_its_plots(
    chromium: Path, page: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "report.png"
    run_chromium(
        chromium,
        [f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri()],
        tmp_path / "profile",
    )
    assert shot.is_file()
    image = read_png(shot)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    colours = image.colours()
    assert len(colours) > 1, "the screenshot is blank"

    def pixels_near(rgb: tuple[int, int, int], tolerance: int = 4) -> int:
        return sum(
            n
            for c, n in colours.items()
            if all(abs(a - b) <= tolerance for a, b in zip(c, rgb, strict=True))
        )

    # The fault shading (#cf222e at 11% over white) fills a large part of each plot.
    assert pixels_near((250, 231, 232), tolerance=2) > 20_000
    # The success bars (#1a7f37) and the points of calls (#2f6fb0 at 55% over white).
    assert pixels_near((26, 127, 55)) > 10_000
    assert pixels_near((137, 173, 209), tolerance=12) > 500
