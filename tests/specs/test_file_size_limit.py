"""Files over the size limit are refused before parsing: one line naming file, size and limit.

A 50 MB incident spec with large values once ran for two minutes to a
MemoryError traceback; every file Domino reads (incident specs, topology
files, Compose files to import) is now refused above 1 MiB, before a byte
of it is parsed, by every command that reads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import SpecError, TopologyError, find_topology, load_topology
from harness.files.incident_file import load_spec
from harness.files.yamldoc import MAX_FILE_BYTES
from harness.library import incident_dirs

ROOT = Path(__file__).resolve().parents[2]
SPEC = incident_dirs()["bank"] / "kbpay-2023-01-25.yaml"
SHOP = ROOT / "examples" / "shop" / "domino.yaml"
COMPOSE = ROOT / "examples" / "shop" / "compose.yaml"
LIMIT = "over the 1 MiB (1,048,576-byte) limit"


def _padded(source: Path, target: Path, size: int) -> Path:
    """``source`` made ``size`` bytes long with large values under a top-level x- key."""
    text = source.read_text() + "x-padding:\n"
    line = "  - " + "v" * 995 + "\n"  # 1,000 bytes a line
    lines, rest = divmod(size - len(text.encode()), len(line))
    target.write_text(text + line * lines + "#" * max(rest - 1, 0) + ("\n" if rest else ""))
    assert target.stat().st_size == size
    return target


def _domino(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, DOMINO_HOME=str(home)),
        cwd=home.parent,
    )


def _refused(result: subprocess.CompletedProcess[str], path: Path, size: int, home: Path) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{path}: {size:,} bytes, {LIMIT} for " in lines[0]
    assert "refused before reading" in lines[0]
    assert not (home / "runs").exists()  # nothing was started
    assert not (home / "local").exists()


def test_a_50_mb_incident_spec_is_refused_in_seconds_with_exit_2(tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    huge = _padded(SPEC, tmp_path / "huge.yaml", size)
    home = tmp_path / "home"
    for argv in (["run", str(huge)], ["validate", str(huge)], ["show", str(huge)]):
        started = time.monotonic()
        result = _domino(home, *argv)
        _refused(result, huge, size, home)
        assert "limit for an incident spec" in result.stderr or argv[0] == "validate"
        assert time.monotonic() - started < 30  # it used to take minutes


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "{path}"],
        ["up", "--topology", "{path}"],
        ["run", "--topology", "{path}", str(SPEC)],
    ],
    ids=["validate", "up", "run"],
)
def test_a_topology_over_the_limit_is_refused_by_every_command(
    argv: list[str], tmp_path: Path
) -> None:
    size = MAX_FILE_BYTES + 1
    big = _padded(SHOP, tmp_path / "domino.yaml", size)
    home = tmp_path / "home"
    result = _domino(home, *(a.replace("{path}", str(big)) for a in argv))
    _refused(result, big, size, home)


def test_a_compose_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    size = MAX_FILE_BYTES + 1
    big = _padded(COMPOSE, tmp_path / "compose.yaml", size)
    home = tmp_path / "home"
    out = tmp_path / "out.yaml"
    result = _domino(home, "import-compose", str(big), "-o", str(out))
    _refused(result, big, size, home)
    assert "limit for a Compose file" in result.stderr
    assert not out.exists()


def test_the_limit_is_inclusive_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    bank = find_topology("bank")
    exact = _padded(SPEC, tmp_path / "exact.yaml", MAX_FILE_BYTES)
    assert load_spec(exact, topology=bank).id == "kbpay-2023-01-25"
    over = _padded(SPEC, tmp_path / "over.yaml", MAX_FILE_BYTES + 1)
    with pytest.raises(SpecError, match=r"over\.yaml: 1,048,577 bytes, over the 1 MiB"):
        load_spec(over, topology=bank)


def test_a_stream_with_no_size_is_refused_before_reading(tmp_path: Path) -> None:
    # Not cut off at the limit any more: only regular files are read (a FIFO would hang).
    with pytest.raises(TopologyError) as info:
        load_topology(Path("/dev/zero"))
    assert str(info.value) == (
        "/dev/zero: a character device, not a regular file; a topology file is read from "
        "a regular file (save it to one first)"
    )
