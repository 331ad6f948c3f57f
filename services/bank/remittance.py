"""Overseas remittance through the remittance network (bank -> remit), via an outbox.

Accepting a remittance and sending it are two steps, as in real banks:

1. ``POST /remittances`` moves the won from the customer's account to the
   remittance suspense account and records the remittance as ``pending``,
   in one transaction (exactly once per ``Idempotency-Key``).
2. The outbox sends it to the network with the remittance id as the
   network's ``Idempotency-Key``; once the network has it, one transaction
   marks it ``sent`` and moves the won from suspense to the nostro account.
   A lost answer is simply sent again: the network answers the first result,
   so nothing is sent twice, and a restart loses nothing (the outbox is a table).

The request makes the first attempt itself; the outbox's background loop
retries what is still pending. The network refusing for good (4xx) returns
the money to the customer (``returned``).

With ``maintenance_aware`` (KakaoBank, 2024-12-04) bank learns the network's
maintenance windows (from its schedule and from MT001 answers): a new
remittance during a window gets MT001 with the window's end and nothing is
debited; pending remittances wait for the end instead of being retried into
the window, and go out by themselves when it ends. Without it (fragile) the
outbox retries into the window every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.bank.context import Bank, bank_of
from services.bank.fx import krw_for
from services.bank.ledger import CURRENCIES, HOUSE, Leg, account_of
from services.bank.models import RemittanceIn, RemittanceOut, RemittancesOut
from services.bank.outbox import Outbox
from services.kit.auth import customer_of
from services.kit.budget import RequestBudget
from services.kit.clock import epoch_of, iso_utc
from services.kit.errors import CauseLink, ServiceError
from services.kit.idempotency import StoredAnswer, apply_once, check_key, replay_headers
from services.kit.ids import new_id
from services.kit.models import IdempotencyKey, error_responses, notice

__all__ = ["SCHEMA", "RemittanceOutbox", "router"]

log = logging.getLogger("domino.services.bank.remittance")

router = APIRouter(tags=["remittance"])

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS remittances (remittance_id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL, amount_krw INTEGER NOT NULL, currency TEXT NOT NULL,"
    " amount_minor INTEGER NOT NULL, beneficiary TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, next_attempt_at REAL NOT NULL, remit_ref TEXT,"
    " last_error TEXT, created_at REAL NOT NULL, sent_at REAL)",
    "CREATE INDEX IF NOT EXISTS remittances_due ON remittances (state, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS remittances_by_customer ON remittances (customer_id, created_at)",
)

#: The principal bank presents to the network.
BANK_PRINCIPAL = "svc-bank"
_SCHEDULE_POLL_S = 1.0
_BATCH = 20
_MAX_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class KnownWindow:
    """A maintenance window of the network, as bank knows it (epoch seconds)."""

    id: str
    starts_s: float
    ends_s: float
    reason: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KnownWindow:
        return cls(
            str(data["id"]),
            epoch_of(str(data["starts_at"])),
            epoch_of(str(data["ends_at"])),
            str(data.get("reason", "")),
        )

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "starts_at": iso_utc(self.starts_s),
            "ends_at": iso_utc(self.ends_s),
            "reason": self.reason,
        }


def _view(row: sqlite3.Row) -> RemittanceOut:
    return RemittanceOut(
        remittance_id=row["remittance_id"],
        state=row["state"],
        amount_krw=row["amount_krw"],
        currency=row["currency"],
        amount_minor=row["amount_minor"],
        remit_ref=row["remit_ref"],
        created_at=iso_utc(row["created_at"]),
        sent_at=iso_utc(row["sent_at"]) if row["sent_at"] else None,
    )


class RemittanceOutbox:
    """Sends pending remittances to the network, once each, around maintenance windows."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank
        self.windows: list[KnownWindow] = []
        self.sent = 0
        self.attempts = 0
        self.returned = 0
        self.held_for_maintenance = 0
        self._wake = asyncio.Event()
        self._sending: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._polled_at_s = 0.0

    # Lifecycle.

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="remittance-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def nudge(self) -> None:
        """Look for work now rather than at the next tick."""
        self._wake.set()

    # Maintenance windows.

    def window_now(self) -> KnownWindow | None:
        now_s = time.time()
        for window in self.windows:
            if window.starts_s <= now_s < window.ends_s:
                return window
        return None

    def refuse_if_in_window(self) -> None:
        """MT001 with the window's end while the network is known to be in maintenance."""
        window = self.window_now()
        if window is None:
            return
        edge = self.bank.kit.dep("remit").edge
        left_s = max(1, math.ceil(window.ends_s - time.time()))
        raise ServiceError(
            "MT001",
            [CauseLink("bank", edge, "maintenance", f"remit window {window.id}")],
            message="Overseas remittance is under maintenance until "
            f"{iso_utc(window.ends_s)}. Nothing was debited.",
            headers={"Retry-After": str(left_s)},
            extra={"maintenance": window.as_json()},
        )

    def _learn(self, failure: ServiceError) -> KnownWindow | None:
        data = failure.extra.get("maintenance")
        if not isinstance(data, dict):
            return None
        try:
            window = KnownWindow.from_json(data)
        except (KeyError, ValueError):
            return None
        self.windows = [w for w in self.windows if w.id != window.id] + [window]
        return window

    async def _poll_schedule(self) -> None:
        self._polled_at_s = time.monotonic()
        remit = self.bank.kit.dep("remit")
        try:
            answer = await remit.call(
                "GET",
                "/maintenance",
                token=self.bank.kit.signer.issue(BANK_PRINCIPAL),
                budget=RequestBudget(self.bank.knobs.dependency_timeout_s),
                attempts=1,
            )
            self.windows = [KnownWindow.from_json(w) for w in answer.get("windows", [])]
        except (ServiceError, KeyError, ValueError, TypeError, AttributeError) as exc:
            log.debug("maintenance schedule unavailable: %s", exc)

    # Sending.

    async def send(
        self, remittance_id: str, budget: RequestBudget | None = None
    ) -> ServiceError | None:
        """One attempt to hand a pending remittance to the network; its failure, if any."""
        conn = self.bank.db.conn
        row = conn.execute(
            "SELECT * FROM remittances WHERE remittance_id = ?", (remittance_id,)
        ).fetchone()
        if row is None or row["state"] != "pending" or remittance_id in self._sending:
            return None
        remit = self.bank.kit.dep("remit")
        payload = {
            "remittance_id": remittance_id,
            "amount_krw": row["amount_krw"],
            "currency": row["currency"],
            "amount_minor": row["amount_minor"],
            "beneficiary": json.loads(row["beneficiary"]),
        }
        self._sending.add(remittance_id)
        self.attempts += 1
        try:
            answer = await remit.call(
                "POST",
                "/remittances",
                token=self.bank.kit.signer.issue(BANK_PRINCIPAL),
                json=payload,
                idempotency_key=remittance_id,
                budget=budget or RequestBudget(self.bank.knobs.dependency_timeout_s),
                attempts=None if budget is not None else 1,
            )
            remit_ref = str(answer["remit_ref"])
        except ServiceError as failure:
            self._record_failure(row, failure)
            return failure
        except (KeyError, TypeError):
            malformed = ServiceError("DP002", [remit.link("error", "answer has no remit_ref")])
            self._record_failure(row, malformed)
            return malformed
        finally:
            self._sending.discard(remittance_id)
        self._mark_sent(row, remit_ref)
        return None

    def _mark_sent(self, row: sqlite3.Row, remit_ref: str) -> None:
        with self.bank.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE remittances SET state = 'sent', remit_ref = ?, sent_at = ?,"
                " last_error = NULL WHERE remittance_id = ? AND state = 'pending'",
                (remit_ref, time.time(), row["remittance_id"]),
            )
            if cursor.rowcount != 1:
                return  # someone else marked it first; the network has it once either way
            self.bank.ledger.post(
                conn,
                "remit_sent",
                row["customer_id"],
                [
                    Leg(HOUSE.remit_suspense, -row["amount_krw"]),
                    Leg(HOUSE.remit_nostro, row["amount_krw"]),
                ],
                {"remittance_id": row["remittance_id"], "remit_ref": remit_ref},
            )
        self.sent += 1

    def _record_failure(self, row: sqlite3.Row, failure: ServiceError) -> None:
        knobs = self.bank.knobs
        now_s = time.time()
        permanent = failure.http_status < 500 and failure.code.startswith(("RQ", "TX"))
        if permanent:
            self._return(row, failure)
            return
        attempts = int(row["attempts"]) + 1
        next_s = now_s
        window = self._learn(failure) if failure.code == "MT001" else None
        if window is not None and knobs.maintenance_aware:
            next_s = window.ends_s
            self.held_for_maintenance += 1
        elif knobs.retry_backoff:
            base_s = knobs.retry_backoff_base_s * 2 ** min(attempts, 16)
            next_s = now_s + random.uniform(0, min(_MAX_BACKOFF_S, base_s))
        with self.bank.db.transaction() as conn:
            conn.execute(
                "UPDATE remittances SET attempts = ?, next_attempt_at = ?, last_error = ?"
                " WHERE remittance_id = ? AND state = 'pending'",
                (attempts, next_s, failure.code, row["remittance_id"]),
            )

    def _return(self, row: sqlite3.Row, failure: ServiceError) -> None:
        with self.bank.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE remittances SET state = 'returned', last_error = ?"
                " WHERE remittance_id = ? AND state = 'pending'",
                (failure.code, row["remittance_id"]),
            )
            if cursor.rowcount != 1:
                return
            self.bank.ledger.post(
                conn,
                "remit_returned",
                row["customer_id"],
                [
                    Leg(HOUSE.remit_suspense, -row["amount_krw"]),
                    Leg(account_of(row["customer_id"], "krw"), row["amount_krw"]),
                ],
                {"remittance_id": row["remittance_id"], "reason": failure.code},
            )
        self.returned += 1

    # The background loop.

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.bank.knobs.outbox_poll_s)
            self._wake.clear()
            try:
                await self._tick()
            except (ServiceError, sqlite3.Error, OSError):
                log.exception("remittance outbox tick failed; retrying next tick")

    async def _tick(self) -> None:
        knobs = self.bank.knobs
        if knobs.maintenance_aware:
            if time.monotonic() - self._polled_at_s >= _SCHEDULE_POLL_S:
                await self._poll_schedule()
            if self.window_now() is not None:
                return  # hold everything until the window ends; nothing is retried into it
        due = [
            r[0]
            for r in self.bank.db.conn.execute(
                "SELECT remittance_id FROM remittances WHERE state = 'pending'"
                " AND next_attempt_at <= ? ORDER BY created_at LIMIT ?",
                (time.time(), _BATCH),
            )
        ]
        for remittance_id in due:
            failure = await self.send(remittance_id)
            if failure is not None and knobs.maintenance_aware and failure.code == "MT001":
                return

    def snapshot(self) -> dict[str, Any]:
        window = self.window_now()
        return {
            "sent": self.sent,
            "attempts": self.attempts,
            "returned": self.returned,
            "held_for_maintenance": self.held_for_maintenance,
            "known_windows": [w.as_json() for w in self.windows],
            "in_window": window is not None,
        }


def _outbox(bank: Bank) -> Outbox:
    if bank.outbox is None:
        raise ServiceError("SV002", message="Remittances are starting up; try again shortly.")
    return bank.outbox


def _row(bank: Bank, remittance_id: str, customer: str) -> sqlite3.Row:
    row: sqlite3.Row | None = bank.db.conn.execute(
        "SELECT * FROM remittances WHERE remittance_id = ? AND customer_id = ?",
        (remittance_id, customer),
    ).fetchone()
    if row is None:
        raise ServiceError("RQ002", message=f"No remittance {remittance_id}.")
    return row


@router.post(
    "/remittances",
    summary="Send money overseas (accepted once per Idempotency-Key, then sent once)",
    status_code=201,
    response_model=RemittanceOut,
    responses={
        202: {"model": RemittanceOut, "description": "Accepted; it will be sent (pending)."},
        **error_responses(409, 429, 502, 503, 504),
    },
)
async def remit(
    body: RemittanceIn, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    customer = customer_of(request)
    bank = bank_of(request)
    outbox = _outbox(bank)
    key = check_key(idempotency_key)
    if bank.knobs.maintenance_aware:
        outbox.refuse_if_in_window()
    # The network pays out in the currency at bank's buy rate; what it gets is won.
    per_unit_krw = Decimal(krw_for(body.currency, "buy", 10**6 * CURRENCIES[body.currency]))
    amount_minor = int(Decimal(body.amount_krw) * CURRENCIES[body.currency] * 10**6 / per_unit_krw)
    if amount_minor < 1:
        raise ServiceError("RQ001", message="The amount is too small to send in that currency.")

    def apply(conn: sqlite3.Connection) -> StoredAnswer:
        remittance_id = new_id("rm")
        bank.ledger.post(
            conn,
            "remit_accepted",
            customer,
            [
                Leg(account_of(customer, "krw"), -body.amount_krw),
                Leg(HOUSE.remit_suspense, body.amount_krw),
            ],
            {"remittance_id": remittance_id},
        )
        now_s = time.time()
        conn.execute(
            "INSERT INTO remittances VALUES"
            " (?, ?, ?, ?, ?, ?, 'pending', 0, ?, NULL, NULL, ?, NULL)",
            (
                remittance_id,
                customer,
                body.amount_krw,
                body.currency,
                amount_minor,
                json.dumps(body.beneficiary.model_dump()),
                now_s,
                now_s,
            ),
        )
        return StoredAnswer(202, {"remittance_id": remittance_id})

    answer, replayed = apply_once(
        bank.db,
        caller=customer,
        key=key,
        route="POST /remittances",
        payload=body.model_dump(),
        apply=apply,
    )
    remittance_id = str(answer.body["remittance_id"])
    failure: ServiceError | None = None
    if not replayed:
        budget = RequestBudget.for_request(bank.knobs, request.headers)
        remit_dep = bank.kit.dep("remit")
        try:
            async with bank.kit.bulkheads.enter("remittance", remit_dep.edge):
                failure = await outbox.send(remittance_id, budget)
        except ServiceError as busy:
            failure = busy  # the bulkhead is full: the outbox sends it shortly
    view = _view(_row(bank, remittance_id, customer))
    headers = replay_headers(replayed)
    if failure is not None and view.state == "pending":
        if not bank.knobs.truthful_codes:
            # The fragile app shows the error, although the money has left the account and
            # the remittance will still go out: customers retry and send it twice.
            raise failure
        view.degraded = True
        view.notice = notice(
            failure.code,
            "Your remittance is accepted and will be sent "
            + (
                f"when maintenance ends at {failure.extra['maintenance']['ends_at']}."
                if failure.code == "MT001" and "maintenance" in failure.extra
                else "as soon as the network answers."
            ),
            failure.cause,
        )
        outbox.nudge()
    status = 201 if view.state == "sent" else 202
    return JSONResponse(view.model_dump(mode="json"), status, headers=headers)


@router.get(
    "/remittances",
    summary="The customer's latest remittances",
    responses=error_responses(429),
)
async def list_remittances(request: Request) -> RemittancesOut:
    customer = customer_of(request)
    rows = (
        bank_of(request)
        .db.conn.execute(
            "SELECT * FROM remittances WHERE customer_id = ? ORDER BY created_at DESC LIMIT 20",
            (customer,),
        )
        .fetchall()
    )
    return RemittancesOut(remittances=[_view(r) for r in rows])


@router.get(
    "/remittances/{remittance_id}",
    summary="One remittance and its state",
    responses=error_responses(404, 429),
)
async def get_remittance(remittance_id: str, request: Request) -> RemittanceOut:
    return _view(_row(bank_of(request), remittance_id, customer_of(request)))
