"""The team's own adapter: it reads the team's error codes, and leaves a mark when used."""

import os
from pathlib import Path
from typing import Any

from harness import HttpAdapter
from harness.contracts import Answer
from harness.model.topology import Journey


class TeamAdapter(HttpAdapter):
    name = "team"

    def read_answer(self, journey: Journey, status: int, payload: Any) -> Answer:
        mark = os.environ.get("TEAM_ADAPTER_MARK")
        if mark:
            Path(mark).write_text("read an answer")
        return super().read_answer(journey, status, payload)
