"""HDR latency histograms (``hdrhistogram`` on PyPI, import name ``hdrh``), typed.

Values are recorded in microseconds and read back in milliseconds. Histograms
encode to a compact string so worker processes can ship them to the parent,
where they are merged exactly.

Recording is on the load engine's hot path (several values per request), so
:meth:`LatencyHistogram.record_s` computes hdrh's counts index itself, in one
function and without allocating, where hdrh's own ``record_value`` takes six
Python calls: the same index, so the same counts, encoding and percentiles.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

__all__ = ["LatencyHistogram"]

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000  # one hour


class LatencyHistogram:
    """A latency histogram, 1 us to 1 h, with ``significant_figures`` precision."""

    __slots__ = (
        "_counts",
        "_half_count",
        "_hist",
        "_mask",
        "_shift",
        "_sub_magnitude",
        "_sum_us",
        "_unit_magnitude",
        "significant_figures",
    )

    def __init__(self, significant_figures: int = 3) -> None:
        self.significant_figures = significant_figures
        self._hist = HdrHistogram(_LOWEST_US, _HIGHEST_US, significant_figures)
        self._sum_us = 0  # hdrh's own mean walks every bucket in Python: slow
        self._bind()

    def _bind(self) -> None:
        """hdrh's constants for the counts index (``HdrHistogram._counts_index_for``)."""
        hist = self._hist
        self._counts = hist.counts
        self._mask = hist.sub_bucket_mask
        self._unit_magnitude = hist.unit_magnitude
        self._sub_magnitude = hist.sub_bucket_half_count_magnitude
        self._half_count = hist.sub_bucket_half_count
        self._shift = hist.unit_magnitude + hist.sub_bucket_half_count_magnitude + 1

    def record_s(self, seconds: float) -> None:
        us = int(seconds * 1_000_000)
        if us < _LOWEST_US:
            us = _LOWEST_US
        elif us > _HIGHEST_US:
            us = _HIGHEST_US
        self._sum_us += us
        # hdrh's record_value, inlined: 64 - clz(x) is x.bit_length()
        bucket = (us | self._mask).bit_length() - self._shift
        sub_bucket = us >> (bucket + self._unit_magnitude)
        self._counts[((bucket + 1) << self._sub_magnitude) + sub_bucket - self._half_count] += 1
        hist = self._hist
        hist.total_count += 1
        if us < hist.min_value:  # noqa: PLR1730 - a branch costs less than a call here
            hist.min_value = us
        if us > hist.max_value:  # noqa: PLR1730 - a branch costs less than a call here
            hist.max_value = us

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
