"""Money operations sent the way a careful client sends them, and the books they must leave.

Shared by the trust tests and the soak scripts (``bench/soak_*.py``). Every
money operation carries one ``Idempotency-Key`` on every attempt (captures
are idempotent by the payment's state and need none). An operation is
*acknowledged* when an attempt got a 2xx answer; one that never got an answer
(the connection was reset, timed out, cut short, or the service was down) is
*resolved* after the faults end by sending it again with the same key: either
the key already holds an answer (it was applied and only the answer was lost)
or it is applied now. Then :func:`audit` checks the books:

- every service's ``/admin/invariants`` hold (money conserved, every
  operation balanced, credit lines add up);
- every operation is in the books exactly once: a replay of its key answers
  the same id with ``Idempotent-Replayed: true`` and moves nothing, the books
  hold as many operations as there were keys, and each customer's balance is
  the opening balance moved by exactly the operations sent;
- nothing is half-applied: every remittance ends ``sent`` (none stuck in
  suspense), the network received each one once.

Only the services' HTTP APIs and Domino's public :class:`~harness.Stack` are
used. The clients here open a new TCP connection per request
(``max_keepalive_connections=0``): Toxiproxy draws a TCP toxic's toxicity per
connection, so this makes partial TCP faults hit their individual requests. The
services' calls to each other keep their connections alive, so on those edges a
TCP toxic's toxicity is a share of pooled connections; :func:`edge_http_phases`
gives faults drawn per request there (Domino's HTTP kinds, ``share``).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from harness import Fault, HttpAbort, HttpBody, HttpStatus, LimitData, ResetPeer, Stack, Timeout
from harness.infra.readiness import wait_until
from harness.model.faults import HttpFault

__all__ = [
    "CREDIT_LIMIT_KRW",
    "OPENING_KRW",
    "Audit",
    "Op",
    "Workload",
    "audit",
    "background",
    "edge_fault_phases",
    "edge_http_phases",
    "new_client",
    "resolve",
    "send",
]

#: Every seeded customer's KRW opening balance and card credit line (docs/services.md).
OPENING_KRW = 1_000_000
CREDIT_LIMIT_KRW = 3_000_000
REMITTANCE_KRW = 10_000
ENROL_KRW = 10_000
BENEFICIARY = {"name": "Jo Park", "account": "US99887766", "country": "US"}

Stream = Literal["upstream", "downstream"]

_IDS = {
    "transfer": "transfer_id",
    "payment": "payment_id",
    "capture": "payment_id",
    "remittance": "remittance_id",
    "enrol": "account_id",
}


def new_client(timeout_s: float = 3.0) -> httpx.Client:
    """An HTTP client that opens a new connection for every request."""
    return httpx.Client(
        timeout=timeout_s, limits=httpx.Limits(max_keepalive_connections=0), trust_env=False
    )


def admin_get(stack: Stack, service: str, path: str) -> dict[str, Any]:
    with httpx.Client(timeout=10, trust_env=False) as http:
        response = http.get(
            f"{stack.services[service]}{path}", headers={"X-Admin-Token": stack.admin_token}
        )
    response.raise_for_status()
    report: dict[str, Any] = response.json()
    return report


def login(base_url: str, customer: str) -> dict[str, str]:
    """Bearer headers for a seeded customer (bank's token: card and pay accept it too)."""
    with httpx.Client(timeout=10, trust_env=False) as http:
        response = http.post(
            f"{base_url}/login", json={"customer_id": customer, "password": f"domino-{customer}"}
        )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


@dataclass
class Op:
    """One money operation and what became of it."""

    kind: str  # transfer, payment, capture, remittance, enrol
    customer: str
    base: str  # the URL it is sent to (an edge's listen address or a service)
    path: str
    body: dict[str, Any] | None
    amount: int
    key: str | None
    auth: dict[str, str] = field(repr=False, default_factory=dict)
    attempts: int = 0
    status: int | None = None
    answer: dict[str, Any] | None = None
    acknowledged: bool = False  # a 2xx answer while the faults were on
    replayed: bool = False  # the acknowledging answer came from the stored key
    refused: str | None = None  # a definite 4xx answer (status and code)
    resolved: bool = False  # sent again after the faults ended
    resolved_from_key: bool = False  # ... and the key already held an answer
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def ident(self) -> str | None:
        return None if self.answer is None else str(self.answer.get(_IDS[self.kind]))

    @property
    def done(self) -> bool:
        return self.answer is not None

    def headers(self) -> dict[str, str]:
        return {**self.auth, "Idempotency-Key": self.key} if self.key else dict(self.auth)


def _service_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code else None


def send(
    client: httpx.Client,
    op: Op,
    *,
    max_attempts: int,
    deadline: float,
    backoff_s: float = 0.0,
    stop: threading.Event | None = None,
) -> bool:
    """Send ``op`` until a 2xx answer, a definite refusal, ``max_attempts`` or ``deadline``.

    Retried (with the same key): transport errors (reset, timeout, a body cut
    short), 429, 5xx, and 4xx answers without a service error code (a request
    the proxy cut short). Other 4xx answers are refusals and are not retried.
    Between attempts the client backs off (full jitter from ``backoff_s``,
    doubling, at most 0.5 s), waking early when ``stop`` is set.
    """
    waiter = stop or threading.Event()
    tries = 0
    while tries < max_attempts and time.monotonic() < deadline:
        if tries and backoff_s:
            waiter.wait(random.uniform(0, min(0.5, backoff_s * 2 ** (tries - 1))))
        tries += 1
        op.attempts += 1
        try:
            response = client.post(op.base + op.path, json=op.body, headers=op.headers())
            answer = response.json() if response.is_success else None
        except (httpx.HTTPError, ValueError) as exc:
            op.failures[type(exc).__name__] += 1
            continue
        if answer is not None:
            op.status, op.answer = response.status_code, answer
            op.replayed = response.headers.get("Idempotent-Replayed") == "true"
            return True
        code = _service_code(response)
        if response.status_code == 429 or response.status_code >= 500 or code is None:
            op.failures[f"{response.status_code} {code}"] += 1
            continue
        op.refused = f"{response.status_code} {code}"
        return False
    return False


def resolve(ops: Iterable[Op], *, deadline_s: float = 30.0) -> int:
    """Send every unanswered operation again, faults gone; how many were resolved."""
    count = 0
    deadline = time.monotonic() + deadline_s
    with new_client() as client:
        for op in ops:
            if op.done or op.refused:
                continue
            op.resolved = True
            # Patiently: a caller's circuit breaker may still be open just after a restart.
            if send(client, op, max_attempts=40, deadline=deadline, backoff_s=0.1):
                op.resolved_from_key = op.replayed
            count += 1
    return count


@dataclass
class Audit:
    """What the books said after a run; ``problems`` is empty when nothing was lost."""

    attempted: int = 0
    acknowledged: int = 0
    retried: int = 0
    attempts: int = 0
    answered_from_key: int = 0
    unanswered: int = 0
    applied_unanswered: int = 0
    applied_once: int = 0
    duplicates: int = 0
    lost: int = 0
    refused: int = 0
    replays_checked: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "acknowledged": self.acknowledged,
            "retried": self.retried,
            "attempts": self.attempts,
            "answered_from_key": self.answered_from_key,
            "unanswered": self.unanswered,
            "applied_though_unanswered": self.applied_unanswered,
            "applied_once": self.applied_once,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "refused": self.refused,
            "replays_checked": self.replays_checked,
            "by_kind": dict(self.by_kind),
            "failures": dict(self.failures.most_common(8)),
        }


def snapshot(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every service's invariant report (counts are compared before and after)."""
    return {name: admin_get(stack, name, "/admin/invariants") for name in stack.services}


def _bank_counts(report: dict[str, Any]) -> Counter[str]:
    """Bank's operations by kind, from its invariant report."""
    remittances = report.get("remittances", {})
    accepted = sum(int(v["count"]) for v in remittances.values())
    sent = int(remittances.get("sent", {}).get("count", 0))
    returned = int(remittances.get("returned", {}).get("count", 0))
    enrolled = int(report.get("savings_enrolled", 0))
    # Operations: transfers, remit_accepted (each remittance), remit_sent, remit_returned,
    # savings_deposit (each enrolment).
    transfers = int(report["operations"]) - accepted - sent - returned - enrolled
    return Counter(
        transfer=transfers, remittance=accepted, sent=sent, returned=returned, enrol=enrolled
    )


def _pay_counts(report: dict[str, Any]) -> Counter[str]:
    payments = report.get("payments", {})
    return Counter(
        payment=sum(int(v["count"]) for v in payments.values()),
        captured=int(payments.get("captured", {}).get("count", 0)),
    )


def wait_remittances_sent(stack: Stack, *, timeout_s: float) -> None:
    """Poll until bank has no remittance pending (its outbox drains after the faults)."""
    wait_until(
        lambda: admin_get(stack, "bank", "/admin/invariants")["pending"]["remittances"] == 0,
        timeout_s=timeout_s,
        interval_s=0.1,
        what="bank's pending remittances sent",
    )


def audit(
    workload: Workload,
    before: dict[str, dict[str, Any]],
    *,
    remittance_timeout_s: float = 30.0,
    check_history: bool = True,
) -> Audit:
    """Check the books after the workload's operations (resolve them first).

    ``before`` is :func:`snapshot` taken before the workload started. The
    workload's customers must be ones no one else moved money for since the
    stack started: their balances are compared with the opening balances.
    """
    stack, ops = workload.stack, list(workload.ops)
    result = Audit()
    problems = result.problems
    result.attempted = len(ops)
    result.acknowledged = sum(op.acknowledged for op in ops)
    result.retried = sum(op.attempts > 1 for op in ops)
    result.attempts = sum(op.attempts for op in ops)
    result.answered_from_key = sum(op.acknowledged and op.replayed for op in ops)
    result.unanswered = sum(op.resolved for op in ops)
    result.applied_unanswered = sum(op.resolved_from_key for op in ops)
    result.refused = sum(op.refused is not None for op in ops)
    result.by_kind = Counter(op.kind for op in ops)
    for op in ops:
        result.failures.update(op.failures)
        if op.refused:
            problems.append(f"{op.kind} {op.key} refused: {op.refused}")
        elif not op.done:
            problems.append(f"{op.kind} {op.key} never answered, even after the faults")

    if any(op.kind == "remittance" for op in ops):
        wait_remittances_sent(stack, timeout_s=remittance_timeout_s)
    after = snapshot(stack)
    for name, report in after.items():
        if not report["ok"]:
            problems.append(f"{name} invariants broken: {report['violations']}")
    _check_replays(ops, result)
    _check_counts(ops, before, after, result)
    _check_balances(stack, ops, workload.auth, problems=problems)
    if check_history:
        _check_history(stack.services["bank"], ops, problems=problems)
    _check_points(ops, before["pay"], after["pay"], problems=problems)
    result.applied_once = sum(op.done for op in ops if op.key) - result.lost
    return result


def _check_replays(ops: Sequence[Op], result: Audit) -> None:
    """Every keyed operation: a replay answers the same id from the key and moves nothing."""
    with new_client(timeout_s=10) as client:
        for op in ops:
            if not op.key or not op.done:
                continue
            replay = Op(op.kind, op.customer, op.base, op.path, op.body, op.amount, op.key)
            replay.auth = op.auth
            if not send(client, replay, max_attempts=3, deadline=time.monotonic() + 30):
                result.problems.append(f"replay of {op.kind} {op.key} failed: {replay.refused}")
                continue
            result.replays_checked += 1
            if not replay.replayed or replay.ident != op.ident:
                result.lost += 1
                result.problems.append(
                    f"{op.kind} {op.key} answered {op.ident} but its replay answered "
                    f"{replay.ident} (replayed: {replay.replayed}): the key was lost"
                )


def _check_counts(
    ops: Sequence[Op],
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    result: Audit,
) -> None:
    """The books hold exactly as many operations as there were keys; the network got each
    remittance once."""
    problems = result.problems
    done = Counter(op.kind for op in ops if op.done)
    books = _bank_counts(after["bank"]) - _bank_counts(before["bank"])
    books.update(_pay_counts(after["pay"]) - _pay_counts(before["pay"]))
    for kind in ("transfer", "payment", "remittance", "enrol"):
        if books[kind] != done[kind]:
            result.duplicates += max(0, books[kind] - done[kind])
            problems.append(f"{done[kind]} {kind}s answered, the books hold {books[kind]}")
    captured = sum(1 for op in ops if op.kind == "capture" and op.done)
    if books["captured"] != captured:
        problems.append(f"{captured} captures answered, pay shows {books['captured']} captured")
    if books["returned"]:
        problems.append(f"{books['returned']} remittances were returned by the network")
    if "remit" not in after:
        return
    received = int(after["remit"]["accepted"]["count"]) - int(before["remit"]["accepted"]["count"])
    if received != books["sent"] or books["sent"] != done["remittance"]:
        problems.append(
            f"{done['remittance']} remittances answered, bank sent {books['sent']}, "
            f"the network received {received}"
        )
    twice = int(after["remit"]["duplicate_remittance_ids"]) - int(
        before["remit"]["duplicate_remittance_ids"]
    )
    if twice:
        result.duplicates += twice
        problems.append(f"the network received {twice} remittance ids twice")


def _krw_balance(client: httpx.Client, base: str, auth: dict[str, str]) -> int:
    response = client.get(f"{base}/accounts", headers=auth)
    response.raise_for_status()
    for account in response.json()["accounts"]:
        if account["currency"] == "KRW" and account["product"] == "krw":
            return int(account["balance_minor"])
    raise AssertionError("no KRW account")


def _check_balances(
    stack: Stack, ops: Sequence[Op], auth: dict[str, dict[str, str]], *, problems: list[str]
) -> None:
    """KRW balances and credit lines equal the opening ones moved by the answered operations."""
    moved: Counter[str] = Counter()
    held: Counter[str] = Counter()
    last_payment: dict[str, Op] = {}
    for op in ops:
        if not op.done:
            continue
        if op.kind in ("transfer", "remittance", "enrol"):
            moved[op.customer] -= op.amount
            if op.kind == "transfer" and op.body is not None:
                moved[str(op.body["to_account"]).removesuffix("-krw")] += op.amount
        elif op.kind == "payment":
            held[op.customer] += op.amount
            last_payment[op.customer] = op
    with new_client(timeout_s=10) as client:
        for customer, headers in auth.items():
            balance = _krw_balance(client, stack.services["bank"], headers)
            expected = OPENING_KRW + moved[customer]
            if balance != expected:
                problems.append(
                    f"{customer} holds {balance} KRW; opening {OPENING_KRW} and the answered "
                    f"operations give {expected}"
                )
        for customer, op in last_payment.items():
            response = client.get(
                f"{stack.services['pay']}/payments/{op.ident}", headers=auth[customer]
            )
            response.raise_for_status()
            available = int(response.json()["available_credit_krw"])
            if available != CREDIT_LIMIT_KRW - held[customer]:
                problems.append(
                    f"{customer} has {available} KRW of credit; the limit {CREDIT_LIMIT_KRW} "
                    f"less {held[customer]} authorised gives {CREDIT_LIMIT_KRW - held[customer]}"
                )


def _check_history(bank_url: str, ops: Sequence[Op], *, problems: list[str]) -> None:
    """Each sender's ledger lists each answered transfer exactly once (up to 200 entries)."""
    by_sender: dict[str, list[Op]] = {}
    for op in ops:
        if op.kind == "transfer" and op.done:
            by_sender.setdefault(op.customer, []).append(op)
    with new_client(timeout_s=10) as client:
        for customer, sent in by_sender.items():
            if len(sent) > 190:
                continue  # the history shows the latest 200 entries
            account = f"{customer}-krw"
            response = client.get(
                f"{bank_url}/accounts/{account}/transactions",
                params={"limit": 200},
                headers=sent[0].auth,
            )
            response.raise_for_status()
            entries = response.json()["entries"]
            listed = Counter(e["op_id"] for e in entries if e["kind"] == "transfer")
            answered = Counter(op.ident for op in sent)
            # A full window (200 entries of every kind) may have pushed the oldest
            # transfers out: then only "listed but never answered" can be checked.
            window_full = len(entries) >= 200
            if listed != answered:
                extra = listed - answered
                missing = Counter() if window_full else answered - listed
                if not extra and not missing:
                    continue
                problems.append(
                    f"{account}'s history: transfers listed but not answered {dict(extra)}, "
                    f"answered but not listed {dict(missing)}"
                )


def _check_points(
    ops: Sequence[Op], before: dict[str, Any], after: dict[str, Any], *, problems: list[str]
) -> None:
    earned = sum(op.amount // 100 for op in ops if op.kind == "capture" and op.done)
    delta = int(after["points"]["earned"]) - int(before["points"]["earned"])
    if delta != earned:
        problems.append(f"captures should have earned {earned} points; pay shows {delta}")


# -- The workload ------------------------------------------------------------------------


def edge_fault_phases(
    edges: Iterable[str], *, toxicity: float, timeout_ms: int = 200, limit_bytes: int = 96
) -> list[tuple[str, tuple[Fault, ...]]]:
    """reset_peer, timeout and limit_data on every edge: each kind in turn on each stream,
    then all three together (twice, streams swapped)."""
    names = list(edges)

    def kind(name: str, edge: str, stream: Stream) -> Fault:
        if name == "reset_peer":
            return ResetPeer(edge=edge, stream=stream, toxicity=toxicity)
        if name == "timeout":
            return Timeout(edge=edge, stream=stream, toxicity=toxicity, timeout_ms=timeout_ms)
        return LimitData(edge=edge, stream=stream, toxicity=toxicity, limit_bytes=limit_bytes)

    phases: list[tuple[str, tuple[Fault, ...]]] = []
    streams: tuple[Stream, Stream] = ("upstream", "downstream")
    for name in ("reset_peer", "timeout", "limit_data"):
        for stream in streams:
            phases.append((f"{name} {stream}", tuple(kind(name, edge, stream) for edge in names)))
    mixes: tuple[tuple[str, tuple[Stream, Stream, Stream]], ...] = (
        ("together A", ("downstream", "upstream", "downstream")),
        ("together B", ("upstream", "downstream", "upstream")),
    )
    for label, mix in mixes:
        phases.append(
            (
                label,
                tuple(
                    kind(name, edge, stream)
                    for edge in names
                    for name, stream in zip(
                        ("reset_peer", "timeout", "limit_data"), mix, strict=True
                    )
                ),
            )
        )
    return phases


#: The HTTP kinds :func:`edge_http_phases` uses, by label: each loses a request or its
#: answer, so a retry is needed, and the two marked "applied" let the target apply it.
#: Each HTTP kind the exactly-once check holds, by its phase's label, made for one edge.
_HTTP_FAULTS: dict[str, Callable[[str, float, int], HttpFault]] = {
    "http_abort before": lambda e, share, seed: HttpAbort(
        edge=e, at="before", share=share, seed=seed
    ),
    "http_abort after (applied)": lambda e, share, seed: HttpAbort(
        edge=e, at="after", share=share, seed=seed
    ),
    "http_status 503": lambda e, share, seed: HttpStatus(
        edge=e, status=503, share=share, seed=seed
    ),
    "http_body truncate (applied)": lambda e, share, seed: HttpBody(
        edge=e, broken="truncate", share=share, seed=seed
    ),
}
HTTP_KINDS: tuple[str, ...] = tuple(_HTTP_FAULTS)


def edge_http_phases(
    edges: Iterable[str], *, share: float, seed: int = 0
) -> list[tuple[str, tuple[Fault, ...]]]:
    """Domino's HTTP kinds on every edge, drawn per request, kept-alive connections
    included (the services' own calls keep theirs alive): each kind of
    :data:`HTTP_KINDS` in turn on every edge, then one phase with a different kind
    on each edge. Every fault has a seed of its own, from ``seed``."""
    names = list(edges)
    seeds = itertools.count(seed)
    phases: list[tuple[str, tuple[Fault, ...]]] = [
        (label, tuple(_HTTP_FAULTS[label](e, share, next(seeds)) for e in names))
        for label in HTTP_KINDS
    ]
    mixed = tuple(
        _HTTP_FAULTS[HTTP_KINDS[n % len(HTTP_KINDS)]](edge, share, next(seeds))
        for n, edge in enumerate(names)
    )
    phases.append(("http kinds together", mixed))
    return phases


@dataclass
class Workload:
    """Transfers, payments (+ captures), remittances and enrolments under retries.

    ``senders`` each get ``threads_per_sender`` worker threads (clients sending
    one operation at a time); transfers go to ``sink``. Payments
    are sent through the ``bank->pay`` and ``card->pay`` proxies in turn (as
    the caller on those edges would); transfers, remittances and enrolments
    through ``client->bank``.
    """

    stack: Stack
    senders: Sequence[str]
    sink: str
    enrollers: Sequence[str] = ()
    remit_share: float = 0.08
    max_attempts: int = 8
    backoff_s: float = 0.01
    threads_per_sender: int = 1
    seed: int = 11
    ops: list[Op] = field(default_factory=list)
    auth: dict[str, dict[str, str]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for customer in [*self.senders, self.sink, *self.enrollers]:
            self.auth[customer] = login(self.stack.services["bank"], customer)
        self._pay_urls = [
            "http://" + self.stack.edges[name].listen
            for name in ("bank->pay", "card->pay")
            if name in self.stack.edges
        ] or [self.stack.services["pay"]]

    def _op(self, kind: str, customer: str, *, base: str, path: str, body: Any, amount: int) -> Op:
        key = None if kind == "capture" else f"{kind}-{uuid.uuid4().hex}"
        op = Op(kind, customer, base, path, body, amount, key, auth=self.auth[customer])
        with self._lock:
            self.ops.append(op)
        return op

    def _send(self, client: httpx.Client, op: Op) -> bool:
        op.acknowledged = send(
            client,
            op,
            max_attempts=self.max_attempts,
            deadline=time.monotonic() + 30,
            backoff_s=self.backoff_s,
            stop=self.stop,
        )
        return op.acknowledged

    def _one(self, client: httpx.Client, customer: str, rng: random.Random, n: int) -> None:
        roll = rng.random()
        entry = self.stack.entry_url
        if roll < self.remit_share:
            body = {"amount_krw": REMITTANCE_KRW, "currency": "USD", "beneficiary": BENEFICIARY}
            op = self._op(
                "remittance",
                customer,
                base=entry,
                path="/remittances",
                body=body,
                amount=REMITTANCE_KRW,
            )
        elif roll < 0.5 + self.remit_share / 2:
            amount = rng.randint(1, 9)
            body = {"to_account": f"{self.sink}-krw", "amount_krw": amount, "memo": f"n{n}"}
            op = self._op(
                "transfer", customer, base=entry, path="/transfers", body=body, amount=amount
            )
        else:
            amount = rng.randint(100, 300)
            pay = self._pay_urls[n % len(self._pay_urls)]
            body = {"merchant": "domino-mart", "amount_krw": amount}
            op = self._op("payment", customer, base=pay, path="/payments", body=body, amount=amount)
        if self._send(client, op) and op.kind == "payment" and amount % 2 == 0:
            capture = self._op(
                "capture",
                customer,
                base=op.base,
                path=f"/payments/{op.ident}/capture",
                body=None,
                amount=amount,
            )
            self._send(client, capture)

    def _worker(self, customer: str, count: int, seed: int) -> None:
        rng = random.Random(seed)
        with new_client() as client:
            for n in range(count):
                if self.stop.is_set():
                    return
                self._one(client, customer, rng, n)

    def enrol(self, customer: str) -> Op:
        """One savings enrolment (bank -> card -> pay for the rate), sent with retries."""
        body = {"monthly_amount_krw": ENROL_KRW, "months": 12}
        op = self._op(
            "enrol",
            customer,
            base=self.stack.entry_url,
            path="/savings/enrol",
            body=body,
            amount=ENROL_KRW,
        )
        with new_client() as client:
            self._send(client, op)
        return op

    def run(self, ops_per_sender: int, *, timeout_s: float) -> None:
        """Each worker sends up to ``ops_per_sender`` operations (fewer once
        :attr:`stop` is set); raise if they are not done within ``timeout_s``."""
        threads = [
            threading.Thread(
                target=self._worker,
                args=(customer, ops_per_sender, self._rng.randrange(2**32)),
                name=f"worker-{customer}-{n}",
                daemon=True,
            )
            for customer in self.senders
            for n in range(self.threads_per_sender)
        ]
        self.finished.clear()
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.finished.set()
        if any(thread.is_alive() for thread in threads):
            self.stop.set()
            for thread in threads:
                thread.join(35)  # the operation in hand ends within its own deadline
            raise RuntimeError(f"workers were still running after {timeout_s:g}s")

    def count(self, predicate: Callable[[Op], bool]) -> int:
        with self._lock:
            return sum(1 for op in self.ops if predicate(op))


@contextmanager
def background(workload: Workload, ops_per_sender: int, *, timeout_s: float) -> Iterator[None]:
    """Run the workload on threads while the ``with`` block runs; stop and join it after."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            workload.run(ops_per_sender, timeout_s=timeout_s)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failure.append(exc)

    workload.stop.clear()
    runner = threading.Thread(target=target, name="workload", daemon=True)
    runner.start()
    try:
        yield
    finally:
        workload.stop.set()
        runner.join(timeout_s + 40)
        workload.stop.clear()
    if runner.is_alive():
        raise RuntimeError("the workload did not finish")
    if failure:
        raise failure[0]
