"""The overseas remittance network: takes remittances from bank, once each.

A party outside the group, reached over the bank->remit edge. Every
remittance must carry an ``Idempotency-Key`` (bank uses its remittance id):
a repeated key gets the first answer back, so a sender that retries after a
lost answer never sends money twice. The network has maintenance windows
(see :mod:`services.remit.maintenance`) during which it answers MT001.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.kit.app import create_app
from services.kit.auth import customer_of
from services.kit.clock import iso_utc
from services.kit.config import ServiceConfig
from services.kit.errors import ServiceError
from services.kit.idempotency import (
    IDEMPOTENCY_SCHEMA,
    KEY_PATTERN,
    StoredAnswer,
    apply_once,
    replay_headers,
)
from services.kit.ids import new_id
from services.kit.models import RequestModel, Text, error_responses
from services.kit.storage import Database
from services.remit import maintenance
from services.remit.maintenance import MaintenanceSchedule

__all__ = ["build_app"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS remittances (remit_ref TEXT PRIMARY KEY, sender TEXT NOT NULL,"
    " remittance_id TEXT NOT NULL, amount_krw INTEGER NOT NULL, currency TEXT NOT NULL,"
    " amount_minor INTEGER NOT NULL, beneficiary TEXT NOT NULL, received_at REAL NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS remittances_by_id ON remittances (sender, remittance_id)",
    IDEMPOTENCY_SCHEMA,
    *maintenance.SCHEMA,
)

RequiredKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        max_length=128,
        description="Required: the sender's id for this remittance; repeats are answered once.",
    ),
]


class Beneficiary(RequestModel):
    name: Text = Field(min_length=1, max_length=70)
    account: str = Field(pattern=r"^[A-Za-z0-9]{4,34}$")
    country: str = Field(pattern=r"^[A-Z]{2}$")


class RemittanceIn(RequestModel):
    remittance_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    amount_krw: int = Field(ge=1, le=100_000_000)
    currency: Literal["USD", "EUR", "JPY"]
    amount_minor: int = Field(ge=1, le=10**10)
    beneficiary: Beneficiary


class RemittanceOut(BaseModel):
    remit_ref: str
    remittance_id: str
    sender: str
    amount_krw: int
    currency: str
    amount_minor: int
    state: Literal["accepted"]
    received_at: str


class WindowOut(BaseModel):
    id: str
    starts_at: str
    ends_at: str
    reason: str


class MaintenanceOut(BaseModel):
    now: str
    active: WindowOut | None
    windows: list[WindowOut]


class WindowIn(RequestModel):
    starts_in_s: float = Field(default=0.0, ge=0, le=7 * 86400)
    duration_s: float = Field(gt=0, le=7 * 86400)
    reason: Text = Field(default="system check", max_length=200)


def _view(row: Any) -> dict[str, Any]:
    return {
        "remit_ref": row["remit_ref"],
        "remittance_id": row["remittance_id"],
        "sender": row["sender"],
        "amount_krw": row["amount_krw"],
        "currency": row["currency"],
        "amount_minor": row["amount_minor"],
        "state": "accepted",
        "received_at": iso_utc(row["received_at"]),
    }


def build_app(config: ServiceConfig) -> FastAPI:
    box: dict[str, Any] = {}

    def db() -> Database:
        database: Database = box["db"]
        return database

    def schedule() -> MaintenanceSchedule:
        found: MaintenanceSchedule = box["schedule"]
        return found

    async def startup(app: FastAPI) -> None:
        box["db"] = Database(config.data_dir / "remit.sqlite3", SCHEMA)
        box["schedule"] = MaintenanceSchedule(box["db"])
        app.state.kit.holds.append(box["schedule"])

    async def shutdown(_app: FastAPI) -> None:
        db().close()

    async def invariants() -> dict[str, Any]:
        conn = db().conn
        totals = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(amount_krw), 0) FROM remittances"
        ).fetchone()
        by_sender = {
            str(r[0]): {"count": int(r[1]), "amount_krw": int(r[2])}
            for r in conn.execute(
                "SELECT sender, COUNT(*), SUM(amount_krw) FROM remittances GROUP BY sender"
            )
        }
        doubled = conn.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM remittances"
            " GROUP BY sender, remittance_id HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        violations = [f"{doubled} remittance ids were received more than once"] if doubled else []
        window = schedule().active()
        return {
            "service": "remit",
            "ok": not violations,
            "violations": violations,
            "accepted": {"count": int(totals[0]), "amount_krw": int(totals[1])},
            "by_sender": by_sender,
            "duplicate_remittance_ids": int(doubled),
            "pending": {},
            "maintenance": {
                "active": window is not None,
                "ends_at": iso_utc(window.ends_s) if window else None,
            },
        }

    app = create_app(
        config,
        title="remit",
        description=__doc__ or "",
        on_startup=startup,
        on_shutdown=shutdown,
    )
    app.state.kit.invariants = invariants
    app.state.kit.key_records = lambda: db().conn

    @app.post(
        "/remittances",
        tags=["remittances"],
        summary="Send a remittance (exactly once per Idempotency-Key)",
        status_code=201,
        response_model=RemittanceOut,
        responses=error_responses(409, 503),
    )
    async def send(
        body: RemittanceIn, request: Request, idempotency_key: RequiredKey
    ) -> JSONResponse:
        sender = customer_of(request)
        schedule().refuse_if_active("remit")

        def apply(conn: Any) -> StoredAnswer:
            earlier = conn.execute(
                "SELECT remit_ref FROM remittances WHERE sender = ? AND remittance_id = ?",
                (sender, body.remittance_id),
            ).fetchone()
            if earlier is not None:
                raise ServiceError(
                    "TX003",
                    message=f"Remittance {body.remittance_id} was already received"
                    f" ({earlier[0]}) under another Idempotency-Key.",
                )
            remit_ref = new_id("rr")
            conn.execute(
                "INSERT INTO remittances VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    remit_ref,
                    sender,
                    body.remittance_id,
                    body.amount_krw,
                    body.currency,
                    body.amount_minor,
                    json.dumps(body.beneficiary.model_dump()),
                    time.time(),
                ),
            )
            row = conn.execute(
                "SELECT * FROM remittances WHERE remit_ref = ?", (remit_ref,)
            ).fetchone()
            return StoredAnswer(201, _view(row))

        answer, replayed = apply_once(
            db(),
            caller=sender,
            key=idempotency_key,
            route="POST /remittances",
            payload=body.model_dump(),
            apply=apply,
        )
        return JSONResponse(answer.body, answer.status, headers=replay_headers(replayed))

    @app.get(
        "/remittances/{remit_ref}",
        tags=["remittances"],
        summary="One remittance the caller sent",
        responses=error_responses(404),
    )
    async def get_remittance(remit_ref: str, request: Request) -> RemittanceOut:
        row = (
            db()
            .conn.execute(
                "SELECT * FROM remittances WHERE remit_ref = ? AND sender = ?",
                (remit_ref, customer_of(request)),
            )
            .fetchone()
        )
        if row is None:
            raise ServiceError("RQ002", message=f"No remittance {remit_ref}.")
        return RemittanceOut(**_view(row))

    @app.get("/maintenance", tags=["maintenance"], summary="Current and announced windows")
    async def get_maintenance() -> MaintenanceOut:
        windows = [WindowOut(**w.as_json()) for w in schedule().windows()]
        active = schedule().active()
        return MaintenanceOut(
            now=iso_utc(time.time()),
            active=WindowOut(**active.as_json()) if active else None,
            windows=windows,
        )

    @app.post("/admin/maintenance", tags=["admin"], summary="Schedule a maintenance window")
    async def add_window(body: WindowIn) -> WindowOut:
        window = schedule().schedule(body.starts_in_s, body.duration_s, body.reason)
        return WindowOut(**window.as_json())

    @app.delete("/admin/maintenance", tags=["admin"], summary="Cancel every maintenance window")
    async def clear_windows() -> dict[str, int]:
        return {"removed": schedule().release_all()}

    return app
