"""The sample report data: what ``domino run`` wrote for the KB Pay 2023 incident, two profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).with_name("sample_report.json")


def load_sample() -> dict[str, Any]:
    """A fresh copy of the sample report data, safe to change."""
    data: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return data


def with_second_fault_and_failures(data: dict[str, Any]) -> dict[str, Any]:
    """The hardened run with a second faulted place (bank->card, 5-8 s) failing login.

    Only the faults and the time series change: the blast radius stored in the
    data is left as it was, for the tests to recompute or not.
    """
    run = data["runs"][1]
    run["faults"].append(
        {
            "description": "latency(edge='bank->card', latency_ms=3000)",
            "kind": "latency",
            "target": "bank->card",
            "applied_s": 5.0,
            "removed_s": 8.0,
            "touched": True,
            "evidence": "bank->card: 100 bytes",
        }
    )
    failures = [[5.0 + i * 0.2, 3000.0, False, "NT004"] for i in range(10)]
    run["timeseries"]["login"] = sorted(run["timeseries"]["login"] + failures)
    return data
