"""Arrival-rate schedules (open loop) and the arrival times they produce.

A shape is a piecewise-linear rate curve: ``rate_at(t_s)`` in arrivals per
second for ``0 <= t_s < duration_s``. Arrivals follow the curve whatever the
server answers. :func:`arrival_times` turns a shape into intended send times,
evenly spaced or Poisson, deterministic for a given seed, by inverting the
cumulative rate exactly on each linear piece.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from harness.errors import LoadPlanError

__all__ = [
    "Arrivals",
    "Constant",
    "CryptoCrash",
    "Ramp",
    "Shape",
    "Spike",
    "Step",
    "arrival_times",
    "expected_arrivals",
]

Arrivals = Literal["poisson", "even"]

Breakpoints = tuple[tuple[float, float], ...]
"""``((t_s, rate_per_s), ...)``, times non-decreasing; linear between points.

Two points with the same time make a jump (the rate right after is the later one).
"""


@runtime_checkable
class Shape(Protocol):
    """What the engine needs from a schedule."""

    @property
    def duration_s(self) -> float: ...

    def rate_at(self, t_s: float) -> float: ...

    def breakpoints(self) -> Breakpoints: ...


def _check_rate(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise LoadPlanError(f"{name} must be a finite rate >= 0 arrivals/s, got {value!r}")


def _check_duration(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise LoadPlanError(f"{name} must be a finite number of seconds {bound}, got {value!r}")


def _rate_on(points: Breakpoints, t_s: float) -> float:
    """The rate of a piecewise-linear curve at ``t_s`` (0 outside the curve)."""
    if not points or t_s < points[0][0] or t_s >= points[-1][0]:
        return 0.0
    for (t0, r0), (t1, r1) in itertools.pairwise(points):
        if t0 <= t_s < t1:
            return r0 + (r1 - r0) * (t_s - t0) / (t1 - t0)
    return 0.0


@dataclass(frozen=True, slots=True)
class Constant:
    """``rate_per_s`` for ``duration_s``."""

    rate_per_s: float
    duration_s: float

    def __post_init__(self) -> None:
        _check_rate("rate_per_s", self.rate_per_s)
        _check_duration("duration_s", self.duration_s)

    def breakpoints(self) -> Breakpoints:
        return ((0.0, self.rate_per_s), (self.duration_s, self.rate_per_s))

    def rate_at(self, t_s: float) -> float:
        return _rate_on(self.breakpoints(), t_s)


@dataclass(frozen=True, slots=True)
class Step:
    """Each rate in ``rates_per_s`` in turn, each held for ``step_duration_s``."""

    rates_per_s: tuple[float, ...]
    step_duration_s: float

    def __post_init__(self) -> None:
        if not self.rates_per_s:
            raise LoadPlanError("rates_per_s must hold at least one rate")
        for i, rate in enumerate(self.rates_per_s):
            _check_rate(f"rates_per_s[{i}]", rate)
        _check_duration("step_duration_s", self.step_duration_s)

    @property
    def duration_s(self) -> float:
        return self.step_duration_s * len(self.rates_per_s)

    def breakpoints(self) -> Breakpoints:
        points: list[tuple[float, float]] = []
        for i, rate in enumerate(self.rates_per_s):
            start = i * self.step_duration_s
            points += [(start, rate), (start + self.step_duration_s, rate)]
        return tuple(points)

    def rate_at(self, t_s: float) -> float:
        return _rate_on(self.breakpoints(), t_s)


@dataclass(frozen=True, slots=True)
class Ramp:
    """Linearly from ``start_rate_per_s`` to ``end_rate_per_s`` over ``duration_s``."""

    start_rate_per_s: float
    end_rate_per_s: float
    duration_s: float

    def __post_init__(self) -> None:
        _check_rate("start_rate_per_s", self.start_rate_per_s)
        _check_rate("end_rate_per_s", self.end_rate_per_s)
        _check_duration("duration_s", self.duration_s)

    def breakpoints(self) -> Breakpoints:
        return ((0.0, self.start_rate_per_s), (self.duration_s, self.end_rate_per_s))

    def rate_at(self, t_s: float) -> float:
        return _rate_on(self.breakpoints(), t_s)


@dataclass(frozen=True, slots=True)
class Spike:
    """``base_rate_per_s``, jumping to ``spike_rate_per_s`` from ``spike_start_s`` for
    ``spike_duration_s``, then back to base until ``duration_s``."""

    base_rate_per_s: float
    spike_rate_per_s: float
    duration_s: float
    spike_start_s: float
    spike_duration_s: float

    def __post_init__(self) -> None:
        _check_rate("base_rate_per_s", self.base_rate_per_s)
        _check_rate("spike_rate_per_s", self.spike_rate_per_s)
        _check_duration("duration_s", self.duration_s)
        _check_duration("spike_start_s", self.spike_start_s, allow_zero=True)
        _check_duration("spike_duration_s", self.spike_duration_s)
        if self.spike_start_s + self.spike_duration_s > self.duration_s:
            raise LoadPlanError(
                f"the spike ends at {self.spike_start_s + self.spike_duration_s} s, "
                f"after duration_s={self.duration_s}"
            )

    def breakpoints(self) -> Breakpoints:
        s0 = self.spike_start_s
        s1 = s0 + self.spike_duration_s
        base, peak = self.base_rate_per_s, self.spike_rate_per_s
        return (
            (0.0, base),
            (s0, base),
            (s0, peak),
            (s1, peak),
            (s1, base),
            (self.duration_s, base),
        )

    def rate_at(self, t_s: float) -> float:
        return _rate_on(self.breakpoints(), t_s)


@dataclass(frozen=True, slots=True)
class CryptoCrash:
    """The crypto-crash surge: baseline, a spike within seconds, a plateau, a decay.

    ``baseline_s`` at ``baseline_rate_per_s``; a linear rise to ``peak_rate_per_s``
    over ``rise_s`` (seconds, not minutes: that is the point); ``peak_s`` at the
    peak; a linear fall to ``plateau_rate_per_s`` over ``settle_s`` and
    ``plateau_s`` there; a linear decay back to baseline over ``decay_s``; then
    ``tail_s`` at baseline so recovery can be watched.
    """

    baseline_rate_per_s: float
    peak_rate_per_s: float
    plateau_rate_per_s: float
    baseline_s: float = 2.0
    rise_s: float = 2.0
    peak_s: float = 2.0
    settle_s: float = 1.0
    plateau_s: float = 5.0
    decay_s: float = 5.0
    tail_s: float = 3.0

    def __post_init__(self) -> None:
        _check_rate("baseline_rate_per_s", self.baseline_rate_per_s)
        _check_rate("peak_rate_per_s", self.peak_rate_per_s)
        _check_rate("plateau_rate_per_s", self.plateau_rate_per_s)
        for name in ("baseline_s", "rise_s", "peak_s", "settle_s", "plateau_s", "decay_s"):
            _check_duration(name, getattr(self, name), allow_zero=True)
        _check_duration("tail_s", self.tail_s, allow_zero=True)
        if self.duration_s <= 0:
            raise LoadPlanError("a crypto-crash schedule must last more than 0 s")

    @property
    def duration_s(self) -> float:
        return (
            self.baseline_s
            + self.rise_s
            + self.peak_s
            + self.settle_s
            + self.plateau_s
            + self.decay_s
            + self.tail_s
        )

    def breakpoints(self) -> Breakpoints:
        base, peak, plateau = (
            self.baseline_rate_per_s,
            self.peak_rate_per_s,
            self.plateau_rate_per_s,
        )
        t = 0.0
        points = [(t, base)]
        for length, rate in (
            (self.baseline_s, base),
            (self.rise_s, peak),
            (self.peak_s, peak),
            (self.settle_s, plateau),
            (self.plateau_s, plateau),
            (self.decay_s, base),
            (self.tail_s, base),
        ):
            if length == 0:
                points.append((t, rate))  # a jump
            else:
                t += length
                points.append((t, rate))
        return tuple(points)

    def rate_at(self, t_s: float) -> float:
        return _rate_on(self.breakpoints(), t_s)


def expected_arrivals(shape: Shape, until_s: float | None = None) -> float:
    """The integral of the rate from 0 to ``until_s`` (the whole shape by default)."""
    end = shape.duration_s if until_s is None else min(until_s, shape.duration_s)
    total = 0.0
    points = shape.breakpoints()
    for (t0, r0), (t1, r1) in itertools.pairwise(points):
        if t1 <= t0 or t0 >= end:
            continue
        hi = min(t1, end)
        r_hi = r0 + (r1 - r0) * (hi - t0) / (t1 - t0)
        total += (r0 + r_hi) / 2 * (hi - t0)
    return total


def _solve_in_piece(r0: float, slope: float, need: float) -> float:
    """Smallest ``u >= 0`` with ``r0*u + slope*u*u/2 == need`` (need > 0)."""
    if abs(slope) < 1e-12:
        return need / r0
    disc = r0 * r0 + 2 * slope * need
    # the caller guarantees the piece holds `need`, so disc >= 0 up to rounding
    root = math.sqrt(max(disc, 0.0))
    # numerically stable form of (-r0 + root) / slope
    return 2 * need / (r0 + root) if r0 + root > 0 else 0.0


def arrival_times(
    shape: Shape, *, arrivals: Arrivals = "poisson", seed: int = 0
) -> Iterator[float]:
    """Intended send times in seconds from the start, increasing, within the shape.

    ``even``: the k-th arrival is where the cumulative rate reaches k - 0.5 (so
    a constant 10/s sends at 0.05, 0.15, ...). ``poisson``: a non-homogeneous
    Poisson process (unit-rate exponential gaps in cumulative-rate time),
    reproducible with ``seed``.
    """
    if arrivals not in ("poisson", "even"):
        raise LoadPlanError(f"arrivals must be 'poisson' or 'even', got {arrivals!r}")
    rng = random.Random(seed)

    def gap() -> float:
        return max(rng.expovariate(1.0), 1e-12) if arrivals == "poisson" else 1.0

    points = shape.breakpoints()
    need = 0.5 if arrivals == "even" else gap()
    for (t0, r0), (t1, r1) in itertools.pairwise(points):
        if t1 <= t0:
            continue
        slope = (r1 - r0) / (t1 - t0)
        u = 0.0  # position within the piece
        rate_u = r0
        while True:
            left = rate_u * (t1 - t0 - u) + slope * (t1 - t0 - u) ** 2 / 2
            if left < need:
                need -= left
                break
            du = _solve_in_piece(rate_u, slope, need)
            u += du
            rate_u = r0 + slope * u
            if u >= t1 - t0:
                break
            yield t0 + u
            need = gap()
