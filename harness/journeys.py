"""User journeys: what a user does, the SLO it is held to, and how it is driven.

A journey is one HTTP request a real app makes on a user's behalf (log in,
open the card tab, check out ...), entered through the topology's client
edge. Every call is recorded as an :class:`Observation` so verdicts can be
computed later. What an answer *means* (ok, degraded, error code, cause
chain) is the system adapter's to say (:mod:`harness.adapters`); a client-side
timeout and a failed connection get the adapter's ``timeout_code`` and
``unreachable_code`` (the bank's app: NT004 and NT003).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from harness.errors import SessionError
from harness.infra.network_safety import safe_client
from harness.infra.templates import placeholders, render, render_json
from harness.model.outcomes import Observation
from harness.model.topology import Journey

if TYPE_CHECKING:
    from harness.contracts import SystemAdapter
    from harness.model.topology import Topology, User

__all__ = ["JourneyClient"]


class JourneyClient:
    """Drives journeys against a stack's entry URL, as one user, and records what they saw.

    Each request opens a fresh connection, so a toxic with toxicity below 1
    on the client edge is drawn per request rather than per pooled
    connection. ``timeout_s`` is how long the user's app waits before giving
    up (the adapter's ``timeout_code``). Every request's target is checked
    against the allow-list (:func:`harness.network_safety.safe_client`).
    """

    def __init__(
        self,
        entry_url: str,
        topology: Topology,
        adapter: SystemAdapter,
        *,
        user: User | None = None,
        timeout_s: float = 30.0,
        clock_origin_s: float | None = None,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self._http = safe_client(
            base_url=entry_url, timeout_s=timeout_s, allowed_hosts=allowed_hosts, keepalive=False
        )
        self._topology = topology
        self._adapter = adapter
        self.user = user or adapter.person(topology)
        self._session_headers: dict[str, str] | None = None
        self._session_answer: dict[str, str] = {}
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

    def _values(self) -> dict[str, str]:
        return {
            "uuid": uuid.uuid4().hex,
            "user.id": self.user.id,
            "user.password": self.user.password,
        }

    def session_headers(self) -> dict[str, str]:
        """The headers the user's session provides, starting it once if needed."""
        session = self._topology.session
        if session is None:
            return {}
        if self._session_headers is None:
            values = self._values()
            try:
                response = self._http.request(
                    session.method,
                    render(session.path, values),
                    headers={k: render(v, values) for k, v in session.headers.items()},
                    json=render_json(session.json_body, values),
                )
                response.raise_for_status()
                body = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SessionError(
                    f"could not start a session for {self.user.id} "
                    f"({session.method} {session.path}): {exc}"
                ) from exc
            answer = _flatten(body, "body")
            self._session_headers = {k: render(v, answer) for k, v in session.provides.items()}
            self._session_answer = answer
        return dict(self._session_headers)

    def token(self) -> str:
        """Start the user's session now (before faults) and return its credential.

        The credential is the answer's field the first ``provides`` header is
        made from (the bank: ``token`` of ``Bearer {body.token}``); empty for
        a topology without a session.
        """
        headers = self.session_headers()
        session = self._topology.session
        if session is None or not headers:
            return ""
        first = next(iter(session.provides.values()))
        fields = [name for name in placeholders(first) if name in self._session_answer]
        return self._session_answer[fields[0]] if fields else next(iter(headers.values()))

    def run(self, journey: Journey) -> Observation:
        """Make the journey's call once and return what the user saw."""
        values = self._values()
        headers = {k: render(v, values) for k, v in journey.headers.items()}
        if journey.session:
            headers.update(self.session_headers())
        body = render_json(journey.json_body, values)
        started = time.monotonic()
        at_s = started - self._origin_s
        try:
            response = self._http.request(
                journey.method, render(journey.path, values), headers=headers, json=body
            )
        except httpx.TimeoutException:
            code = self._adapter.timeout_code
            return Observation(journey.name, at_s, _ms_since(started), False, None, code)
        except httpx.TransportError:
            code = self._adapter.unreachable_code
            return Observation(journey.name, at_s, _ms_since(started), False, None, code)
        latency_ms = _ms_since(started)
        answer = self._adapter.read_answer(journey, response.status_code, _json_or_none(response))
        return Observation(
            journey.name,
            at_s,
            latency_ms,
            answer.ok,
            response.status_code,
            answer.code,
            answer.cause,
            answer.degraded,
        )


def _flatten(value: Any, prefix: str) -> dict[str, str]:
    """``{"a": {"b": 1}}`` as ``{"body.a.b": "1"}``, for ``{body.a.b}`` placeholders."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}"))
    elif not isinstance(value, list):
        out[prefix] = "" if value is None else str(value)
    return out


def _ms_since(started_s: float) -> float:
    return (time.monotonic() - started_s) * 1000.0


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
