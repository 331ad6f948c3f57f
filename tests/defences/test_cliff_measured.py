"""The latency cliff placed against the deadline ``domino defences`` measured, on a system
whose configuration Domino cannot read (``tests/defences``, the generic ``http`` adapter).

gateway tries ledger 3 times per payment with 400 ms each (fragile): latency below that on
gateway->ledger leaves a payment healthy (well inside its 1500 ms SLO); above it, every
attempt times out and the payment fails. So the cliff lies at the deadline gateway gives
ledger, not at the SLO, which only a measured deadline can say here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import UsageError, find_topology, start_stack
from harness.cli import main
from harness.explore.cliff import find_cliff
from harness.explore.defences import measure_defences
from harness.explore.defences.outputs import load_measured_deadlines, write_defences_reports

SYSTEM = Path(__file__).resolve().parent / "domino.yaml"
EDGE = "gateway->ledger"


def test_the_cliff_quotes_the_measured_deadline_where_no_configuration_gives_it(
    tmp_path: Path,
) -> None:
    topology = find_topology(SYSTEM)
    with start_stack("local", topology=topology, profile="fragile") as stack:
        measured_map = measure_defences(stack, [EDGE], max_ms=1000.0)
        write_defences_reports([measured_map], None, tmp_path)
        measured = load_measured_deadlines(tmp_path, topology.name, "fragile")
        cliff = find_cliff(stack, EDGE, "pay", resolution_ms=100, measured=measured[EDGE])
    deadline = measured[EDGE]
    assert deadline.caller == "gateway"
    assert deadline.low_ms < 400 <= deadline.high_ms + 40  # LEDGER_TIMEOUT_MS, give or take
    assert cliff.configured.deadline_ms is None  # the http adapter knows no settings
    assert "measured by domino defences" in cliff.max_why  # the search went past its wait
    assert cliff.where.startswith("at the measured deadline: gateway waits"), cliff.describe()
    assert cliff.as_dict()["measured"]["range_ms"] == [
        round(deadline.low_ms, 1),
        round(deadline.high_ms, 1),
    ]
    # Another profile's measurement is refused, saying which were measured.
    with pytest.raises(UsageError, match="not 'fixed'"):
        load_measured_deadlines(tmp_path, topology.name, "fixed")


def test_cliff_refuses_a_defences_report_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing"
    code = main(["cliff", "--topology", str(SYSTEM), "--defences", str(missing)])
    assert code == 2
    assert f"--defences {missing}: no such file or folder" in capsys.readouterr().err
