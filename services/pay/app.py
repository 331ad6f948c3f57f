"""The pay service: card-point balances per customer."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from services.kit.app import create_app
from services.kit.auth import customer_of
from services.kit.config import ServiceConfig
from services.kit.errors import ServiceError
from services.kit.seed import customer_ids
from services.kit.storage import Database

__all__ = ["build_app"]


def build_app(config: ServiceConfig) -> FastAPI:
    async def startup(app: FastAPI) -> None:
        db = Database(config.data_dir / "pay.sqlite3")
        with db.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS points"
                " (customer_id TEXT PRIMARY KEY, points INTEGER NOT NULL)"
            )
            if conn.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 0:
                conn.executemany(
                    "INSERT INTO points VALUES (?, ?)",
                    [(cid, 1000 + n * 7) for n, cid in enumerate(customer_ids())],
                )
        app.state.db = db

    app = create_app(config, title="pay", on_startup=startup)

    @app.get("/points", tags=["points"])
    async def points(request: Request) -> dict[str, Any]:
        customer = customer_of(request)
        row = request.app.state.db.conn.execute(
            "SELECT points FROM points WHERE customer_id = ?", (customer,)
        ).fetchone()
        if row is None:
            raise ServiceError("RQ002", message=f"No point balance for {customer}.")
        return {"customer_id": customer, "points": row["points"]}

    @app.get("/payments/recent", tags=["payments"])
    async def recent_payments(request: Request) -> dict[str, Any]:
        customer = customer_of(request)
        return {"customer_id": customer, "payments": []}

    return app
