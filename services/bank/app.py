"""The bank service: the super-app backend users log in to."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel

from services.kit.app import create_app
from services.kit.auth import bearer_token, customer_of
from services.kit.config import ServiceConfig
from services.kit.dependencies import RequestBudget
from services.kit.errors import CauseLink, ServiceError
from services.kit.seed import OPENING_BALANCE_KRW, customer_ids, password_of
from services.kit.storage import Database

__all__ = ["build_app"]


class LoginIn(BaseModel):
    customer_id: str
    password: str


def build_app(config: ServiceConfig) -> FastAPI:
    async def startup(app: FastAPI) -> None:
        db = Database(config.data_dir / "bank.sqlite3")
        with db.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS customers"
                " (customer_id TEXT PRIMARY KEY, password TEXT NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY,"
                " customer_id TEXT NOT NULL, balance_krw INTEGER NOT NULL CHECK (balance_krw >= 0))"
            )
            if conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0:
                ids = customer_ids()
                conn.executemany(
                    "INSERT INTO customers VALUES (?, ?)", [(c, password_of(c)) for c in ids]
                )
                conn.executemany(
                    "INSERT INTO accounts VALUES (?, ?, ?)",
                    [(f"{c}-krw", c, OPENING_BALANCE_KRW) for c in ids],
                )
        app.state.db = db

    app = create_app(config, title="bank", user_facing=True, on_startup=startup)

    @app.post("/login", tags=["auth"])
    async def login(body: LoginIn, request: Request) -> dict[str, Any]:
        row = request.app.state.db.conn.execute(
            "SELECT password FROM customers WHERE customer_id = ?", (body.customer_id,)
        ).fetchone()
        if row is None or row["password"] != body.password:
            raise ServiceError("AU002")
        token: str = request.app.state.signer.issue(body.customer_id)
        result: dict[str, Any] = {"token": token, "customer_id": body.customer_id}
        if config.knobs.login_fetches_card:
            # The fragile design: the home screen's card widget is loaded before login answers.
            card = request.app.state.deps["card"]
            result["card"] = await card.call(
                "GET",
                "/cards/summary",
                token=token,
                budget=RequestBudget(config.knobs.request_budget_s),
            )
        return result

    @app.get("/accounts", tags=["accounts"])
    async def accounts(request: Request) -> dict[str, Any]:
        customer = customer_of(request)
        rows = request.app.state.db.conn.execute(
            "SELECT account_id, balance_krw FROM accounts WHERE customer_id = ?", (customer,)
        ).fetchall()
        return {"customer_id": customer, "accounts": [dict(r) for r in rows]}

    @app.get("/card-tab", tags=["card"])
    async def card_tab(request: Request) -> dict[str, Any]:
        customer_of(request)
        token = bearer_token(request)
        budget = RequestBudget(config.knobs.request_budget_s)
        deps = request.app.state.deps
        card_call = deps["card"].call("GET", "/cards/summary", token=token, budget=budget)
        pay_call = deps["pay"].call("GET", "/payments/recent", token=token, budget=budget)
        card: Any
        payments: Any
        card, payments = await asyncio.gather(card_call, pay_call, return_exceptions=True)
        if isinstance(card, BaseException) or isinstance(payments, BaseException):
            failed = card if isinstance(card, BaseException) else payments
            if not isinstance(failed, ServiceError):
                raise failed
            if config.knobs.truthful_codes:
                # Card features degrade with a clear code; accounts are untouched.
                raise ServiceError("CD001", [*failed.cause, CauseLink("bank", None, "degraded")])
            raise failed
        return {"card": card, "payments": payments["payments"]}

    return app
