"""`domino doctor` / `domino validate --live` on a running system: a service that ignores its
``{port}`` and an edge bypassed by a hard-coded address are each named with a one-line fix."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.cli import main
from harness.infra.readiness import http_ok, wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _developers_stock(shop: Path, port: int) -> Iterator[None]:
    """A copy of stock the developer runs on a fixed port, outside Domino."""
    argv = [sys.executable, str(shop / "service.py"), "--name", "stock", "--port", str(port)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/health"),
            timeout_s=10,
            what="the developer's stock",
            abort=lambda: None if process.poll() is None else "it exited",
        )
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def _problems(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("problem:")]


def test_a_system_that_listens_where_told_and_crosses_every_proxy_passes(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--topology", str(shop / "domino.yaml")]) == 0
    out = capsys.readouterr().out
    assert _problems(out) == []
    for edge in ("client->front", "front->stock", "front->ledger"):
        assert f"ok: edge {edge} carried" in out
    for service in ("front", "stock", "ledger"):
        assert f"ok: service {service} listens on 127.0.0.1:" in out


def test_a_service_that_ignores_its_port_is_named_with_the_port_it_listens_on(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = _free_port()
    (shop / "own.json").write_text(json.dumps({"stock": {"listen_port": fixed}}))
    assert main(["validate", "--live", str(shop / "domino.yaml")]) == 1
    [problem] = _problems(capsys.readouterr().out)
    assert problem.startswith(f"problem: service stock: listens on 127.0.0.1:{fixed}, not on ")
    assert "fix: make stock listen on {port}" in problem


def test_a_service_told_its_host_but_listening_on_every_interface_is_a_problem(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wildcard = "0.0.0.0"  # noqa: S104 - what the checkup must catch
    (shop / "own.json").write_text(json.dumps({"ledger": {"listen_host": wildcard}}))
    assert main(["doctor", "--topology", str(shop / "domino.yaml")]) == 1
    [problem] = _problems(capsys.readouterr().out)
    assert problem.startswith("problem: service ledger: listens on 0.0.0.0:")
    assert problem.endswith(
        "(every interface), not only on 127.0.0.1; fix: bind to the {bind_host} Domino passes it"
    )


def test_an_edge_bypassed_by_a_hard_coded_address_is_named_with_its_fix(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    (shop / "own.json").write_text(json.dumps({"front": {"STOCK_URL": f"http://127.0.0.1:{port}"}}))
    with _developers_stock(shop, port):  # the journey succeeds: only the proxy is skipped
        assert main(["doctor", "--topology", str(shop / "domino.yaml")]) == 1
    out = capsys.readouterr().out
    [problem] = _problems(out)
    assert problem.startswith("problem: edge front->stock: its proxy carried nothing while buy ran")
    assert (
        "front is given the proxy's address (env STOCK_URL (edge)) but does not use it" in problem
    )
    assert "ok: edge front->ledger carried" in out


def test_a_fixed_address_in_domino_yaml_is_named_as_the_setting_to_change(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    text = (shop / "domino.yaml").read_text()
    # As copied from a Compose file: the dependency's address written out, not a placeholder.
    text = text.replace(
        'env: {DEPS: "stock,ledger"}',
        f'env: {{DEPS: "stock,ledger", STOCK_URL: "http://127.0.0.1:{port}"}}',
    ).replace('front->stock: {env: {STOCK_URL: "http://{host}:{port}"}}', "front->stock: {}")
    (shop / "domino.yaml").write_text(text)
    with _developers_stock(shop, port):
        assert main(["doctor", "--topology", str(shop / "domino.yaml")]) == 1
    [problem] = _problems(capsys.readouterr().out)
    assert f"env STOCK_URL has the fixed address 127.0.0.1:{port}: use {{stock.url}}" in problem


def test_a_missing_topology_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--topology", str(tmp_path / "nowhere.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("domino: error:")
    assert len(err.strip().splitlines()) == 1
