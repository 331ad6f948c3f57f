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
