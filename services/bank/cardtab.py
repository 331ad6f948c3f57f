"""The card tab: the card company's feature inside the bank app (bank -> card -> pay, bank -> pay).

It shows the customer's cards with their points (from card, which asks pay)
and recent payments (from pay). In the KB Pay incident this is the feature
that failed with NT004 after a long wait. With ``degrade_card_features``
it answers with whatever part arrived (``degraded: true`` and a CD001
notice naming the edge that failed), and with CD001 at once when nothing did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request

from services.bank.context import Bank, bank_of
from services.bank.models import CardTabOut, RecentPayment
from services.card.models import CardSummary
from services.kit.auth import bearer_token, customer_of
from services.kit.budget import RequestBudget
from services.kit.errors import CauseLink, ServiceError
from services.kit.models import Notice, error_responses, notice

__all__ = ["router"]

router = APIRouter(tags=["card"])


async def _fetch(
    bank: Bank, dep_name: str, path: str, token: str, budget: RequestBudget
) -> Any | ServiceError:
    """The dependency's answer, or the ServiceError it failed with."""
    try:
        return await bank.kit.dep(dep_name).call("GET", path, token=token, budget=budget)
    except ServiceError as failure:
        return failure


def _with_bank_hop(cause: Iterable[CauseLink], edge: str) -> list[CauseLink]:
    return [*cause, CauseLink("bank", edge, "degraded", "card tab answered without it")]


@router.get(
    "/card-tab",
    summary="Cards, points and recent payments (degrades when card or pay fails)",
    responses=error_responses(404, 429, 502, 503, 504),
)
async def card_tab(request: Request) -> CardTabOut:
    customer_of(request)
    bank = bank_of(request)
    token = bearer_token(request)
    budget = RequestBudget.for_request(bank.knobs, request.headers)
    card_edge, pay_edge = bank.kit.dep("card").edge, bank.kit.dep("pay").edge
    # One bulkhead slot per card-tab request: a hanging card or pay can hold at most
    # bulkhead_limit of bank's requests; the rest are told at once that the feature is busy.
    async with bank.kit.bulkheads.enter("card-tab", card_edge):
        card_result, pay_result = await asyncio.gather(
            _fetch(bank, "card", "/cards/summary", token, budget),
            _fetch(bank, "pay", "/payments/recent", token, budget),
        )
    if not bank.knobs.degrade_card_features:
        for result in (card_result, pay_result):
            if isinstance(result, ServiceError):
                raise result
    if isinstance(card_result, ServiceError) and isinstance(pay_result, ServiceError):
        raise ServiceError("CD001", _with_bank_hop(card_result.cause, card_edge))
    answer = CardTabOut(card=None, payments=None)
    reason: Notice | None = None
    if isinstance(card_result, ServiceError):
        reason = notice(
            "CD001",
            "Card details are unavailable right now; recent payments are shown.",
            _with_bank_hop(card_result.cause, card_edge),
        )
    else:
        answer.card = CardSummary.model_validate(card_result)
        summary_notice = answer.card.notice
        if answer.card.degraded and summary_notice is not None:
            chain = [CauseLink(**link.model_dump()) for link in summary_notice.cause]
            reason = notice(summary_notice.code, summary_notice.message, chain)
    if isinstance(pay_result, ServiceError):
        reason = reason or notice(
            "CD001",
            "Recent payments are unavailable right now.",
            _with_bank_hop(pay_result.cause, pay_edge),
        )
    else:
        answer.payments = [RecentPayment.model_validate(p) for p in pay_result["payments"]]
    if reason is not None:
        answer.degraded = True
        answer.notice = reason
    return answer
