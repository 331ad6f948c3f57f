"""User journeys: what a customer does, the SLO it is held to, and how it is driven.

A journey is a single HTTP call a real app makes on a user's behalf (log in,
open the card tab, ...), entered through the ``client->bank`` edge. Every call
is recorded as an :class:`Observation` so verdicts can be computed later.

Client-side codes follow the incident's app: ``NT003`` when the device could
not reach bank at all, ``NT004`` when bank was reached but did not answer in
time. Every other code comes from the service's error body.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "BANK_JOURNEYS",
    "DEFAULT_CUSTOMER",
    "Journey",
    "JourneyClient",
    "Observation",
    "Slo",
]

#: The seeded customer journeys log in as (services seed it on first start).
DEFAULT_CUSTOMER = ("c0001", "domino-c0001")


@dataclass(frozen=True, slots=True)
class Slo:
    """What a journey must achieve to count as healthy."""

    p95_ms: float
    success_rate: float = 0.99


@dataclass(frozen=True, slots=True)
class Journey:
    """One user action through the system.

    ``hard_deps`` are edges the journey cannot succeed without; ``soft_deps``
    are edges whose loss should only degrade it (in a well-built system).
    """

    name: str
    method: str
    path: str
    slo: Slo
    hard_deps: tuple[str, ...] = ()
    soft_deps: tuple[str, ...] = ()
    needs_login: bool = True
    json_body: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """One journey call as the user saw it.

    ``at_s`` is seconds since the observer's start (monotonic clock);
    ``status`` is None when no HTTP answer came back at all.
    """

    journey: str
    at_s: float
    latency_ms: float
    ok: bool
    status: int | None
    code: str | None = None
    cause: tuple[Mapping[str, Any], ...] = field(default=())
    degraded: bool = False


BANK_JOURNEYS: tuple[Journey, ...] = (
    Journey(
        "login",
        "POST",
        "/login",
        Slo(p95_ms=800),
        hard_deps=("client->bank",),
        soft_deps=("bank->card", "card->pay"),
        needs_login=False,
    ),
    Journey("balance", "GET", "/accounts", Slo(p95_ms=500), hard_deps=("client->bank",)),
    Journey(
        "card-tab",
        "GET",
        "/card-tab",
        Slo(p95_ms=1000),
        hard_deps=("client->bank",),
        soft_deps=("bank->card", "card->pay", "bank->pay"),
    ),
    Journey(
        "transfer",
        "POST",
        "/transfers",
        Slo(p95_ms=800),
        hard_deps=("client->bank",),
        json_body={"to_account": "c0100-krw", "amount_krw": 1000, "memo": "domino"},
    ),
    Journey(
        "remittance",
        "POST",
        "/remittances",
        Slo(p95_ms=1000),
        hard_deps=("client->bank",),
        soft_deps=("bank->remit",),
        json_body={
            "amount_krw": 10_000,
            "currency": "USD",
            "beneficiary": {"name": "Domino Test", "account": "US0000000001", "country": "US"},
        },
    ),
    Journey(
        "fx-order",
        "POST",
        "/fx/orders",
        Slo(p95_ms=800),
        hard_deps=("client->bank",),
        # One cent: a surge of thousands of orders must not drain the customers.
        json_body={"side": "buy", "currency": "USD", "amount_minor": 1},
    ),
    Journey(
        "fx-payment",
        "POST",
        "/fx/payments",
        Slo(p95_ms=800),
        hard_deps=("client->bank",),
        json_body={
            "currency": "USD",
            "amount_minor": 1,
            "merchant": "duty-free",
            "auto_exchange": True,
        },
    ),
)


class JourneyClient:
    """Drives journeys against bank's entry URL and records what the user saw.

    Each request opens a fresh connection, so a toxic with toxicity below 1
    on ``client->bank`` is drawn per request rather than per pooled connection.
    ``timeout_s`` is how long the app waits before showing NT004.
    """

    def __init__(
        self,
        entry_url: str,
        *,
        customer: tuple[str, str] = DEFAULT_CUSTOMER,
        timeout_s: float = 30.0,
        clock_origin_s: float | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=entry_url,
            timeout=timeout_s,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._customer = customer
        self._token: str | None = None
        self._origin_s = time.monotonic() if clock_origin_s is None else clock_origin_s

    def __enter__(self) -> JourneyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def rebase(self, clock_origin_s: float) -> None:
        """Measure ``Observation.at_s`` from a new origin (``time.monotonic()`` value)."""
        self._origin_s = clock_origin_s

    def _login_body(self) -> dict[str, str]:
        customer_id, password = self._customer
        return {"customer_id": customer_id, "password": password}

    def token(self) -> str:
        """A session token for the customer, logging in once if needed."""
        if self._token is None:
            response = self._http.post("/login", json=self._login_body())
            response.raise_for_status()
            self._token = str(response.json()["token"])
        return self._token

    def run(self, journey: Journey) -> Observation:
        """Make the journey's call once and return what the user saw."""
        headers = {}
        if journey.method == "POST" and journey.name != "login":
            # A fresh key per call: retries of one call are applied exactly once.
            headers["Idempotency-Key"] = uuid.uuid4().hex
        if journey.needs_login:
            headers["Authorization"] = f"Bearer {self.token()}"
        body: Mapping[str, Any] | None = journey.json_body
        if journey.name == "login":
            body = self._login_body()
        started = time.monotonic()
        at_s = started - self._origin_s
        try:
            response = self._http.request(journey.method, journey.path, headers=headers, json=body)
        except httpx.TimeoutException:
            return Observation(journey.name, at_s, _ms_since(started), False, None, "NT004")
        except httpx.TransportError:
            return Observation(journey.name, at_s, _ms_since(started), False, None, "NT003")
        latency_ms = _ms_since(started)
        payload = _json_or_none(response)
        if response.is_success:
            degraded = bool(isinstance(payload, dict) and payload.get("degraded"))
            notice = payload.get("notice") if isinstance(payload, dict) else None
            code = cause = None
            if isinstance(notice, dict):
                code = notice.get("code")
                cause = tuple(c for c in notice.get("cause", ()) if isinstance(c, dict))
            return Observation(
                journey.name,
                at_s,
                latency_ms,
                True,
                response.status_code,
                code,
                cause or (),
                degraded,
            )
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            cause = tuple(c for c in error.get("cause", ()) if isinstance(c, dict))
            return Observation(
                journey.name,
                at_s,
                latency_ms,
                False,
                response.status_code,
                str(error.get("code")),
                cause,
            )
        return Observation(journey.name, at_s, latency_ms, False, response.status_code)


def _ms_since(started_s: float) -> float:
    return (time.monotonic() - started_s) * 1000.0


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
