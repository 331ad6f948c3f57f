"""The pay service (KB Pay's role): pay login, card-point balances, payments.

Payments are authorised then captured (or voided), each applied exactly once:
authorisation honours ``Idempotency-Key``; capture and void are idempotent by
the payment's state. Points are what card looks up for bank's card tab and
the combined savings product, which is how a pay outage reached bank.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from services.kit.app import create_app, kit_of
from services.kit.auth import customer_of, password_digest
from services.kit.config import ServiceConfig
from services.kit.errors import ServiceError
from services.kit.idempotency import StoredAnswer, apply_once, check_key, replay_headers
from services.kit.models import IdempotencyKey, error_responses
from services.kit.storage import Database
from services.pay import ledger
from services.pay.models import AuthoriseIn, LoginIn, LoginOut, Payment, PaymentsOut, PointsOut

__all__ = ["build_app"]

_TOKEN_TTL_S = 3600


def build_app(config: ServiceConfig) -> FastAPI:
    db_box: dict[str, Database] = {}

    def db() -> Database:
        return db_box["db"]

    async def startup(_app: FastAPI) -> None:
        database = Database(config.data_dir / "pay.sqlite3", ledger.SCHEMA)
        with database.transaction() as conn:
            ledger.seed(conn)
        db_box["db"] = database

    async def shutdown(_app: FastAPI) -> None:
        db().close()

    async def invariants() -> dict[str, Any]:
        report = ledger.invariants(db().conn)
        return {"service": "pay", "ok": not report["violations"], **report}

    app = create_app(
        config,
        title="pay",
        description=__doc__ or "",
        public_paths=("/login",),
        on_startup=startup,
        on_shutdown=shutdown,
    )
    app.state.kit.invariants = invariants
    app.state.kit.key_records = lambda: db().conn

    @app.post("/login", tags=["auth"], summary="Log in to pay", responses=error_responses(401))
    async def login(body: LoginIn, request: Request) -> LoginOut:
        row = (
            db()
            .conn.execute(
                "SELECT password_digest FROM customers WHERE customer_id = ?", (body.customer_id,)
            )
            .fetchone()
        )
        if row is None or row[0] != password_digest(body.customer_id, body.password):
            raise ServiceError("AU002")
        token = kit_of(request).signer.issue(body.customer_id)
        return LoginOut(token=token, customer_id=body.customer_id, expires_in_s=_TOKEN_TTL_S)

    @app.get(
        "/points", tags=["points"], summary="Card-point balance", responses=error_responses(404)
    )
    async def points(request: Request) -> PointsOut:
        customer = customer_of(request)
        row = (
            db()
            .conn.execute("SELECT points FROM points WHERE customer_id = ?", (customer,))
            .fetchone()
        )
        if row is None:
            raise ServiceError("RQ002", message=f"No point balance for {customer}.")
        return PointsOut(customer_id=customer, points=row[0])

    @app.get("/payments/recent", tags=["payments"], summary="The customer's latest payments")
    async def recent_payments(
        request: Request, limit: int = Query(default=10, ge=1, le=100)
    ) -> PaymentsOut:
        customer = customer_of(request)
        conn = db().conn
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT payment_id FROM payments WHERE customer_id = ?"
                " ORDER BY created_at DESC LIMIT ?",
                (customer, limit),
            )
        ]
        return PaymentsOut(
            customer_id=customer,
            payments=[Payment(**ledger.view(conn, pid, customer)) for pid in ids],
        )

    @app.post(
        "/payments",
        tags=["payments"],
        summary="Authorise a payment (hold the amount on the credit line)",
        status_code=201,
        response_model=Payment,
        responses=error_responses(409),
    )
    async def authorise(
        body: AuthoriseIn, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        customer = customer_of(request)
        key = check_key(idempotency_key)

        def apply(conn: Any) -> StoredAnswer:
            payment_id = ledger.authorise(conn, customer, body.merchant, body.amount_krw)
            return StoredAnswer(201, ledger.view(conn, payment_id, customer))

        answer, replayed = apply_once(
            db(),
            caller=customer,
            key=key,
            route="POST /payments",
            payload=body.model_dump(),
            apply=apply,
        )
        return JSONResponse(answer.body, answer.status, headers=replay_headers(replayed))

    @app.get(
        "/payments/{payment_id}",
        tags=["payments"],
        summary="One payment",
        responses=error_responses(404),
    )
    async def get_payment(payment_id: str, request: Request) -> Payment:
        return Payment(**ledger.view(db().conn, payment_id, customer_of(request)))

    @app.post(
        "/payments/{payment_id}/capture",
        tags=["payments"],
        summary="Capture an authorised payment (idempotent)",
        responses=error_responses(404, 409),
    )
    async def capture(payment_id: str, request: Request) -> Payment:
        customer = customer_of(request)
        with db().transaction() as conn:
            ledger.capture(conn, payment_id, customer)
            return Payment(**ledger.view(conn, payment_id, customer))

    @app.post(
        "/payments/{payment_id}/void",
        tags=["payments"],
        summary="Void an authorised payment, releasing the hold (idempotent)",
        responses=error_responses(404, 409),
    )
    async def void(payment_id: str, request: Request) -> Payment:
        customer = customer_of(request)
        with db().transaction() as conn:
            ledger.void(conn, payment_id, customer)
            return Payment(**ledger.view(conn, payment_id, customer))

    return app
