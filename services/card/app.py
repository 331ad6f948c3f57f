"""The card service: a card summary that includes points looked up from pay."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from services.kit.app import create_app
from services.kit.auth import bearer_token, customer_of
from services.kit.config import ServiceConfig
from services.kit.dependencies import RequestBudget
from services.kit.errors import ServiceError

__all__ = ["build_app"]


def build_app(config: ServiceConfig) -> FastAPI:
    app = create_app(config, title="card")
    points_cache: dict[str, int] = {}

    @app.get("/cards/summary", tags=["cards"])
    async def summary(request: Request) -> dict[str, Any]:
        customer = customer_of(request)
        pay = request.app.state.deps["pay"]
        budget = RequestBudget(config.knobs.request_budget_s)
        stale = False
        try:
            answer = await pay.call("GET", "/points", token=bearer_token(request), budget=budget)
            points = int(answer["points"])
            points_cache[customer] = points
        except ServiceError:
            if not config.knobs.card_points_cache or customer not in points_cache:
                raise
            points, stale = points_cache[customer], True
        return {
            "customer_id": customer,
            "cards": [{"card_id": f"{customer}-1", "brand": "domino", "last4": "0001"}],
            "points": points,
            "points_stale": stale,
        }

    return app
