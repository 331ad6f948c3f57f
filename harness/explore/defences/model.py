"""What ``domino defences`` measured, as values: per edge, the caller's deadline, its
attempts while the edge fails, its fallbacks; over the map, findings with their numbers.

Times are milliseconds; ``attempts`` are requests that crossed an edge, as the
fault on it counted them (Domino's Toxiproxy server). Values only: measuring is
:mod:`.measure`, the checks :mod:`.checks`, the outputs :mod:`.report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ATTEMPTS_SLACK",
    "BACKOFF_MS",
    "CHECKS",
    "PLAIN_503",
    "RETRY_AFTER_503",
    "RETRY_AFTER_S",
    "TIMEOUT_SLACK_MS",
    "TIMEOUT_SLACK_SHARE",
    "Check",
    "Deadline",
    "DeadlineOutcome",
    "DeadlineProbe",
    "DeclaredCheck",
    "DefenceMap",
    "EdgeDefences",
    "FailureProbe",
    "Finding",
    "Mismatch",
    "RetryAfter",
    "Setting",
]

DeadlineOutcome = Literal["found", "waits_past_max", "unhealthy_without_latency"]
Check = Literal[
    "timeout-budget",
    "retry-same-target",
    "retry-amplification",
    "soft-wait-past-slo",
    "single-point-of-failure",
]
#: Every check over the map, in the order findings are listed.
CHECKS: tuple[Check, ...] = (
    "timeout-budget",
    "retry-same-target",
    "retry-amplification",
    "soft-wait-past-slo",
    "single-point-of-failure",
)
#: The failure probes' labels: a plain 503, and one saying ``Retry-After: RETRY_AFTER_S``.
PLAIN_503 = "http_status 503"
RETRY_AFTER_503 = "http_status 503 Retry-After 1 s"
RETRY_AFTER_S = 1
#: Time between attempts (ms) above which a caller is said to back off: the estimate
#: (a failing call's time beyond a healthy one's) carries the failure path's own work
#: and a loaded machine's noise, tens of ms; a backoff worth the name is longer.
BACKOFF_MS = 100.0
#: What a caller does with ``Retry-After``: waits that long before its retry, retries
#: sooner, or does not retry at all.
RetryAfter = Literal["honoured", "ignored", "no retry"]
#: A setting an edge's caller may declare in domino.yaml (:mod:`.declared` compares them).
Setting = Literal["timeout_ms", "retries", "fallback"]
#: Attempts per request this far from ``1 + retries`` still agree (noise of a few calls).
ATTEMPTS_SLACK = 0.25
#: A declared deadline this close to the measured range agrees: at least this many ms ...
TIMEOUT_SLACK_MS = 50.0
#: ... or this share of the declared value, whichever is more.
TIMEOUT_SLACK_SHARE = 0.10


@dataclass(frozen=True, slots=True)
class DeadlineProbe:
    """One call of a journey with ``latency_ms`` added on the edge (each request held).

    ``took_ms`` is how long the journey took; ``attempts`` how many requests
    crossed the edge during it (None: not counted on this server); ``stopped``
    whether the edge's caller stopped waiting before the latency was over (it
    answered sooner than the latency, or tried again).
    """

    latency_ms: float
    took_ms: float
    ok: bool
    status: int | None
    code: str | None
    attempts: int | None
    stopped: bool

    @property
    def answer(self) -> str:
        """The journey's answer in a word: its status, else its error code."""
        return str(self.status) if self.status is not None else (self.code or "no answer")

    def describe(self) -> str:
        counted = f", {self.attempts} attempt(s)" if self.attempts is not None else ""
        what = "stopped waiting" if self.stopped else "waited"
        return (
            f"+{self.latency_ms:g} ms: {what}; answered {self.answer} "
            f"after {self.took_ms:,.0f} ms{counted}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "took_ms": round(self.took_ms, 1),
            "ok": self.ok,
            "status": self.status,
            "code": self.code,
            "attempts": self.attempts,
            "stopped": self.stopped,
        }


@dataclass(frozen=True, slots=True)
class Deadline:
    """How long the caller of ``edge`` waits for it, found with growing latency on it.

    ``deadline_ms`` is the smallest latency probed at which the caller stopped
    waiting (``waited_below_ms`` the largest at which it waited). A probe is
    judged "stopped" only when the journey answered sooner than the latency
    held (or the caller tried again), which no caller still waiting can do; a
    caller that stopped just before the hold ended may be judged "waited" by up
    to the journey's own time. So the deadline per attempt lies in
    :attr:`range_ms`, ``(waited_below_ms - base_ms, deadline_ms + base_ms]``
    (the caller's clock also runs while its target works, a part of ``base_ms``).

    ``waited_ms`` is how much longer than ``base_ms`` the journey took with
    ``max_ms`` added: the caller's whole wait (every attempt), unless a caller
    further out stopped waiting first, and
    ``attempts_at_max`` the requests that crossed the edge meanwhile; the
    journey's answer then is ``answer_status``/``answer_ok``.
    """

    edge: str
    journey: str
    outcome: DeadlineOutcome
    deadline_ms: float | None
    waited_below_ms: float | None
    waited_ms: float | None
    attempts_at_max: int | None
    answer_status: int | None
    answer_code: str | None
    answer_ok: bool | None
    base_ms: float
    base_attempts: int | None
    resolution_ms: float
    max_ms: float
    max_why: str
    probes: tuple[DeadlineProbe, ...]
    search_s: float
    #: How the latency was added: ``http_delay`` (each request held, and counted) or ``latency``.
    held_by: str = "http_delay"

    @property
    def answer(self) -> str:
        if self.answer_status is not None:
            return str(self.answer_status)
        return self.answer_code or "no answer"

    @property
    def range_ms(self) -> tuple[float, float] | None:
        """Where the deadline per attempt lies, (above, at most) in ms; None unless found."""
        if self.deadline_ms is None or self.waited_below_ms is None:
            return None
        return max(0.0, self.waited_below_ms - self.base_ms), self.deadline_ms + self.base_ms

    @property
    def retried_at_deadline(self) -> bool:
        """True when the caller was seen to stop at ``deadline_ms`` by trying again: the
        range is then its own deadline per attempt, even where a caller further out
        stopped waiting before its last attempt ended."""
        if self.deadline_ms is None or self.base_attempts is None:
            return False
        return any(
            p.latency_ms == self.deadline_ms
            and p.attempts is not None
            and p.attempts > self.base_attempts
            for p in self.probes
        )

    @property
    def per_attempt_ms(self) -> float | None:
        """The whole wait per attempt (ms): the deadline per attempt, to within the
        noise of one call, where the caller's own answer reached the user. Attempts
        count every caller's: where one further out retries too, this is too short."""
        if self.waited_ms is None:
            return None
        attempts = self.attempts_per_call
        return self.waited_ms / attempts if attempts and attempts >= 1 else self.waited_ms

    @property
    def attempts_per_call(self) -> float | None:
        """Attempts per journey call at ``max_ms``, against those with nothing added."""
        if self.attempts_at_max is None or not self.base_attempts:
            return None
        return self.attempts_at_max / self.base_attempts

    def as_dict(self) -> dict[str, Any]:
        return {
            "edge": self.edge,
            "journey": self.journey,
            "outcome": self.outcome,
            "deadline_ms": self.deadline_ms,
            "waited_below_ms": self.waited_below_ms,
            "range_ms": None if self.range_ms is None else [round(v, 1) for v in self.range_ms],
            "waited_ms": None if self.waited_ms is None else round(self.waited_ms, 1),
            "per_attempt_ms": (
                None if self.per_attempt_ms is None else round(self.per_attempt_ms, 1)
            ),
            "attempts_at_max": self.attempts_at_max,
            "answer": {
                "status": self.answer_status,
                "code": self.answer_code,
                "ok": self.answer_ok,
            },
            "base_ms": round(self.base_ms, 1),
            "base_attempts": self.base_attempts,
            "resolution_ms": self.resolution_ms,
            "max_ms": self.max_ms,
            "max_why": self.max_why,
            "held_by": self.held_by,
            "probes": [p.as_dict() for p in self.probes],
            "search_s": round(self.search_s, 3),
        }


@dataclass(frozen=True, slots=True)
class FailureProbe:
    """A journey made ``calls`` times while ``edge`` fails one way (``fault``).

    ``attempts`` are the requests (connections, for ``down``) that tried to
    cross the edge, as the fault counted them; ``caller_requests`` the
    requests that reached the edge's caller meanwhile (every edge into it),
    ``user_requests`` those on the client edge; None where not counted.
    ``fallbacks`` are edges that carried traffic while the edge failed and that
    the journey does not cross when nothing fails (Toxiproxy's byte counters,
    beyond their background).
    """

    edge: str
    journey: str
    fault: str
    calls: int
    ok_calls: int
    answers: Mapping[str, int]
    took_ms: float
    attempts: int | None
    caller_requests: int | None
    user_requests: int | None
    fallbacks: tuple[str, ...]
    window_s: float

    @property
    def attempts_per_request(self) -> float | None:
        """Attempts on the edge per request its caller got (its retries, plus one)."""
        if self.attempts is None or not self.caller_requests:
            return None
        return self.attempts / self.caller_requests

    @property
    def attempts_per_user_request(self) -> float | None:
        """Attempts on the edge per journey call: every caller's retries, multiplied."""
        if self.attempts is None or not self.user_requests:
            return None
        return self.attempts / self.user_requests

    @property
    def failed(self) -> bool:
        """True when no call of the journey succeeded."""
        return self.ok_calls == 0

    def describe(self) -> str:
        per = self.attempts_per_request
        tries = f"{per:.1f} attempts per request" if per is not None else "attempts not counted"
        answers = ", ".join(f"{n}x {a}" for a, n in sorted(self.answers.items()))
        falls = f"; fell back to {', '.join(self.fallbacks)}" if self.fallbacks else ""
        return (
            f"{self.fault}: {self.journey} {self.ok_calls}/{self.calls} ok ({answers}, "
            f"max {self.took_ms:,.0f} ms); {tries}{falls}"
        )

    def as_dict(self) -> dict[str, Any]:
        per = self.attempts_per_request
        per_user = self.attempts_per_user_request
        return {
            "edge": self.edge,
            "journey": self.journey,
            "fault": self.fault,
            "calls": self.calls,
            "ok_calls": self.ok_calls,
            "answers": dict(self.answers),
            "took_ms": round(self.took_ms, 1),
            "attempts": self.attempts,
            "caller_requests": self.caller_requests,
            "user_requests": self.user_requests,
            "attempts_per_request": None if per is None else round(per, 3),
            "attempts_per_user_request": None if per_user is None else round(per_user, 3),
            "fallbacks": list(self.fallbacks),
            "window_s": round(self.window_s, 3),
        }


@dataclass(frozen=True, slots=True)
class EdgeDefences:
    """What ``caller`` does when ``edge`` (``caller->target``) is slow or fails.

    ``journeys`` are those seen crossing the edge with nothing failing;
    ``deadline`` is None where it is not measured (the client edge, whose
    caller is the users' device; an edge no journey crosses), ``note`` says why.
    """

    edge: str
    caller: str
    target: str
    journeys: tuple[str, ...]
    deadline: Deadline | None
    failures: tuple[FailureProbe, ...]
    note: str = ""
    #: Wall time of this edge's measurement (deadline search and failures), in seconds.
    measure_s: float = 0.0

    @property
    def attempts_per_request(self) -> float | None:
        """The most attempts per caller request seen under any failure (None: not counted)."""
        seen = [p.attempts_per_request for p in self.failures]
        counted = [v for v in seen if v is not None]
        return max(counted) if counted else None

    def _probe(self, fault: str) -> FailureProbe | None:
        """The probe of ``fault`` whose caller retried most (the first, if none did)."""
        probes = [p for p in self.failures if p.fault == fault]
        return max(probes, key=lambda p: p.attempts_per_request or 0.0) if probes else None

    @property
    def backoff_ms(self) -> float | None:
        """The time between attempts under a plain 503, estimated (ms): the slowest call's
        time beyond the journey's own, over the retries per request; None: no retry seen."""
        probe = self._probe(PLAIN_503)
        per = None if probe is None else probe.attempts_per_request
        if probe is None or per is None or per <= 1.25:
            return None
        base_ms = self.deadline.base_ms if self.deadline is not None else 0.0
        return max(0.0, probe.took_ms - base_ms) / (per - 1)

    @property
    def retry_after(self) -> RetryAfter | None:
        """Whether the caller waited ``Retry-After`` before trying again (None: not probed)."""
        probe = self._probe(RETRY_AFTER_503)
        per = None if probe is None else probe.attempts_per_request
        if probe is None or per is None:
            return None
        if per <= 1.25:
            return "no retry"
        # Each retry waited the second it was told: the slowest call took at least that.
        return "honoured" if probe.took_ms >= 0.9 * RETRY_AFTER_S * 1000 else "ignored"

    def retry_text(self) -> str:
        """Backoff and Retry-After in a few words ("back to back; ignores Retry-After")."""
        backoff = self.backoff_ms
        parts = []
        if backoff is not None:
            parts.append(
                f"~{backoff:,.0f} ms between attempts" if backoff > BACKOFF_MS else "back to back"
            )
        after = self.retry_after
        if after == "honoured":
            parts.append("honours Retry-After")
        elif after == "ignored":
            parts.append("ignores Retry-After")
        elif after == "no retry":
            parts.append("no retry")
        return "; ".join(parts) or "-"

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """Edges newly crossed while this one failed, in the order first seen."""
        found: list[str] = []
        for probe in self.failures:
            found += [f for f in probe.fallbacks if f not in found]
        return tuple(found)

    def as_dict(self) -> dict[str, Any]:
        per = self.attempts_per_request
        return {
            "edge": self.edge,
            "caller": self.caller,
            "target": self.target,
            "journeys": list(self.journeys),
            "deadline": None if self.deadline is None else self.deadline.as_dict(),
            "attempts_per_request": None if per is None else round(per, 3),
            "backoff_ms": None if self.backoff_ms is None else round(self.backoff_ms, 1),
            "retry_after": self.retry_after,
            "fallbacks": list(self.fallbacks),
            "failures": [p.as_dict() for p in self.failures],
            "note": self.note,
            "measure_s": round(self.measure_s, 3),
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One mistake in how a caller defends itself, with the numbers that show it.

    ``caller`` is who should change, ``setting`` what of it ("its deadline on
    profile->telemetry"), ``numbers`` the measured values the message quotes.
    """

    check: Check
    caller: str
    edge: str
    setting: str
    message: str
    journey: str | None = None
    path: tuple[str, ...] = ()
    numbers: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.check}: {self.caller} ({self.setting}): {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "caller": self.caller,
            "edge": self.edge,
            "setting": self.setting,
            "journey": self.journey,
            "path": list(self.path),
            "numbers": {k: round(v, 3) for k, v in self.numbers.items()},
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A caller's declaration on ``edge`` that the measurement contradicts."""

    edge: str
    caller: str
    setting: Setting
    declared: str
    measured: str
    message: str

    def describe(self) -> str:
        return f"{self.edge} {self.setting}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "edge": self.edge,
            "caller": self.caller,
            "setting": self.setting,
            "declared": self.declared,
            "measured": self.measured,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class DeclaredCheck:
    """Every declaration compared: those that agree, those that do not, those not
    compared (with why), per edge and setting."""

    agree: tuple[tuple[str, Setting], ...]
    mismatches: tuple[Mismatch, ...]
    not_compared: tuple[tuple[str, Setting, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tolerance": {
                "timeout_ms": f"in the measured range, give or take max({TIMEOUT_SLACK_MS:g} "
                f"ms, {TIMEOUT_SLACK_SHARE:.0%} of the declared value)",
                "retries": f"1 + retries attempts per request, give or take {ATTEMPTS_SLACK:g}",
                "fallback": "exactly the edges newly crossed while the edge failed",
            },
            "agree": [{"edge": e, "setting": s} for e, s in self.agree],
            "mismatches": [m.as_dict() for m in self.mismatches],
            "not_compared": [{"edge": e, "setting": s, "why": w} for e, s, w in self.not_compared],
        }


@dataclass(frozen=True, slots=True)
class DefenceMap:
    """Every edge's defences on one running system, and the findings over them.

    ``crossed`` is, per journey, the edges it crossed with nothing failing;
    ``paths`` per edge the chain of edges from the client edge to it (the
    topology's shortest); ``search_s`` the wall time of the whole measurement.
    """

    topology: str
    profile: str
    #: The client edge, which users' devices call: its caller is none of the system's.
    entry: str
    edges: tuple[EdgeDefences, ...]
    crossed: Mapping[str, tuple[str, ...]]
    paths: Mapping[str, tuple[str, ...]]
    findings: tuple[Finding, ...]
    search_s: float
    toxiproxy_version: str = ""
    notes: tuple[str, ...] = ()
    #: The callers' declarations (domino.yaml) against the measurement; None: none declared.
    declared: DeclaredCheck | None = None
    #: Each journey's SLO, its p95 in ms (a soft dependency's wait is held to it).
    slo_p95_ms: Mapping[str, float] = field(default_factory=dict)

    def edge(self, name: str) -> EdgeDefences:
        """The defences measured on edge ``name``; KeyError if it was not measured."""
        for found in self.edges:
            if found.edge == name:
                return found
        raise KeyError(f"edge {name!r} was not measured")

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        """The callers' declarations the measurement contradicts (none when none declared)."""
        return () if self.declared is None else self.declared.mismatches

    def findings_of(self, check: Check) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.check == check)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for defences.json."""
        return {
            "topology": self.topology,
            "profile": self.profile,
            "entry": self.entry,
            "toxiproxy_version": self.toxiproxy_version,
            "search_s": round(self.search_s, 3),
            "edges": [e.as_dict() for e in self.edges],
            "crossed": {j: list(edges) for j, edges in self.crossed.items()},
            "paths": {e: list(path) for e, path in self.paths.items()},
            "findings": [f.as_dict() for f in self.findings],
            "notes": list(self.notes),
            "declared": None if self.declared is None else self.declared.as_dict(),
            "slo_p95_ms": dict(self.slo_p95_ms),
        }
