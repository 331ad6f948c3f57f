"""The remittance outbox as bank's state holds it: a protocol, so context needs no remittance."""

from __future__ import annotations

from typing import Any, Protocol

from services.kit.budget import RequestBudget
from services.kit.errors import ServiceError

__all__ = ["Outbox"]


class Outbox(Protocol):
    """Sends pending remittances to the network, once each, around maintenance windows.

    :class:`~services.bank.remittance.RemittanceOutbox` is the implementation;
    ``Bank.outbox`` is typed with this protocol so that ``services.bank.context``
    does not import ``services.bank.remittance`` (which imports the context).
    """

    def start(self) -> None:
        """Start the background loop that retries what is still pending."""

    async def stop(self) -> None:
        """Stop the background loop."""

    def nudge(self) -> None:
        """Look for work now rather than at the next tick."""

    def refuse_if_in_window(self) -> None:
        """MT001 with the window's end while the network is known to be in maintenance."""

    async def send(
        self, remittance_id: str, budget: RequestBudget | None = None
    ) -> ServiceError | None:
        """One attempt to hand a pending remittance to the network; its failure, if any."""

    def snapshot(self) -> dict[str, Any]:
        """The outbox's counters and known maintenance windows, as JSON."""
