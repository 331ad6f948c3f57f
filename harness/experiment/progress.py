"""Live progress of a run: one rewritten line on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from harness.experiment.observe import TrafficStats

__all__ = ["Progress"]


class Progress:
    """A :data:`~harness.experiment.ProgressSink` writing to ``stream`` (stderr by default).

    On a terminal the status line is rewritten in place; otherwise a line is
    written when the phase changes and every ``every_s`` seconds.
    """

    def __init__(self, label: str, stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self._phase = ""
        self._last_line_s = 0.0
        self._rate_mark: tuple[float, int] = (time.monotonic(), 0)
        self._rate = 0.0

    def __call__(
        self, phase: str, elapsed_s: float, remaining_s: float, stats: TrafficStats
    ) -> None:
        now = time.monotonic()
        mark_s, mark_calls = self._rate_mark
        if now - mark_s >= 1.0:
            self._rate = (stats.calls - mark_calls) / (now - mark_s)
            self._rate_mark = (now, stats.calls)
        line = (
            f"{self.label} {phase:<8} {elapsed_s:5.1f}s elapsed {remaining_s:5.1f}s left  "
            f"{stats.calls} calls ({self._rate:.1f}/s)  {stats.errors} errors  "
            f"{stats.in_flight} in flight"
        )
        if self.live:
            self.stream.write("\r\033[K" + line)
            if phase == "draining":
                self.stream.write("\n")
            self.stream.flush()
        elif phase != self._phase or now - self._last_line_s >= self.every_s:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_line_s = now
        self._phase = phase
