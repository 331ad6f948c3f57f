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

    __slots__ = ("_hist", "_sum_us", "significant_figures")

    def __init__(self, significant_figures: int = 3) -> None:
        self.significant_figures = significant_figures
        self._hist = HdrHistogram(_LOWEST_US, _HIGHEST_US, significant_figures)
        self._sum_us = 0  # hdrh's own mean walks every bucket in Python: slow

    def record_s(self, seconds: float) -> None:
        us = min(max(int(seconds * 1_000_000), _LOWEST_US), _HIGHEST_US)
        self._sum_us += us
        self._hist.record_value(us)

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
        count = self.count
        return self._sum_us / count / 1000 if count else 0.0

    def merge(self, other: LatencyHistogram) -> None:
        self._hist.add(other._hist)
        self._sum_us += other._sum_us

    def encode(self) -> str:
        """A compact text form: the sum in us, ``:``, base64 of the compressed HDR V2 encoding."""
        if self.count == 0:
            return ""
        data = self._hist.encode()
        text = data.decode("ascii") if isinstance(data, bytes) else str(data)
        return f"{self._sum_us}:{text}"

    @classmethod
    def decode(cls, encoded: str, significant_figures: int = 3) -> LatencyHistogram:
        hist = cls(significant_figures)
        if encoded:
            sum_us, _, text = encoded.partition(":")
            hist._hist.decode_and_add(text)
            hist._sum_us = int(sum_us)
        return hist
