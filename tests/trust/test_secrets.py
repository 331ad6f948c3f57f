"""Secrets never leak: no token or password in any report, output or file a run leaves.

One short real incident (``domino run SPEC --repeat 2``: report.json,
report.html, junit.xml, stability.json) and a one-cell blast-radius matrix
(``domino matrix``: its JSON, HTML and JUnit) run through the CLI's own
``main`` in this process, so that every secret they use can be collected
where it is made:

- the stack's admin token and the services' session-signing secret (the bank
  adapter's ``prepare``);
- every virtual user's password (the users sessions log in as, and the login
  journey sends in its body);
- every session token the services issued (the headers each journey client's
  session provides).

Each secret must be non-empty and really used (the admin API answered with
it, sessions started and journeys in them succeeded), and none may appear —
whole, nor a 16-character piece of a random one — in any byte of any file
under the test's folder (reports, ``DOMINO_HOME``: run records, run folders
and service logs, as they were just before teardown and after it), in
stdout/stderr at the file-descriptor level (progress lines, the summary,
everything a child process printed), or in a log record. The scan itself is
shown to catch a planted secret.

Not covered here: while a run is alive its run record
(``DOMINO_HOME/runs/*.json``, mode 0600) holds the admin token on purpose, so
that ``domino fault`` in another process can attach; that live record is
checked for its permissions, not for the token.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.backends import local
from harness.cli import main
from harness.contracts import Preparation
from harness.journeys import JourneyClient
from harness.systems.bank.adapter import BankAdapter
from harness.toxiproxy.binary import find_toxiproxy

pytestmark = pytest.mark.chaos

SPEC = """\
id: secrets-stay-secret
title: A short run whose reports are searched for secrets
date: "2026-01-01"
sources: [tests/trust/test_secrets.py]
profiles: [hardened]
steady_state_s: 1
recovery_s: 1
journeys:
  - {journey: login, users: 1, think_ms: 100}
  - {journey: balance, users: 1, think_ms: 50}
  - {journey: card-tab, users: 1, think_ms: 50}
timeline:
  - {fault: http_error, service: pay, status: 503, hold_s: 1.5}
expect:
  hardened:
    journeys: {balance: healthy}
    invariants: {no_fault_left: holds, ledger_conserved: holds}
"""

#: A random secret leaks if any piece of it this long appears (a cut or escaped copy).
PIECE = 16


@dataclass
class Secrets:
    """Every secret the run made or used, by what it is."""

    found: dict[str, set[str]] = field(default_factory=dict)
    #: Live run records seen just before teardown: (path, mode).
    records: list[tuple[Path, int]] = field(default_factory=list)
    #: Every file of each run folder, read just before teardown removed it.
    run_folders: dict[Path, bytes] = field(default_factory=dict)

    def add(self, what: str, value: str) -> None:
        self.found.setdefault(what, set()).add(value)

    def needles(self) -> Iterator[tuple[str, bytes]]:
        for what, values in self.found.items():
            for value in values:
                yield what, value.encode()
                if what == "password":
                    continue  # short and partly public (domino-CUSTOMER): whole only
                random_part = value
                if what == "session token":  # SUBJECT.EXPIRY.SIGNATURE: the signature is secret
                    random_part = value.rpartition(".")[2]
                    yield f"{what} (signature)", random_part.encode()
                for i in range(len(random_part) - PIECE + 1):
                    yield f"{what} (a {PIECE}-character piece)", random_part[i : i + PIECE].encode()


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Secrets:
    """Record every secret where it is made; keep each run folder before it is removed."""
    seen = Secrets()
    prepare, session_headers = BankAdapter.prepare, JourneyClient.session_headers
    remove_run_dir = local._remove_run_dir

    def recording_prepare(self: BankAdapter, *args: Any, **kwargs: Any) -> Preparation:
        preparation = prepare(self, *args, **kwargs)
        seen.add("admin token", preparation.secrets["admin_token"])
        seen.add("admin token", preparation.env["DOMINO_ADMIN_TOKEN"])
        seen.add("token-signing secret", preparation.env["DOMINO_TOKEN_SECRET"])
        return preparation

    def recording_session_headers(self: JourneyClient) -> dict[str, str]:
        headers = session_headers(self)
        seen.add("password", self.user.password)
        for value in headers.values():
            seen.add("session token", value.removeprefix("Bearer "))
        return headers

    def keeping_remove_run_dir(record: Any) -> None:
        folder = Path(record.extra.get("run_dir", ""))
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                seen.run_folders[path] = path.read_bytes()
        if record.path.exists():
            seen.records.append((record.path, stat.S_IMODE(record.path.stat().st_mode)))
        remove_run_dir(record)

    monkeypatch.setattr(BankAdapter, "prepare", recording_prepare)
    monkeypatch.setattr(JourneyClient, "session_headers", recording_session_headers)
    monkeypatch.setattr(local, "_remove_run_dir", keeping_remove_run_dir)
    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # anything written relative to the working folder lands here
    return seen


def _leaks(seen: Secrets, where: str, data: bytes) -> list[str]:
    return sorted({f"{what} in {where}" for what, needle in seen.needles() if needle in data})


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_no_token_or_password_appears_in_reports_output_logs_or_run_files(
    secrets: Secrets,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = tmp_path / "secrets.yaml"
    spec.write_text(SPEC)
    incident = main(["run", str(spec), "--repeat", "2", "--report", str(tmp_path / "run")])
    matrix = main(
        [
            "matrix",
            "--profile",
            "hardened",
            "--edges",
            "card->pay",
            "--faults",
            "down",
            "--report",
            str(tmp_path / "matrix"),
        ]
    )
    out, err = capfd.readouterr()
    assert incident == 0, out + err
    assert matrix == 0, out + err

    # Every kind of secret was made, and used.
    for what in ("admin token", "token-signing secret", "password", "session token"):
        assert secrets.found.get(what), f"no {what} was collected: the test would prove nothing"
        assert all(len(v) >= 8 for v in secrets.found[what]), secrets.found[what]
    assert len(secrets.found["admin token"]) == 2  # one stack per command, one token each
    runs = json.loads((tmp_path / "run" / "report.json").read_text())["runs"]
    assert len(runs) == 2
    for run in runs:
        # The admin API answered every service's ledger check: the admin token was accepted.
        checks = run["service_invariants"]
        assert set(checks) == {"bank", "card", "pay", "remit"}, checks
        assert not [name for name, answer in checks.items() if "error" in answer], checks
        # The login journey (the password in its body) and session journeys succeeded.
        for journey in ("login", "balance"):
            assert any(call[2] for call in run["timeseries"][journey]), journey

    # The files the commands wrote, and DOMINO_HOME after teardown.
    written = _files(tmp_path)
    for name in ("report.json", "report.html", "junit.xml", "stability.json"):
        assert str(tmp_path / "run" / name) in written, sorted(written)
    matrix_files = [p for p in written if p.startswith(str(tmp_path / "matrix"))]
    assert {Path(p).suffix for p in matrix_files} >= {".json", ".html", ".xml"}, matrix_files
    assert not list((tmp_path / "home").glob("runs/*.json")), "a run record stayed behind"
    # The run folders (service and Toxiproxy logs, data) as they were just before teardown.
    assert secrets.run_folders, "no run folder was seen before teardown"
    assert any(p.suffix == ".log" or "log" in p.name for p in secrets.run_folders)
    # The live run records are private to the user (they hold the admin token on purpose).
    assert secrets.records
    assert all(mode & 0o077 == 0 for _, mode in secrets.records), secrets.records

    leaks: list[str] = []
    for where, data in (*written.items(), *((str(p), b) for p, b in secrets.run_folders.items())):
        leaks += _leaks(secrets, where, data)
    leaks += _leaks(secrets, "stdout", out.encode())
    leaks += _leaks(secrets, "stderr", err.encode())
    leaks += _leaks(secrets, "log records", caplog.text.encode())
    assert not leaks, "secrets leaked: " + "; ".join(leaks[:10])
    assert "hardened" in err  # the progress lines were captured (and searched)


def test_the_scan_finds_a_planted_secret_whole_or_in_part(tmp_path: Path) -> None:
    seen = Secrets()
    seen.add("admin token", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0")
    seen.add("session token", "c0101.1767225600.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg")
    seen.add("password", "domino-c0101")
    assert _leaks(seen, "f", b'{"x": "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"}')
    assert _leaks(seen, "f", b"token ...YmF6cXV4cXV1eGNv... cut")  # 16 characters of it
    assert _leaks(seen, "f", b"Bearer c2lnbmF0dXJlLW9mLXRoZS10b2tlbg")  # the signature alone
    assert _leaks(seen, "f", b"password=domino-c0101&")
    assert not _leaks(seen, "f", b"customer c0101 at 1767225600, domino-c0102")
