"""The card service: a customer's cards, their points (looked up from pay), a summary.

See :mod:`services.card.book` for where points come from. With
``degrade_card_features`` a summary whose points are unavailable still
answers with the cards and ``points: null`` (degraded, with a CD001 notice
naming card->pay), and a points lookup fails with CD001 at once. In the
fragile profile a pay failure fails the lookup, after however long pay took.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from services.card.book import SCHEMA, CardBook, Points, callers_fault
from services.card.models import CardsOut, CardSummary, PointsOut
from services.kit.app import create_app
from services.kit.auth import customer_of
from services.kit.clock import iso_utc
from services.kit.config import ServiceConfig
from services.kit.errors import CauseLink, ServiceError
from services.kit.models import Notice, error_responses, notice
from services.kit.storage import Database

__all__ = ["build_app"]


def _stale_notice(found: Points) -> Notice | None:
    if found.failure is None:
        return None
    return notice(
        "CD001", "Card points are from an earlier lookup: pay did not answer.", found.failure.cause
    )


def _book(request: Request) -> CardBook:
    book: CardBook = request.app.state.book
    return book


def build_app(config: ServiceConfig) -> FastAPI:
    knobs = config.knobs

    async def startup(app: FastAPI) -> None:
        book = CardBook(Database(config.data_dir / "card.sqlite3", SCHEMA), app.state.kit)
        app.state.book = book

        async def invariants() -> dict[str, Any]:
            return {"service": "card", "ok": True, "violations": [], **book.counts(), "pending": {}}

        app.state.kit.invariants = invariants

    async def shutdown(app: FastAPI) -> None:
        app.state.book.db.close()

    app = create_app(
        config, title="card", description=__doc__ or "", on_startup=startup, on_shutdown=shutdown
    )

    @app.get("/cards", tags=["cards"], summary="The customer's cards")
    async def cards(request: Request) -> CardsOut:
        customer = customer_of(request)
        return CardsOut(customer_id=customer, cards=_book(request).cards_of(customer))

    @app.get(
        "/cards/points",
        tags=["cards"],
        summary="Card points (from pay; the last value seen when pay does not answer)",
        responses=error_responses(404, 429, 502, 503, 504),
    )
    async def card_points(request: Request) -> PointsOut:
        customer = customer_of(request)
        try:
            found = await _book(request).points_of(request, customer)
        except ServiceError as failure:
            if not knobs.degrade_card_features or callers_fault(failure):
                raise
            raise ServiceError(
                "CD001",
                [*failure.cause, CauseLink("card", None, "no_cached_points")],
                message="Card points are unavailable: pay did not answer and none are cached.",
            ) from None
        return PointsOut(
            customer_id=customer,
            points=found.points,
            points_stale=found.stale,
            points_as_of=iso_utc(found.as_of_s),
            degraded=found.stale,
            notice=_stale_notice(found),
        )

    @app.get(
        "/cards/summary",
        tags=["cards"],
        summary="Cards with their points (partial when pay does not answer)",
        responses=error_responses(404, 429, 502, 503, 504),
    )
    async def summary(request: Request) -> CardSummary:
        customer = customer_of(request)
        book = _book(request)
        try:
            found = await book.points_of(request, customer)
        except ServiceError as failure:
            if not knobs.degrade_card_features or callers_fault(failure):
                raise
            return CardSummary(
                customer_id=customer,
                cards=book.cards_of(customer),
                points=None,
                points_stale=False,
                degraded=True,
                notice=notice(
                    "CD001", "Card points are unavailable: pay did not answer.", failure.cause
                ),
            )
        return CardSummary(
            customer_id=customer,
            cards=book.cards_of(customer),
            points=found.points,
            points_stale=found.stale,
            points_as_of=iso_utc(found.as_of_s),
            degraded=found.stale,
            notice=_stale_notice(found),
        )

    return app
