"""User journeys: what a user does, the SLO it is held to, and how it is driven.

A journey is one HTTP request a real app makes on a user's behalf (log in,
open the card tab, check out ...), entered through the topology's client
edge. Every call is recorded as an :class:`Observation` so verdicts can be
computed later. What an answer *means* (ok, degraded, error code, cause
chain) is the system adapter's to say (:mod:`harness.adapters`); a client-side
timeout and a failed connection get the adapter's ``timeout_code`` and
``unreachable_code`` (the bank's app: NT004 and NT003).

An answer the adapter calls ok is then judged by its body (:func:`body_problem`),
for every adapter: what the journey declares a good answer holds
(``expect_body``), and by default an answer cut off before its end, or an
empty or unreadable body whose ``Content-Type`` says JSON. Such an answer is
a failure with code ``BODY``; its reason is the first link of its cause,
``{"service": "client", "kind": "body: ..."}`` (the user's device found it),
which reports show as the code's origin.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from harness.errors import SessionError
from harness.infra.network_safety import safe_client
from harness.infra.templates import placeholders, render, render_json
from harness.model.outcomes import Answer, Observation
from harness.model.topology import CLIENT, BodyExpectation, Journey

if TYPE_CHECKING:
    from harness.contracts import SystemAdapter
    from harness.model.topology import Topology, User

__all__ = ["BODY_CODE", "JourneyClient", "body_problem"]

#: The code of an answer whose status was a success but whose body was not a good answer.
BODY_CODE = "BODY"
#: Statuses that carry no body (RFC 9110), so the default body checks skip them.
_NO_BODY = frozenset({204, 205, 304})


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
        keepalive: bool = False,
    ) -> None:
        # A connection per call by default: a toxic Toxiproxy draws per connection then
        # meets every call (harness.infra.network_safety.safe_client).
        self._http = safe_client(
            base_url=entry_url,
            timeout_s=timeout_s,
            allowed_hosts=allowed_hosts,
            keepalive=keepalive,
        )
        self._topology = topology
        self._adapter = adapter
        self.user = user or adapter.person(topology)
        self._session_headers: dict[str, str] | None = None
        self._session_answer: dict[str, str] = {}
        self._origin_s = time.monotonic() if clock_origin_s is None else clock_origin_s
        #: Called with each journey and what its call saw, as the call returns (the
        #: pytest plugin keeps them to explain a failing test).
        self.observer: Callable[[Journey, Observation], None] | None = None

    def __enter__(self) -> JourneyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def rebase(self, clock_origin_s: float) -> None:
        """Measure ``Observation.at_s`` from a new origin (``time.monotonic()`` value)."""
        self._origin_s = clock_origin_s

    def _values(self, user: User | None = None) -> dict[str, str]:
        user = user or self.user
        return {
            "uuid": uuid.uuid4().hex,
            "user.id": user.id,
            "user.password": user.password,
        }

    def session_headers(self) -> dict[str, str]:
        """The headers the user's session provides, starting it once if needed."""
        if self._topology.session is None:
            return {}
        if self._session_headers is None:
            self._session_headers, self._session_answer = self._start_session(self.user)
        return dict(self._session_headers)

    def session_headers_for(self, user: User) -> dict[str, str]:
        """The headers of a new session of ``user``, started over this client's connection;
        this client's own session stays as it is. (A flood logs its crowd in so, over one
        kept-alive connection: a connection each cost about 2 ms a customer.)"""
        if self._topology.session is None:
            return {}
        self._http.cookies.clear()  # one user's session cookie is not sent with another's login
        headers, _answer = self._start_session(user)
        return headers

    def _start_session(self, user: User) -> tuple[dict[str, str], dict[str, str]]:
        """Start ``user``'s session: the headers it provides, and its answer flattened."""
        session = self._topology.session
        assert session is not None
        values = self._values(user)
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
                f"could not start a session for {user.id} ({session.method} {session.path}): {exc}"
            ) from exc
        answer = _flatten(body, "body")
        return {k: render(v, answer) for k, v in session.provides.items()}, answer

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
        seen = self._call(journey)
        if self.observer is not None:
            self.observer(journey, seen)
        return seen

    def _call(self, journey: Journey) -> Observation:
        values = self._values()
        headers = {k: render(v, values) for k, v in journey.headers.items()}
        if journey.session:
            headers.update(self.session_headers())
        body = render_json(journey.json_body, values)
        started = time.monotonic()
        at_s = started - self._origin_s
        request = self._http.build_request(
            journey.method, render(journey.path, values), headers=headers, json=body
        )
        cut_off = False
        try:
            # Streamed, so an answer whose body is cut off still has its status.
            response = self._http.send(request, stream=True)
            try:
                content = response.read()
            except httpx.TimeoutException:
                raise
            except httpx.TransportError:
                content, cut_off = b"", True
            finally:
                response.close()
        except httpx.TimeoutException:
            code = self._adapter.timeout_code
            return Observation(journey.name, at_s, _ms_since(started), False, None, code)
        except httpx.TransportError:
            code = self._adapter.unreachable_code
            return Observation(journey.name, at_s, _ms_since(started), False, None, code)
        latency_ms = _ms_since(started)
        payload = None if cut_off else _json_or_none(content)
        answer = self._adapter.read_answer(journey, response.status_code, payload)
        if answer.ok:
            problem = body_problem(journey, response.status_code, response.headers, content)
            if cut_off:
                declared = response.headers.get("content-length")
                problem = "answer cut off before its end" + (
                    f" (Content-Length {declared})" if declared else ""
                )
            if problem is not None:
                cause = ({"service": CLIENT, "kind": f"body: {problem}"},)
                answer = Answer(False, BODY_CODE, cause)
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


def body_problem(
    journey: Journey, status: int, headers: Mapping[str, str], body: bytes
) -> str | None:
    """Why an answer the journey's status accepts is still not a good one, or None.

    What ``journey.expect_body`` declares is checked on every answer; by
    default (declared or not), an empty or unreadable body whose
    ``Content-Type`` says JSON is a problem, except on statuses that carry no
    body and on HEAD. ``headers`` is case-insensitive (httpx's).
    """
    expected = journey.expect_body
    says_json = _is_json_type(headers.get("content-type", ""))
    if expected is None:
        if not says_json or status in _NO_BODY or journey.method == "HEAD":
            return None
        expected = _A_JSON_DOCUMENT
    return (
        _length_problem(expected, body, says_json)
        or _json_problem(expected, body, says_json)
        or _text_problem(expected, body)
    )


#: What an answer whose Content-Type says JSON must be by default.
_A_JSON_DOCUMENT = BodyExpectation(json=True)


def _length_problem(expected: BodyExpectation, body: bytes, says_json: bool) -> str | None:
    if body:
        if len(body) < expected.min_bytes:
            return f"body shorter than {expected.min_bytes} bytes"
        return None
    if expected.wants_json or expected.min_bytes or expected.contains:
        return "empty body" + (", though its Content-Type says JSON" if says_json else "")
    return None


def _json_problem(expected: BodyExpectation, body: bytes, says_json: bool) -> str | None:
    if not (expected.wants_json or says_json):
        return None
    try:
        document = json.loads(body)
    except ValueError:  # also a body that is not UTF-8
        return "body is not JSON" + (", though its Content-Type says so" if says_json else "")
    for field in expected.has:
        found, value = _lookup(document, field)
        if not found or value is None:
            return f"JSON field {field!r} missing"
    for field, wanted in expected.equals.items():
        found, value = _lookup(document, field)
        if not found:
            return f"JSON field {field!r} missing"
        if not _same(wanted, value):
            return f"JSON field {field!r} is not {_shown(wanted)}"
    return None


def _text_problem(expected: BodyExpectation, body: bytes) -> str | None:
    text = body.decode("utf-8", errors="replace")
    for wanted in expected.contains:
        if wanted not in text:
            return f"body does not contain {_shown(wanted)}"
    return None


def _is_json_type(content_type: str) -> bool:
    """``application/json``, ``application/problem+json`` and the like."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _lookup(document: Any, field: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path in a JSON document; list items by index."""
    node = document
    for part in field.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _same(wanted: Any, got: Any) -> bool:
    """JSON equality: numbers as numbers, but ``true`` is never ``1``."""
    if isinstance(wanted, bool) or isinstance(got, bool):
        return isinstance(wanted, bool) and isinstance(got, bool) and wanted == got
    if isinstance(wanted, int | float) and isinstance(got, int | float):
        return wanted == got
    if isinstance(wanted, dict):
        return (
            isinstance(got, dict)
            and wanted.keys() == got.keys()
            and all(_same(wanted[k], got[k]) for k in wanted)
        )
    if isinstance(wanted, list):
        return (
            isinstance(got, list)
            and len(wanted) == len(got)
            and all(_same(w, g) for w, g in zip(wanted, got, strict=True))
        )
    return type(wanted) is type(got) and wanted == got


def _shown(value: Any) -> str:
    """A value as the journey's file writes it, short enough for one line of a report."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else f"{text[:57]}..."


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


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None
