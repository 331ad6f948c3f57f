"""Which command lines start the service host before Domino's imports (``early_host_folder``).

A pure guess from the words alone: a stack command of Domino's own services
on the local backend gets the state folder its host's log goes in; anything
else, or anything the guess cannot read for sure, gets None (the stack then
starts its host itself).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import early_host_folder
from harness.infra.home import domino_home


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no domino.yaml, and a DOMINO_HOME of the test's own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "card-latency"],
        ["run", "--all"],
        ["up"],
        ["up", "--json"],
        ["up", "--profile", "hardened"],
        ["up", "--backend", "local"],
        ["up", "--backend=local"],
        ["up", "--topology", "bank"],
        ["demo"],
        ["matrix"],
        ["cliff"],
        ["defences"],
    ],
)
def test_a_local_stack_of_dominos_services_gets_a_host_in_domino_home(
    argv: list[str], home: Path
) -> None:
    assert early_host_folder(argv) == home


@pytest.mark.parametrize("spelling", [["--state-dir", "STATE"], ["--state-dir=STATE"]])
@pytest.mark.parametrize("where", ["before", "after"])
def test_state_dir_names_the_folder(spelling: list[str], where: str, tmp_path: Path) -> None:
    words = [w.replace("STATE", str(tmp_path / "state")) for w in spelling]
    argv = [*words, "up"] if where == "before" else ["up", *words]
    assert early_host_folder(argv) == tmp_path / "state"


def test_the_last_state_dir_wins_as_in_the_parser(tmp_path: Path) -> None:
    from harness.commands import build_parser

    argv = ["--state-dir", "first", "up", "--state-dir", "second"]
    assert build_parser().parse_args(argv).state_dir == "second"
    assert early_host_folder(argv) == tmp_path / "second"


def test_a_relative_state_dir_is_made_absolute(tmp_path: Path) -> None:
    assert early_host_folder(["run", "card-latency", "--state-dir", "here"]) == tmp_path / "here"


def test_without_domino_home_the_folder_the_stack_will_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DOMINO_HOME")
    assert early_host_folder(["up"]) == domino_home() == tmp_path / ".domino"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["-h"],
        ["up", "--help"],
        ["run", "-h"],
        ["up", "--backend", "docker"],
        ["up", "--backend=external"],
        ["up", "--topology", "path.yaml"],
        ["up", "--topology=shop"],
        ["run", "incident.yaml"],
        ["run", "spec.yml"],
        ["up", "--back", "docker"],  # argparse takes an abbreviation: not read for sure
        ["up", "--top=bank"],
        ["up", "--state", "somewhere"],
        ["--json", "up"],  # an option before the command other than --state-dir
        ["-v", "run", "card-latency"],
        ["up", "--backend"],  # a deciding option without its value
        ["up", "--state-dir="],
        ["list"],
        ["validate", "card-latency"],
        ["doctor"],
        ["report", "reports"],
        ["fault", "latency", "--edge", "card->pay"],
        ["nonsense"],
    ],
)
def test_anything_else_gets_no_host(argv: list[str]) -> None:
    assert early_host_folder(argv) is None


def test_a_spec_file_without_a_yaml_suffix_gets_no_host(tmp_path: Path) -> None:
    (tmp_path / "my-incident").write_text("name: x\n")
    assert early_host_folder(["run", "my-incident"]) is None
    assert early_host_folder(["run", "card-latency"]) is not None


def test_a_domino_yaml_in_the_working_folder_gets_no_host(tmp_path: Path) -> None:
    (tmp_path / "domino.yaml").write_text("name: mine\n")
    assert early_host_folder(["up"]) is None
    # ... unless the command line names the bank itself.
    assert early_host_folder(["up", "--topology", "bank"]) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "x" * 300],  # too long for a file name: the path check itself fails
        ["up", "--state-dir", "~no-such-user-of-domino/home"],  # no such home folder
    ],
)
def test_a_word_the_guess_cannot_read_gets_no_host_and_no_error(argv: list[str]) -> None:
    # The command's own reading says what is wrong with it (exit 2), not the guess.
    assert early_host_folder(argv) is None
