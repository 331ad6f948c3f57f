"""The engine's histograms record exactly what hdrh's own ``record_value`` would."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from harness.loadgen.histogram import LatencyHistogram


@pytest.mark.parametrize("figures", [2, 3])
def test_recording_matches_hdrh_bucket_for_bucket(figures: int) -> None:
    rng = random.Random(19)
    # every power-of-two boundary, and random values from 1 us to an hour
    values_us = [1, 2, 3, 127, 128, 129, 2047, 2048, 2049, 3_600_000_000]
    values_us += [2**k + d for k in range(1, 31) for d in (-1, 0, 1)]
    values_us += [int(10 ** rng.uniform(0, 9.5)) for _ in range(5000)]
    ours = LatencyHistogram(figures)
    theirs = HdrHistogram(1, 3_600_000_000, figures)
    for us in values_us:
        seconds = us / 1_000_000
        ours.record_s(seconds)
        # the conversion record_s has always made (float rounding included), then hdrh's own
        theirs.record_value(min(max(int(seconds * 1_000_000), 1), 3_600_000_000))
    assert list(ours._hist.counts) == list(theirs.counts)
    assert ours.count == theirs.get_total_count() == len(values_us)
    assert ours.max_ms() == theirs.get_max_value() / 1000
    assert ours._hist.get_min_value() == theirs.get_min_value()
    for percentile in (50, 90, 99, 99.9):
        assert ours.percentile_ms(percentile) == theirs.get_value_at_percentile(percentile) / 1000


def test_values_outside_the_range_are_clamped_to_it() -> None:
    hist = LatencyHistogram()
    hist.record_s(-0.5)  # a clock that went backwards: counted as the lowest value
    hist.record_s(10 * 3600.0)  # ten hours: counted as the highest
    assert hist.count == 2
    assert hist.percentile_ms(1) == pytest.approx(0.001)
    assert hist.max_ms() == pytest.approx(3_600_000, rel=0.001)


def test_a_decoded_histogram_keeps_recording_into_its_counts() -> None:
    first = LatencyHistogram()
    first.record_s(0.002)
    copy = LatencyHistogram.decode(first.encode())
    copy.record_s(0.004)
    assert copy.count == 2
    assert copy.max_ms() == pytest.approx(4, rel=0.01)
    assert copy.mean_ms() == pytest.approx(3)
