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
  A failure is **fast** when its failing calls (errors, and successes
  slower than the SLO's p95) were answered within the SLO's p95 latency —
  the fault's slowness was contained, users were told at once — and
  **slow** when users waited past it (the whole window's p95, or the
  failing calls' p95, is over the SLO).

Which calls a window judges:

- the **steady state**: calls answered before the fault began (a call sent
  just before and answered under the fault saw the fault, not the baseline);
- the **fault**: every call *in flight* during it — started in it, or
  started before and still waiting when it began. A call that began before
  the fault and is still waiting when it ends is evidence of a hang, not an
  absence of data; it is judged with its whole latency (for a call never
  answered, at least the time it had waited);
- **recovery**: calls sent after the fault ended.

A journey with no call judged in the fault window is ``no_data``, and the
run is **inconclusive**; so is a run whose fault never touched traffic, whose
steady state was not healthy before the fault, or in which a service died
with no fault of the run to explain it — never a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.model.incident import Experiment
from harness.model.outcomes import (
    Check,
    Failure,
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
    "calls_in_window",
    "judge_journey",
    "judge_run",
    "judge_window",
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


def calls_in_window(
    observations: Iterable[Observation],
    journey: str | None,
    start_s: float,
    end_s: float,
    *,
    in_flight: bool = True,
) -> list[Observation]:
    """The calls of ``journey`` (None: every journey) judged in ``[start_s, end_s)``.

    With ``in_flight`` (the fault window's rule), every call in flight at some
    moment of the window: started in it, or started before it and still
    waiting when it began. Without, only the calls that started in it (the
    recovery window's rule: what users met once the fault was gone).
    """
    return [
        o
        for o in observations
        if (journey is None or o.journey == journey)
        and (start_s <= o.at_s < end_s or (in_flight and o.at_s < start_s < o.answered_s))
    ]


def window_stats(
    observations: Iterable[Observation],
    journey: str,
    start_s: float,
    end_s: float,
    *,
    in_flight: bool = True,
    slo: Slo | None = None,
) -> WindowStats:
    """Statistics of the calls :func:`calls_in_window` judges; with ``slo``, also of the
    failing ones (errors, and successes slower than its p95)."""
    chosen = calls_in_window(observations, journey, start_s, end_s, in_flight=in_flight)
    latencies = sorted(o.latency_ms for o in chosen)
    failing = sorted(
        o.latency_ms for o in chosen if slo is not None and (not o.ok or o.latency_ms > slo.p95_ms)
    )
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
        in_flight=sum(1 for o in chosen if o.at_s < start_s),
        unanswered=sum(1 for o in chosen if not o.answered),
        failing=len(failing),
        failing_p95_ms=_percentile(failing, 0.95),
        failing_max_ms=failing[-1] if failing else 0.0,
    )


def judge_journey(
    stats: WindowStats,
    slo: Slo,
    failures: Sequence[Observation],
    honest_codes: frozenset[str] = frozenset(),
) -> JourneyVerdict:
    """Judge one journey's window against its SLO (see the module docstring).

    ``failures`` are the window's answers that are not a full success
    (errors and degraded successes), weighed for honesty.
    """
    if stats.calls == 0:
        return JourneyVerdict(
            stats.journey, "no_data", stats, slo, "no call was in flight in the window"
        )
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
    failure, failure_ms = _how_it_failed(stats, slo, failures)
    return JourneyVerdict(
        stats.journey, "failed", stats, slo, f"{measured}; {why}", failure, failure_ms
    )


def _how_it_failed(
    stats: WindowStats, slo: Slo, failures: Sequence[Observation]
) -> tuple[Failure, float]:
    """Fast or slow, and the failing calls' p95 latency (ms).

    Stats built without the SLO carry no failing calls: then the failures
    given (errors and degraded answers) stand for them.
    """
    if stats.failing:
        failing_ms = stats.failing_p95_ms
    else:
        failing_ms = _percentile(sorted(o.latency_ms for o in failures), 0.95)
    slow = stats.p95_ms > slo.p95_ms or failing_ms > slo.p95_ms
    return ("slow" if slow else "fast"), max(failing_ms, stats.p95_ms if slow else 0.0)


def judge_window(
    observations: Sequence[Observation],
    journey: str,
    slo: Slo,
    start_s: float,
    end_s: float,
    *,
    honest_codes: frozenset[str] = frozenset(),
    in_flight: bool = True,
) -> JourneyVerdict:
    """``journey`` judged on the calls :func:`calls_in_window` picks, against ``slo``."""
    chosen = calls_in_window(observations, journey, start_s, end_s, in_flight=in_flight)
    stats = window_stats(chosen, journey, start_s, end_s, in_flight=in_flight, slo=slo)
    failures = [o for o in chosen if not o.ok or o.degraded]
    return judge_journey(stats, slo, failures, honest_codes)


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


def _measured(verdict: JourneyVerdict) -> str:
    """The verdict as a check shows it: a failure with how it failed and how long it took."""
    if verdict.failure_ms is None:
        return verdict.label
    return f"{verdict.label} ({verdict.failure_ms:.0f} ms)"


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
    experiment: Experiment,
    observations: Sequence[Observation],
    start_s: float,
    end_s: float,
    honest_codes: frozenset[str],
    *,
    in_flight: bool,
) -> tuple[JourneyVerdict, ...]:
    return tuple(
        judge_window(
            observations,
            load.journey,
            load.slo,
            start_s,
            end_s,
            honest_codes=honest_codes,
            in_flight=in_flight,
        )
        for load in experiment.journeys
    )


def judge_run(
    experiment: Experiment,
    *,
    honest_codes: frozenset[str],
    observations: Sequence[Observation],
    untouched_faults: Sequence[str],
    invariants: Sequence[InvariantVerdict],
    unjudged: Sequence[str] = (),
    deaths: Sequence[str] = (),
) -> RunVerdict:
    """Judge one run of ``experiment`` against its expectation, in its phase windows
    (seconds from the start of observation), from what was observed.

    ``untouched_faults`` describe faults no traffic met; ``unjudged`` other
    reasons the run cannot be judged (a flood whose engine fell behind);
    ``deaths`` services that died with no fault of the run to explain them (the
    first reasons given). Any of them makes it inconclusive. ``honest_codes``
    are the system's honest degradations.
    """
    steady_window_s = experiment.steady_window_s
    fault_window_s = experiment.fault_window_s
    # The steady state is judged on calls that were answered before the fault began: a
    # call sent just before and answered under the fault saw the fault, not the baseline.
    before_fault = [o for o in observations if o.answered and o.answered_s <= steady_window_s[1]]
    steady = _phase(experiment, before_fault, *steady_window_s, honest_codes, in_flight=False)
    # The fault judges every call in flight during it: one still waiting when the fault
    # ends is a hang, not an absence of data.
    during = _phase(experiment, observations, *fault_window_s, honest_codes, in_flight=True)
    recovery = _phase(
        experiment, observations, *experiment.recovery_window_s, honest_codes, in_flight=False
    )
    expectation = experiment.expect

    checks: list[Check] = []
    for verdict in during:
        allowed = expectation.journeys.get(verdict.journey)
        if allowed is None:
            continue
        checks.append(
            Check(
                f"journey {verdict.journey} during the fault",
                " or ".join(allowed),
                f"{_measured(verdict)}: {verdict.reason}",
                verdict.matches(allowed),
            )
        )
    for journey, codes in expectation.codes.items():
        seen = {o.code for o in calls_in_window(observations, journey, *fault_window_s) if o.code}
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

    reasons: list[str] = list(deaths)
    unhealthy = [v for v in steady if v.verdict != "healthy"]
    if unhealthy:
        reasons += [
            f"steady state not met: {v.journey} {v.verdict} ({v.reason})" for v in unhealthy
        ]
    reasons += [f"fault never touched traffic: {text}" for text in untouched_faults]
    reasons += [
        f"no call of {v.journey} was in flight during the fault: nothing to judge it on"
        for v in during
        if v.verdict == "no_data"
    ]
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
