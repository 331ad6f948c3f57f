"""Mistakes found before anything starts: a dependency cycle is said (a warning), and a
fixed listen port that is taken names the edge, the port and what holds it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from harness.cli import main
from harness.files.topology_file import load_topology


def _cyclic(folder: Path) -> Path:
    path = folder / "domino.yaml"
    path.write_text(
        """name: loop
services:
  web: {command: [x, "{port}"]}
  orders: {command: [x, "{port}"]}
  stock: {command: [x, "{port}"]}
  mail: {command: [x, "{port}"]}
edges:
  client->web: {}
  web->orders: {}
  orders->stock: {}
  stock->orders: {}
  web->mail: {}
journeys:
  buy: {path: /buy, slo: {p95_ms: 500}, hard: [client->web, web->orders, orders->stock]}
""",
        encoding="utf-8",
    )
    return path


def test_a_dependency_cycle_is_named_with_its_edges_as_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _cyclic(tmp_path)
    assert load_topology(path).dependency_cycles() == [["orders", "stock"]]
    assert main(["validate", str(path)]) == 0  # Domino runs it; the user is told
    out = capsys.readouterr().out
    [warning] = [line.strip() for line in out.splitlines() if "warning:" in line]
    assert warning.startswith(
        "warning: dependency cycle: orders, stock call each other (orders->stock, stock->orders)"
    )


def _external(folder: Path, listen: dict[str, int]) -> Path:
    edges = "\n".join(f'  {e}: {{listen: "127.0.0.1:{p}"}}' for e, p in listen.items())
    path = folder / "staging.yaml"
    path.write_text(
        f"""name: staging
services:
  web: {{url: "http://127.0.0.1:1"}}
  stock: {{url: "http://127.0.0.1:2"}}
edges:
{edges}
journeys:
  look: {{path: /, slo: {{p95_ms: 500}}, hard: [client->web]}}
""",
        encoding="utf-8",
    )
    return path


def test_a_taken_listen_port_names_the_edge_the_port_and_its_holder_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with socket.socket() as free_sock:
            free_sock.bind(("127.0.0.1", 0))
            free = free_sock.getsockname()[1]
        path = _external(tmp_path, {"client->web": free, "web->stock": port})
        code = main(["up", "--backend", "external", "--topology", str(path)])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith(
        f"domino: error: edge web->stock: its listen address 127.0.0.1:{port} is taken "
        f"by pid {os.getpid()} ("
    )
    assert "give the edge another `listen:` port" in err
    assert len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "home").rglob("*"))  # no run folder: nothing was started


def test_two_edges_on_one_listen_port_are_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    path = _external(tmp_path, {"client->web": 19431, "web->stock": 19431})
    assert main(["up", "--backend", "external", "--topology", str(path)]) == 2
    err = capsys.readouterr().err
    assert "edges client->web and web->stock both listen on 127.0.0.1:19431" in err


SHOP = Path(__file__).parent / "system" / "two-edges.yaml"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["matrix", "--faults", "reset"], "unknown matrix fault 'reset'"),
        (["matrix", "--edges", "front->nope"], "unknown edge 'front->nope'"),
        (["cliff", "--journeys", "nope"], "unknown journey 'nope'"),
        (["cliff", "--edges", "front->nope"], "unknown edge 'front->nope'"),
        (["defences", "--edges", "front->nope"], "unknown edge 'front->nope'"),
    ],
)
def test_unknown_edges_faults_and_journeys_are_refused_before_a_stack_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    report = str(tmp_path / "report")
    assert main([*command, "--topology", str(SHOP), "--report", report]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1  # no "starting ..." line: nothing started
