"""Schedule shapes and arrival times: pure, no sockets."""

from __future__ import annotations

import itertools
import statistics

import pytest

from harness.loadgen import (
    Constant,
    CryptoCrash,
    LoadPlanError,
    Ramp,
    Spike,
    Step,
    arrival_times,
    expected_arrivals,
)


def test_constant() -> None:
    shape = Constant(rate_per_s=20, duration_s=3)
    assert shape.duration_s == 3
    assert [shape.rate_at(t) for t in (0, 1.5, 2.999)] == [20, 20, 20]
    assert shape.rate_at(3) == 0
    assert shape.rate_at(-0.1) == 0
    assert expected_arrivals(shape) == pytest.approx(60)


def test_step() -> None:
    shape = Step(rates_per_s=(10, 50, 0, 30), step_duration_s=2)
    assert shape.duration_s == 8
    assert [shape.rate_at(t) for t in (0, 1.9, 2, 3.9, 4, 5, 6, 7.9)] == [
        10, 10, 50, 50, 0, 0, 30, 30,
    ]  # fmt: skip
    assert expected_arrivals(shape) == pytest.approx(180)


def test_ramp() -> None:
    shape = Ramp(start_rate_per_s=0, end_rate_per_s=100, duration_s=10)
    assert shape.rate_at(0) == 0
    assert shape.rate_at(2.5) == pytest.approx(25)
    assert shape.rate_at(9.99) == pytest.approx(99.9)
    assert expected_arrivals(shape) == pytest.approx(500)
    assert expected_arrivals(shape, until_s=5) == pytest.approx(125)


def test_spike() -> None:
    shape = Spike(
        base_rate_per_s=10, spike_rate_per_s=200, duration_s=10, spike_start_s=4, spike_duration_s=2
    )
    assert [shape.rate_at(t) for t in (0, 3.99, 4, 5.99, 6, 9.9)] == [10, 10, 200, 200, 10, 10]
    assert expected_arrivals(shape) == pytest.approx(10 * 8 + 200 * 2)


def test_crypto_crash_rises_within_seconds_then_plateaus_and_decays() -> None:
    shape = CryptoCrash(
        baseline_rate_per_s=20,
        peak_rate_per_s=400,
        plateau_rate_per_s=200,
        baseline_s=2,
        rise_s=1,
        peak_s=2,
        settle_s=1,
        plateau_s=4,
        decay_s=4,
        tail_s=2,
    )
    assert shape.duration_s == 16
    assert shape.rate_at(1) == 20  # baseline
    assert shape.rate_at(2.5) == pytest.approx(210)  # halfway up a one-second rise
    assert shape.rate_at(3) == 400  # peak
    assert shape.rate_at(4.9) == 400
    assert shape.rate_at(5.5) == pytest.approx(300)  # settling
    assert shape.rate_at(6) == 200  # plateau
    assert shape.rate_at(9.9) == 200
    assert shape.rate_at(12) == pytest.approx(110)  # halfway down the decay
    assert shape.rate_at(14.5) == 20  # tail at baseline
    assert shape.rate_at(16) == 0
    # the peak is reached within seconds of the surge's start
    rise_started = min(t / 10 for t in range(160) if shape.rate_at(t / 10) > 20)
    peak_reached = min(t / 10 for t in range(160) if shape.rate_at(t / 10) >= 400)
    assert peak_reached - rise_started <= 1.0


def test_crash_with_zero_length_phases_jumps() -> None:
    shape = CryptoCrash(
        baseline_rate_per_s=5,
        peak_rate_per_s=50,
        plateau_rate_per_s=50,
        baseline_s=1,
        rise_s=0,
        peak_s=1,
        settle_s=0,
        plateau_s=0,
        decay_s=0,
        tail_s=1,
    )
    assert [shape.rate_at(t) for t in (0.5, 1.0, 1.5, 2.0, 2.5)] == [5, 50, 50, 5, 5]
    assert expected_arrivals(shape) == pytest.approx(60)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Constant(-1, 1),
        lambda: Constant(10, 0),
        lambda: Constant(float("inf"), 1),
        lambda: Step((), 1),
        lambda: Ramp(0, 10, float("nan")),
        lambda: Spike(1, 10, 5, 4, 2),
        lambda: CryptoCrash(1, 10, 5, 0, 0, 0, 0, 0, 0, 0),
    ],
)
def test_bad_shapes_are_refused(make: object) -> None:
    with pytest.raises(LoadPlanError):
        make()  # type: ignore[operator]


def test_even_arrivals_are_evenly_spaced_and_exact() -> None:
    times = list(arrival_times(Constant(10, 2), arrivals="even"))
    assert len(times) == 20
    assert times[0] == pytest.approx(0.05)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g == pytest.approx(0.1) for g in gaps)


def test_even_arrivals_follow_a_varying_rate() -> None:
    shape = Ramp(0, 100, 10)
    times = list(arrival_times(shape, arrivals="even"))
    assert len(times) == 500
    # cumulative count at t follows the integral of the rate (t^2 * 5) within one arrival
    for t in (2, 5, 8):
        assert abs(sum(1 for x in times if x < t) - expected_arrivals(shape, t)) <= 1


def test_even_arrivals_skip_a_zero_step() -> None:
    times = list(arrival_times(Step((10, 0, 10), 1), arrivals="even"))
    assert len(times) == 20
    assert not [t for t in times if 1 <= t < 2]


def test_poisson_arrivals_are_seeded_and_have_the_right_mean() -> None:
    shape = Constant(50, 3)
    first = list(arrival_times(shape, seed=7))
    assert first == list(arrival_times(shape, seed=7))
    assert first != list(arrival_times(shape, seed=8))
    assert all(0 <= t < 3 for t in first)
    assert first == sorted(first)
    counts = [sum(1 for _ in arrival_times(shape, seed=s)) for s in range(200)]
    # mean 150, standard deviation sqrt(150) ~ 12.2; the mean of 200 runs is within 3 %
    assert statistics.mean(counts) == pytest.approx(150, rel=0.03)
    assert 9 < statistics.stdev(counts) < 16


def test_poisson_arrivals_follow_the_crash_shape() -> None:
    shape = CryptoCrash(10, 200, 100)
    times = list(arrival_times(shape, seed=3))
    peak = sum(1 for t in times if 4 <= t < 6)  # the 2-second peak: 400 expected
    baseline = sum(1 for t in times if t < 2)  # 20 expected
    assert 340 < peak < 460
    assert baseline < 40


def test_unknown_arrival_process_is_refused() -> None:
    with pytest.raises(LoadPlanError):
        next(arrival_times(Constant(1, 1), arrivals="bursty"))  # type: ignore[arg-type]


def test_histograms_merge_exactly() -> None:
    from harness.loadgen import LatencyHistogram

    a, b = LatencyHistogram(), LatencyHistogram()
    for ms in range(1, 101):
        (a if ms % 2 else b).record_ms(ms)
    merged = LatencyHistogram.decode(a.encode())
    merged.merge(LatencyHistogram.decode(b.encode()))
    assert merged.count == 100
    assert merged.percentile_ms(50) == pytest.approx(50, rel=0.01)
    assert merged.percentile_ms(99) == pytest.approx(99, rel=0.01)
    assert merged.max_ms() == pytest.approx(100, rel=0.01)
    assert merged.mean_ms() == pytest.approx(50.5, rel=0.001)
    assert LatencyHistogram.decode("").count == 0
