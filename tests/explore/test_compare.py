"""`domino compare BASE CANDIDATE`: regressions (exit 1) and improvements (exit 0) between two
matrices, two runs' reports and two cliff searches; bad input is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.explore.matrix import CellOutcome, CellResult, JourneyCell, MatrixResult
from harness.explore.report import write_matrix_reports
from tests.report.samples import load_sample


def _journey(name: str, verdict: str, *, violation: bool = False) -> JourneyCell:
    return JourneyCell(name, verdict, f"{verdict} for a reason", False, violation, calls=5)


def _cell(kind: str, outcome: CellOutcome, *journeys: JourneyCell) -> CellResult:
    reasons = ("no call of any journey crossed the edge",) if outcome == "inconclusive" else ()
    return CellResult(
        id=f"bank->card|{kind}",
        edge="bank->card",
        kind=kind,
        fault=f"{kind} on bank->card",
        outcome=outcome,
        journeys=journeys,
        touched=outcome != "inconclusive",
        reasons=reasons,
    )


def _matrix(folder: Path, *cells: CellResult) -> Path:
    result = MatrixResult("bank", "fragile", "local", ["login", "balance"], list(cells), 3)
    return write_matrix_reports(result, folder)["json"]


def _compare(base: Path, candidate: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["compare", str(base), str(candidate)])
    return code, capsys.readouterr().out


def _section(out: str, title: str) -> list[str]:
    """The lines listed under ``title (N):`` in the comparison."""
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{title} (")), None)
    if start is None:
        return []
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


HEALTHY = (_journey("login", "healthy"), _journey("balance", "healthy"))


def test_a_new_violation_and_a_cell_gone_inconclusive_are_regressions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _matrix(
        tmp_path / "base",
        _cell("latency", "contained", *HEALTHY),
        _cell("down", "contained", *HEALTHY),
        _cell("reset", "contained", *HEALTHY),
    )
    candidate = _matrix(
        tmp_path / "candidate",
        _cell(
            "latency",
            "violation",
            _journey("login", "healthy"),
            _journey("balance", "failed", violation=True),
        ),
        _cell("down", "inconclusive", *HEALTHY),
        _cell("reset", "contained", *HEALTHY),
    )
    code, out = _compare(base, candidate, capsys)
    assert code == 1
    assert _section(out, "regressions") == [
        "cell bank->card|latency: balance: new cascade violation (failed for a reason)",
        "cell bank->card|down: became inconclusive (was contained): "
        "no call of any journey crossed the edge",
    ]
    assert _section(out, "improvements") == []


def test_a_fixed_violation_is_an_improvement_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _cell(
        "latency",
        "violation",
        _journey("login", "healthy"),
        _journey("balance", "failed", violation=True),
    )
    base = _matrix(tmp_path / "base", broken, _cell("down", "inconclusive", *HEALTHY))
    # Given as folders, as `domino matrix --report DIR` writes them.
    candidate = _matrix(
        tmp_path / "candidate",
        _cell(
            "latency", "contained", _journey("login", "healthy"), _journey("balance", "degraded")
        ),
        _cell("down", "contained", *HEALTHY),
    ).parent
    code, out = _compare(base.parent, candidate, capsys)
    assert code == 0
    assert _section(out, "regressions") == []
    assert _section(out, "improvements") == [
        "cell bank->card|latency: balance: fixed, was cascade violation (failed for a reason); "
        "now degraded",
        "cell bank->card|down: judged again: contained (was inconclusive)",
    ]
    assert out.rstrip().endswith("0 regression(s), 2 improvement(s)")


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_runs_a_check_that_now_fails_is_a_regression_and_the_reverse_an_improvement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = load_sample()  # what `domino run` wrote for kbpay-2023-01-25, fragile and hardened
    candidate = load_sample()
    check = candidate["runs"][0]["verdict"]["checks"][0]
    assert check["passed"]
    check.update(passed=False, measured="healthy: success 100%")
    base_path = _write(tmp_path / "base.json", base)
    cand_path = _write(tmp_path / "candidate.json", candidate)

    code, out = _compare(base_path, cand_path, capsys)
    assert code == 1
    [regression] = _section(out, "regressions")
    assert regression.startswith(f"run kbpay-2023-01-25 [fragile]: {check['name']} now fails:")

    code, out = _compare(cand_path, base_path, capsys)
    assert code == 0
    [improvement] = _section(out, "improvements")
    assert improvement.startswith(f"run kbpay-2023-01-25 [fragile]: {check['name']} now passes:")


def _cliff(journey: str, cliff_ms: float | None, outcome: str = "found") -> dict[str, Any]:
    return {
        "edge": "card->pay",
        "journey": journey,
        "outcome": outcome,
        "cliff_ms": cliff_ms,
        "healthy_below_ms": None if cliff_ms is None else cliff_ms - 50,
        "resolution_ms": 50.0,
        "max_ms": 2000.0,
    }


def test_a_cliff_at_less_latency_is_a_regression_and_within_resolution_no_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _write(
        tmp_path / "base.json",
        [_cliff("login", 800), _cliff("card-tab", 1000), _cliff("balance", None, "none_up_to_max")],
    )
    candidate = _write(
        tmp_path / "cand.json",
        [_cliff("login", 400), _cliff("card-tab", 1040), _cliff("balance", 1500)],
    )
    code, out = _compare(base, candidate, capsys)
    assert code == 1
    assert _section(out, "regressions") == [
        "card->pay x login: cliff at +800 ms -> cliff at +400 ms: tolerates less latency",
        "card->pay x balance: no cliff up to +2000 ms -> cliff at +1500 ms",
    ]
    assert "card-tab" not in out  # 40 ms later, within the 50 ms resolution

    code, out = _compare(candidate, base, capsys)
    assert code == 0
    assert len(_section(out, "improvements")) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.json", "no such file"),
        (lambda p: _write(p / "x.json", {"hello": 1}), "not a Domino report"),
        (lambda p: _write(p / "x.json", [_cliff("login", 800)]), "cannot compare a matrix report"),
        (lambda p: _write(p / "x.json", {"kind": "domino-matrix", "cells": [{"id": 1}]}), "field"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    base = _matrix(tmp_path / "base", _cell("latency", "contained", *HEALTHY))
    code = main(["compare", str(base), str(make(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("domino: error:")
    assert message in err
    assert len(err.strip().splitlines()) == 1
