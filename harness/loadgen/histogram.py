"""HDR latency histograms (``hdrhistogram`` on PyPI, import name ``hdrh``), typed.

Values are recorded in microseconds and read back in milliseconds. Histograms
encode to a compact string so worker processes can ship them to the parent,
where they are merged exactly.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

__all__ = ["LatencyHistogram"]

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000  # one hour


class LatencyHistogram:
    """A latency histogram, 1 us to 1 h, with ``significant_figures`` precision."""

    __slots__ = ("_hist", "significant_figures")

    def __init__(self, significant_figures: int = 3) -> None:
        self.significant_figures = significant_figures
        self._hist = HdrHistogram(_LOWEST_US, _HIGHEST_US, significant_figures)

    def record_s(self, seconds: float) -> None:
        us = int(seconds * 1_000_000)
        self._hist.record_value(min(max(us, _LOWEST_US), _HIGHEST_US))

    def record_ms(self, milliseconds: float) -> None:
        self.record_s(milliseconds / 1000)

    @property
    def count(self) -> int:
        return int(self._hist.get_total_count())

    def percentile_ms(self, percentile: float) -> float:
        """The value at ``percentile`` (0-100) in ms; 0 when empty."""
        if self.count == 0:
            return 0.0
        return float(self._hist.get_value_at_percentile(percentile)) / 1000

    def max_ms(self) -> float:
        return float(self._hist.get_max_value()) / 1000 if self.count else 0.0

    def mean_ms(self) -> float:
        return float(self._hist.get_mean_value()) / 1000 if self.count else 0.0

    def merge(self, other: LatencyHistogram) -> None:
        self._hist.add(other._hist)

    def encode(self) -> str:
        """A compact text form (base64 of the compressed HDR V2 encoding)."""
        if self.count == 0:
            return ""
        data = self._hist.encode()
        return data.decode("ascii") if isinstance(data, bytes) else str(data)

    @classmethod
    def decode(cls, encoded: str, significant_figures: int = 3) -> LatencyHistogram:
        hist = cls(significant_figures)
        if encoded:
            hist._hist.decode_and_add(encoded)
        return hist
