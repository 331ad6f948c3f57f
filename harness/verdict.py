"""Verdicts: journeys against their SLOs, invariants, and the incident's expectations.

A journey in a time window is

- **healthy** when its success rate and p95 latency meet its SLO and no
  answer was marked degraded;
- **degraded** when it answers fast (p95 within the SLO) and every answer
  that is not a full success is an honest degradation: a success marked
  degraded, or an error whose code the system's adapter calls honest
  ("unavailable / wait / suspended / maintenance": the bank's CD001, DP003,
  OV001, OV002, FS001, MT001);
- **failed** otherwise: users waited past the SLO, or got opaque errors.

A run whose fault never touched traffic, or whose steady state was not
healthy before the fault, is **inconclusive** — never a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.model.incident import Expectation, IncidentSpec
from harness.model.outcomes import (
    Check,
    InvariantVerdict,
    JourneyVerdict,
    Observation,
    Outcome,
    RunVerdict,
    WindowStats,
)
from harness.model.topology import Slo

if TYPE_CHECKING:
    from harness.contracts import SystemAdapter
    from harness.model.topology import Topology

__all__ = [
    "Check",
    "InvariantVerdict",
    "JourneyVerdict",
    "Outcome",
    "RunVerdict",
    "WindowStats",
    "judge_journey",
    "judge_run",
    "truthful_codes",
    "window_stats",
]


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    rank = q * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def window_stats(
    observations: Iterable[Observation], journey: str, start_s: float, end_s: float
) -> WindowStats:
    chosen = [o for o in observations if o.journey == journey and start_s <= o.at_s < end_s]
    latencies = sorted(o.latency_ms for o in chosen)
    return WindowStats(
        journey=journey,
        start_s=start_s,
        end_s=end_s,
        calls=len(chosen),
        successes=sum(1 for o in chosen if o.ok),
        degraded=sum(1 for o in chosen if o.ok and o.degraded),
        p50_ms=_percentile(latencies, 0.50),
        p95_ms=_percentile(latencies, 0.95),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else 0.0,
        codes=dict(Counter(o.code for o in chosen if o.code)),
    )


def judge_journey(
    stats: WindowStats,
    slo: Slo,
    failures: Sequence[Observation],
    honest_codes: frozenset[str] = frozenset(),
) -> JourneyVerdict:
    """Judge one journey's window against its SLO (see the module docstring)."""
    if stats.calls == 0:
        return JourneyVerdict(stats.journey, "no_data", stats, slo, "no call started in the window")
    fast = stats.p95_ms <= slo.p95_ms
    measured = (
        f"success {stats.success_rate:.0%} (SLO {slo.success_rate:.0%}), "
        f"p95 {stats.p95_ms:.0f} ms (SLO {slo.p95_ms:.0f} ms)"
    )
    if fast and stats.success_rate >= slo.success_rate and stats.degraded == 0:
        return JourneyVerdict(stats.journey, "healthy", stats, slo, measured)
    # A success the system itself marked degraded is honest whatever its notice code
    # (the bank's accepted-but-queued remittance says NT004 to name the slow network).
    honest = all((o.ok and o.degraded) or o.code in honest_codes for o in failures)
    if fast and honest:
        return JourneyVerdict(
            stats.journey, "degraded", stats, slo, f"{measured}; fast, honest degradation"
        )
    why = "slow" if not fast else "opaque errors " + ",".join(sorted(stats.codes))
    return JourneyVerdict(stats.journey, "failed", stats, slo, f"{measured}; {why}")


def truthful_codes(
    failures: Iterable[Observation],
    adapter: SystemAdapter,
    *,
    faulted_edges: set[str],
    faulted_services: set[str],
    topology: Topology,
) -> InvariantVerdict:
    """Every error names where it started, and that place was really faulted.

    The adapter's ``unreachable_code`` (the bank's NT003) says the device
    could not reach the system: it is truthful only when the client itself
    got no answer (a system that sends it lies) while the client edge or the
    entry service was faulted. A dependency code (the bank's NT004, DP00x,
    CD001) must carry a cause chain whose first link is a faulted place.
    The place a link names is its ``edge`` when it crossed one, else its
    ``service`` (``edge`` null: inside that service). It is faulted when it
    is a faulted edge, an edge into a faulted service (a crashed pay makes
    ``card->pay`` fail, and saying so is true) or, for a link inside a
    service, a faulted service. An edge out of a faulted service is not a
    faulted place: under a crashed card, blaming ``card->pay`` names a
    dependency that was never broken. Load (a surge, a flood) faults no place.
    """
    entry = topology.entry_edge.name
    into_faulted = {e.name for e in topology.edges if e.target in faulted_services}
    places = faulted_edges | into_faulted
    lies: Counter[str] = Counter()
    checked = 0
    for o in failures:
        if o.code is None:
            continue
        checked += 1
        if o.code == adapter.unreachable_code:
            if o.status is not None:
                lies[f"{o.code} from {o.journey} sent by the system, not seen by the client"] += 1
            elif entry not in places and topology.entry_service not in faulted_services:
                lies[f"{o.code} from {o.journey} without a {entry} fault"] += 1
        elif o.code in adapter.dependency_codes:
            if o.status is None:  # the client's own timeout: the entry was reached, nothing to name
                continue
            edge, service = _origin(o.cause)
            named = edge if edge is not None else service
            faulted = edge in places if edge is not None else service in faulted_services
            if not faulted:
                lies[f"{o.code} from {o.journey} blames {named or 'nothing'}"] += 1
    if lies:
        detail = "; ".join(f"{text} (x{n})" for text, n in lies.most_common(4))
        return InvariantVerdict("codes_truthful", False, detail)
    return InvariantVerdict(
        "codes_truthful", True, f"{checked} error answers, each naming the faulted place"
    )


def _origin(cause: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """(edge, service) of a cause chain's first link; a value that is not text counts as none.

    The chain comes from the system under test: whatever it holds (a list
    where a name belongs) must not break the verdict.
    """
    first = cause[0] if cause and isinstance(cause[0], Mapping) else {}
    edge, service = first.get("edge"), first.get("service")
    return (
        edge if isinstance(edge, str) and edge else None,
        service if isinstance(service, str) and service else None,
    )


def _phase(
    spec: IncidentSpec,
    observations: Sequence[Observation],
    start_s: float,
    end_s: float,
    honest_codes: frozenset[str],
) -> tuple[JourneyVerdict, ...]:
    verdicts = []
    for load in spec.journeys:
        stats = window_stats(observations, load.journey, start_s, end_s)
        failures = [
            o
            for o in observations
            if o.journey == load.journey and start_s <= o.at_s < end_s and (not o.ok or o.degraded)
        ]
        verdicts.append(judge_journey(stats, load.slo, failures, honest_codes))
    return tuple(verdicts)


def judge_run(
    spec: IncidentSpec,
    profile: str,
    *,
    honest_codes: frozenset[str],
    observations: Sequence[Observation],
    steady_window_s: tuple[float, float],
    fault_window_s: tuple[float, float],
    recovery_window_s: tuple[float, float],
    untouched_faults: Sequence[str],
    invariants: Sequence[InvariantVerdict],
    unjudged: Sequence[str] = (),
) -> RunVerdict:
    """Judge one run of ``spec`` under ``profile`` from what was observed."""
    # The steady state is judged on calls that were answered before the fault began: a
    # call sent just before and answered under the fault saw the fault, not the baseline.
    before_fault = [o for o in observations if o.at_s + o.latency_ms / 1000.0 <= steady_window_s[1]]
    steady = _phase(spec, before_fault, *steady_window_s, honest_codes)
    during = _phase(spec, observations, *fault_window_s, honest_codes)
    recovery = _phase(spec, observations, *recovery_window_s, honest_codes)
    expectation: Expectation = spec.expect[profile]

    checks: list[Check] = []
    for verdict in during:
        allowed = expectation.journeys.get(verdict.journey)
        if allowed is None:
            continue
        checks.append(
            Check(
                f"journey {verdict.journey} during the fault",
                " or ".join(allowed),
                f"{verdict.verdict}: {verdict.reason}",
                verdict.verdict in allowed,
            )
        )
    for journey, codes in expectation.codes.items():
        seen = {
            o.code
            for o in observations
            if o.journey == journey and o.code and fault_window_s[0] <= o.at_s < fault_window_s[1]
        }
        for code in codes:
            checks.append(
                Check(
                    f"code {code} seen on {journey}",
                    f"{code} seen during the fault",
                    "seen: " + (", ".join(sorted(seen)) or "no error codes"),
                    code in seen,
                )
            )
    by_name = {i.name: i for i in invariants}
    for name, must_hold in expectation.invariants.items():
        found = by_name.get(name)
        if found is None:
            checks.append(Check(f"invariant {name}", "measured", "not measured", False))
            continue
        checks.append(
            Check(
                f"invariant {name}",
                "holds" if must_hold else "broken",
                ("holds" if found.holds else "broken") + f": {found.detail}",
                found.holds == must_hold,
            )
        )

    reasons: list[str] = []
    unhealthy = [v for v in steady if v.verdict != "healthy"]
    if unhealthy:
        reasons += [
            f"steady state not met: {v.journey} {v.verdict} ({v.reason})" for v in unhealthy
        ]
    reasons += [f"fault never touched traffic: {text}" for text in untouched_faults]
    reasons += list(unjudged)
    outcome: Outcome
    if reasons:
        outcome = "inconclusive"
    elif all(c.passed for c in checks):
        outcome = "pass"
    else:
        outcome = "fail"
        reasons = [
            f"{c.name}: expected {c.expected}, measured {c.measured}"
            for c in checks
            if not c.passed
        ]
    return RunVerdict(
        outcome, tuple(reasons), tuple(checks), steady, during, recovery, tuple(invariants)
    )
