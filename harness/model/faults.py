"""The fault vocabulary: typed values, addressed by edge or service, never by port.

A fault is a description; :mod:`harness.injection` applies it in a scope that
always removes it. Kinds:

- toxics on an edge (Toxiproxy): :class:`Latency`, :class:`Timeout`,
  :class:`ResetPeer`, :class:`Bandwidth`, :class:`SlowClose`, :class:`Slicer`,
  :class:`LimitData`;
- HTTP faults on an edge, per request (Domino's Toxiproxy server only):
  :class:`HttpStatus` (answer a status without passing the request on),
  :class:`HttpAbort` (close the connection before or after the target got the
  request), :class:`HttpDelay` (hold the request), :class:`HttpBody` (break
  the answer's body);
- an edge going down: :class:`Down` (on Domino's Toxiproxy server the proxy
  keeps listening and refuses, counting, every connection that tries to
  cross; on a stock server the proxy is disabled);
- application faults Toxiproxy cannot make, through a service's admin API:
  :class:`HttpError` (answer 500/503 for a share of requests), :class:`SlowHandler`,
  and operator levers: :class:`Maintenance` (a window that ends by itself),
  :class:`Suspend` (a feature's kill switch);
- load: :class:`Surge` (extra closed-loop users on one journey, applied by the
  run) and :class:`Flood` (open-loop arrivals in the crypto-crash shape from
  :mod:`harness.loadgen`, with client retries, applied by the run);
- whole-service faults applied by the backend: :class:`Crash`, :class:`Stop`,
  :class:`Pause`, :class:`Restart`.

New kinds (load surges, container crashes) are new classes with an applier;
nothing that consumes faults needs to change. :func:`build_fault` makes a
fault from loose fields (a spec file, the CLI) with one-line errors.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from harness.errors import FaultSpecError
from harness.model.topology import Topology

__all__ = [
    "FAULT_KINDS",
    "SERVICE_MAX_DELAY_MS",
    "TOXIPROXY_MAX_MS",
    "Bandwidth",
    "Crash",
    "Down",
    "EdgeFault",
    "Fault",
    "Flood",
    "HttpAbort",
    "HttpBody",
    "HttpDelay",
    "HttpError",
    "HttpFault",
    "HttpStatus",
    "Latency",
    "LimitData",
    "Maintenance",
    "OnService",
    "Pause",
    "ProcessFault",
    "ResetPeer",
    "Restart",
    "ServiceFault",
    "Slicer",
    "SlowClose",
    "SlowHandler",
    "Surge",
    "Timeout",
    "ToxicFault",
    "build_fault",
    "fault_kind",
]

Stream = Literal["upstream", "downstream"]
_STREAMS = ("upstream", "downstream")


#: The most milliseconds a stock Toxiproxy toxic takes: Toxiproxy (v2.12.0) multiplies a
#: toxic's milliseconds into a Go ``time.Duration`` (int64 nanoseconds), e.g.
#: ``time.Duration(delay) * time.Millisecond`` in toxics/latency.go; past this it
#: overflows, and a latency that overflowed added no delay at all. About 292 years.
TOXIPROXY_MAX_MS = (2**63 - 1) // 1_000_000

#: What the services' admin API accepts (services/kit/admin.py ``FaultRuleIn``): a slow
#: handler's delay of at most 10 minutes and a route of at most 200 characters.
SERVICE_MAX_DELAY_MS = 600_000
SERVICE_MAX_ROUTE_CHARS = 200
#: What a maintenance window or a kill switch takes (services/remit/app.py, services/bank/
#: models.py): at most 7 days, a reason of at most 200 characters.
SERVICE_MAX_WINDOW_S = 7 * 86_400
SERVICE_MAX_REASON_CHARS = 200


def _at_most(owner: object, name: str, maximum: int, why: str) -> None:
    """``owner.name`` (a number already checked) is at most ``maximum``; ``why`` says whose
    limit it is."""
    value = getattr(owner, name)
    if value > maximum:
        raise FaultSpecError(
            f"{type(owner).__name__}.{name} must be at most {maximum:,} ({why}), got {value!r}",
            field=name,
        )


def _short_text(owner: object, name: str, maximum: int) -> None:
    value = getattr(owner, name)
    if isinstance(value, str) and len(value) > maximum:
        raise FaultSpecError(
            f"{type(owner).__name__}.{name} must be at most {maximum} characters "
            f"(the services' admin API takes no more), got {len(value)}",
            field=name,
        )


_TOXIPROXY_MS = "Toxiproxy's limit: more overflows its int64 nanoseconds"


def _non_negative(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FaultSpecError(
                f"{type(owner).__name__}.{name} must be a number, got {value!r}", field=name
            )
        if isinstance(value, int) and value > 2**53:
            raise FaultSpecError(
                f"{type(owner).__name__}.{name} is too large: at most 2**53", field=name
            )
        if not math.isfinite(value) or value < 0:
            raise FaultSpecError(
                f"{type(owner).__name__}.{name} must be >= 0, got {value!r}", field=name
            )


#: Every fault kind by name; each kind registers itself with :func:`fault_kind`.
FAULT_KINDS: dict[str, type[Fault]] = {}

_F = TypeVar("_F", bound="type[Fault]")


def fault_kind(cls: _F) -> _F:
    """Class decorator: make ``cls`` buildable by its ``kind`` name (specs, the CLI)."""
    if cls.kind in FAULT_KINDS:
        raise TypeError(f"fault kind {cls.kind!r} is registered twice")
    FAULT_KINDS[cls.kind] = cls
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """Base of every fault."""

    kind: ClassVar[str] = "fault"
    #: Applied by the process that owns the stack (its processes, containers or
    #: users), so a process attached to someone else's stack cannot apply it.
    needs_owner: ClassVar[bool] = False

    def describe(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.kind}({fields})"

    @property
    def target(self) -> str:
        """Where the fault is, in words: an edge, a service, or the load it sends."""
        return ""

    @property
    def faulted_edge(self) -> str | None:
        """The edge this fault breaks, if it breaks one."""
        return None

    @property
    def faulted_service(self) -> str | None:
        """The service this fault breaks, if it breaks one."""
        return None

    def places(self, topology: Topology) -> tuple[str, ...]:
        """The edges whose traffic shows the fault was met: its own edge, or every
        edge into its service; load enters through the client edge."""
        if self.faulted_edge is not None:
            return (self.faulted_edge,)
        service = self.faulted_service
        return tuple(e.name for e in topology.edges if e.target == service)

    def ramped(self, fraction: float) -> Fault | None:
        """This fault at ``fraction`` of its strength, or None if it cannot ramp."""
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeFault(Fault):
    """A fault on one dependency edge, e.g. ``edge="card->pay"``."""

    edge: str

    @property
    def target(self) -> str:
        return self.edge

    @property
    def faulted_edge(self) -> str | None:
        return self.edge

    def __post_init__(self) -> None:
        if not isinstance(self.edge, str) or "->" not in self.edge:
            raise FaultSpecError(
                f"{type(self).__name__}.edge must name an edge like 'card->pay', got {self.edge!r}",
                field="edge",
            )


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Down(EdgeFault):
    """The edge is down: nothing crosses it while the fault is held.

    On Domino's Toxiproxy server every connection that tries to send through
    the edge is closed at once and counted (the evidence that something tried
    to cross); on a stock server the proxy is disabled: connections are
    refused and open ones dropped.
    """

    kind: ClassVar[str] = "down"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicFault(EdgeFault):
    """A Toxiproxy toxic on an edge.

    ``stream`` is ``downstream`` (server -> client, the default) or
    ``upstream`` (client -> server). ``toxicity`` is the share of TCP
    *connections* affected, in (0, 1]: Toxiproxy draws it per connection,
    not per request.

    ``toxic_type`` is the stock Toxiproxy toxic that makes the fault ("" if
    none does); ``domino_toxic_type`` is Domino's own that makes it better,
    used where the server has it (:meth:`toxic_for`). Both take the same
    attributes (:meth:`toxiproxy_attributes`).
    """

    toxic_type: ClassVar[str] = ""
    domino_toxic_type: ClassVar[str] = ""
    stream: Stream = "downstream"
    toxicity: float = 1.0

    def __post_init__(self) -> None:
        EdgeFault.__post_init__(self)
        if self.stream not in _STREAMS:
            raise FaultSpecError(
                f"{type(self).__name__}.stream must be 'upstream' or 'downstream', "
                f"got {self.stream!r}",
                field="stream",
            )
        toxicity = self.toxicity
        if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
            raise FaultSpecError(
                f"{type(self).__name__}.toxicity must be a number in (0, 1]", field="toxicity"
            )
        # Toxicity 0 is refused, not sent: Toxiproxy has applied such toxics anyway.
        if not 0 < toxicity <= 1:
            raise FaultSpecError(
                f"{type(self).__name__}.toxicity must be in (0, 1], got {toxicity!r}; "
                "to apply no fault, do not add one",
                field="toxicity",
            )

    def toxiproxy_attributes(self) -> Mapping[str, object]:
        """The toxic's attributes in Toxiproxy's names and units (JSON values)."""
        raise NotImplementedError

    @classmethod
    def toxic_for(cls, domino_toxics: Collection[str]) -> str | None:
        """The toxic type that makes this kind of fault on a server that has
        ``domino_toxics`` (Domino's own toxic types; empty for a stock server),
        or None if none can."""
        if cls.domino_toxic_type and cls.domino_toxic_type in domino_toxics:
            return cls.domino_toxic_type
        return cls.toxic_type or None


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Latency(ToxicFault):
    """Adds ``latency_ms`` (+/- ``jitter_ms``) to data on the stream."""

    kind: ClassVar[str] = "latency"
    toxic_type: ClassVar[str] = "latency"
    latency_ms: int
    jitter_ms: int = 0

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        _non_negative(self, "latency_ms", "jitter_ms")
        _at_most(self, "latency_ms", TOXIPROXY_MAX_MS, _TOXIPROXY_MS)
        # Toxiproxy adds up to the jitter to the latency before converting it.
        if self.latency_ms + self.jitter_ms > TOXIPROXY_MAX_MS:
            raise FaultSpecError(
                f"Latency.latency_ms + jitter_ms must be at most {TOXIPROXY_MAX_MS:,} "
                f"({_TOXIPROXY_MS}), got {self.latency_ms!r} + {self.jitter_ms!r}",
                field="jitter_ms",
            )

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {"latency": int(self.latency_ms), "jitter": int(self.jitter_ms)}

    def ramped(self, fraction: float) -> Latency:
        return dataclasses.replace(self, latency_ms=round(self.latency_ms * fraction))


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout(ToxicFault):
    """Stops all data: the caller waits with no answer; ``timeout_ms`` > 0 closes the
    connection after that long (0: held until the fault ends, which closes it).

    On Domino's server (toxic ``domino_hang``) the hold lasts whatever the
    other side does, and ``timeout_ms`` counts from the start of the hold on
    each connection. Stock Toxiproxy's ``timeout`` closes the caller's side as
    soon as the server closes its own (servers that close after each answer,
    HTTP/1.0 style, then give a fast error, not a hang) and counts
    ``timeout_ms`` from the last data seen.
    """

    kind: ClassVar[str] = "timeout"
    toxic_type: ClassVar[str] = "timeout"
    domino_toxic_type: ClassVar[str] = "domino_hang"
    timeout_ms: int = 0

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        _non_negative(self, "timeout_ms")
        _at_most(self, "timeout_ms", TOXIPROXY_MAX_MS, _TOXIPROXY_MS)

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {"timeout": int(self.timeout_ms)}


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class ResetPeer(ToxicFault):
    """Resets connections (TCP RST) after ``timeout_ms``."""

    kind: ClassVar[str] = "reset_peer"
    toxic_type: ClassVar[str] = "reset_peer"
    timeout_ms: int = 0

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        _non_negative(self, "timeout_ms")
        _at_most(self, "timeout_ms", TOXIPROXY_MAX_MS, _TOXIPROXY_MS)

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {"timeout": int(self.timeout_ms)}


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Bandwidth(ToxicFault):
    """Limits the stream to ``rate_kb_per_s`` kilobytes per second (at least 1).

    0 is refused: Toxiproxy 2.12.0's bandwidth toxic at rate 0 does not limit
    anything, it loops sending empty chunks every 100 ms and never the data
    (``toxics/bandwidth.go``), a hang by accident. Holding traffic is what
    ``timeout`` with ``timeout_ms: 0`` (or ``down``) is for, judged as a hang.
    """

    kind: ClassVar[str] = "bandwidth"
    toxic_type: ClassVar[str] = "bandwidth"
    rate_kb_per_s: int

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        _non_negative(self, "rate_kb_per_s")
        if self.rate_kb_per_s < 1:
            raise FaultSpecError(
                f"Bandwidth.rate_kb_per_s must be at least 1, got {self.rate_kb_per_s!r} "
                "(at 0 Toxiproxy never passes the data on); to hold traffic use "
                "fault: timeout with timeout_ms: 0, or down",
                field="rate_kb_per_s",
            )

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {"rate": int(self.rate_kb_per_s)}


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class SlowClose(ToxicFault):
    """Delays the TCP close by ``delay_ms``."""

    kind: ClassVar[str] = "slow_close"
    toxic_type: ClassVar[str] = "slow_close"
    delay_ms: int

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        _non_negative(self, "delay_ms")
        _at_most(self, "delay_ms", TOXIPROXY_MAX_MS, _TOXIPROXY_MS)

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {"delay": int(self.delay_ms)}


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Slicer(ToxicFault):
    """Slices data into packets of about ``average_size_bytes``, ``delay_us`` apart."""

    kind: ClassVar[str] = "slicer"
    toxic_type: ClassVar[str] = "slicer"
    average_size_bytes: int
    size_variation_bytes: int = 0
    delay_us: int = 0

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        # delay_us: the 2**53 every number is held to is below Toxiproxy's (2**63 - 1) // 1000.
        _non_negative(self, "average_size_bytes", "size_variation_bytes", "delay_us")
        if self.size_variation_bytes > self.average_size_bytes:
            raise FaultSpecError(
                "Slicer.size_variation_bytes must not exceed average_size_bytes",
                field="size_variation_bytes",
            )

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {
            "average_size": int(self.average_size_bytes),
            "size_variation": int(self.size_variation_bytes),
            "delay": int(self.delay_us),
        }


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class LimitData(ToxicFault):
    """Closes the connection once ``limit_bytes`` have passed."""

    kind: ClassVar[str] = "limit_data"
    toxic_type: ClassVar[str] = "limit_data"
    limit_bytes: int

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        _non_negative(self, "limit_bytes")

    def toxiproxy_attributes(self) -> dict[str, int]:
        return {"bytes": int(self.limit_bytes)}


_HTTP_METHOD = re.compile(r"[A-Z]{1,20}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
_MAX_SEED = 2**53


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpFault(ToxicFault):
    """An HTTP fault on an edge, per request: Domino's Toxiproxy server reads the
    requests crossing the edge (HTTP/1.x, several per kept-alive connection) and
    acts on ``share`` of those that match, drawn per request.

    ``method`` (``POST``), ``path`` (a prefix, ``/pay``, or a glob with ``*`` and
    ``?``, ``/users/*/cards``, where ``*`` crosses ``/``) and ``header``
    (``X-Canary`` present, or ``X-Journey: pay*`` matching) narrow the requests;
    empty: any. ``seed`` fixes the draws: the k-th matching request gets the
    k-th draw, so the same calls in the same order meet the same faults in every
    run. Requests, and bytes that are not HTTP, that the fault does not take pass
    untouched. A stock Toxiproxy server has no HTTP faults: they are refused
    there before anything is applied.

    ``stream`` is always ``upstream`` (the requests) and ``toxicity`` always 1:
    Toxiproxy's toxicity draws per connection, ``share`` per request.
    """

    #: The fault's answers are written by a companion toxic on the downstream stream.
    needs_answers: ClassVar[bool] = True
    stream: Stream = "upstream"
    share: float = 1.0
    seed: int = 0
    method: str = ""
    path: str = ""
    header: str = ""

    def __post_init__(self) -> None:
        ToxicFault.__post_init__(self)
        name = type(self).__name__
        if self.stream != "upstream":
            raise FaultSpecError(
                f"{name}.stream must be 'upstream' (HTTP faults act on requests), "
                f"got {self.stream!r}",
                field="stream",
            )
        if self.toxicity != 1:
            raise FaultSpecError(
                f"{name}.toxicity must be 1: Toxiproxy draws it per connection; "
                "give share (drawn per request) instead",
                field="toxicity",
            )
        share = self.share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise FaultSpecError(f"{name}.share must be in (0, 1], got {share!r}", field="share")
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
            raise FaultSpecError(
                f"{name}.seed must be a whole number from 0 to 2**53, got {seed!r}", field="seed"
            )
        if not isinstance(self.method, str) or (
            self.method and not _HTTP_METHOD.fullmatch(self.method)
        ):
            raise FaultSpecError(
                f"{name}.method must be a method in capitals like 'POST', got {self.method!r}",
                field="method",
            )
        if not isinstance(self.path, str) or (
            (self.path and not self.path.startswith(("/", "*"))) or len(self.path) > 2000
        ):
            raise FaultSpecError(
                f"{name}.path must be a path prefix or glob starting with '/' or '*', "
                f"got {self.path!r}",
                field="path",
            )
        if not isinstance(self.header, str) or (self.header and not _valid_header(self.header)):
            raise FaultSpecError(
                f"{name}.header must be 'Name' (present) or 'Name: value' (a glob), "
                f"got {self.header!r}",
                field="header",
            )

    def effect(self) -> str:
        """What the fault did to a request it acted on, in words ("answered 503 ...")."""
        raise NotImplementedError

    def _request_filter(self) -> dict[str, object]:
        return {
            "share": float(self.share),
            "seed": int(self.seed),
            "method": self.method,
            "path": self.path,
            "header": self.header,
        }


def _valid_header(text: str) -> bool:
    name, _, value = text.partition(":")
    return (
        _HEADER_NAME.fullmatch(name.strip()) is not None
        and "\r" not in value
        and "\n" not in value
        and len(value) <= 1000
    )


def _status_headers(raw: object) -> tuple[tuple[str, str], ...] | None:
    """Headers as (name, value) pairs, from a mapping or from pairs; None if malformed."""
    items: list[object] = (
        list(raw.items())
        if isinstance(raw, Mapping)
        else list(raw)
        if isinstance(raw, list | tuple)
        else []
    )
    if not isinstance(raw, Mapping | list | tuple):
        return None
    pairs = []
    for item in items:
        if not isinstance(item, list | tuple) or len(item) != 2:
            return None
        name, value = item
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # Retry-After: 2 in YAML
        if not isinstance(name, str) or not isinstance(value, str):
            return None
        if not _valid_header(f"{name}: {value}"):
            return None
        pairs.append((name.strip(), value.strip()))
    return tuple(pairs)


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class HttpStatus(HttpFault):
    """The edge answers ``status`` for matching requests, which never reach the target
    (like Envoy's abort): e.g. 503, or 429 with ``retry_after_s``.

    ``body`` is the answer's body (default: a JSON error naming the status);
    ``headers`` are added to it (a mapping, e.g. ``{"Retry-After": "2"}``;
    ``Content-Type`` among them replaces the default). The connection stays
    open unless the caller asked to close it.
    """

    kind: ClassVar[str] = "http_status"
    domino_toxic_type: ClassVar[str] = "domino_http_status"
    status: int = 503
    body: str = ""
    headers: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        HttpFault.__post_init__(self)
        status = self.status
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise FaultSpecError(
                f"HttpStatus.status must be an HTTP status from 200 to 599, got {status!r}",
                field="status",
            )
        if not isinstance(self.body, str) or len(self.body) > 65_536:
            raise FaultSpecError("HttpStatus.body must be text of at most 64 KiB", field="body")
        headers = _status_headers(self.headers)
        if headers is None:
            raise FaultSpecError(
                "HttpStatus.headers must map header names to values, e.g. {Retry-After: '2'}",
                field="headers",
            )
        object.__setattr__(self, "headers", headers)
        if self.retry_after_s is not None:
            _non_negative(self, "retry_after_s")
            if not isinstance(self.retry_after_s, int):
                raise FaultSpecError(
                    "HttpStatus.retry_after_s must be whole seconds", field="retry_after_s"
                )

    def effect(self) -> str:
        return f"answered {self.status} without reaching the target"

    def toxiproxy_attributes(self) -> dict[str, object]:
        headers = dict(self.headers.items() if isinstance(self.headers, Mapping) else self.headers)
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return {
            **self._request_filter(),
            "status": int(self.status),
            "body": self.body,
            "headers": headers,
        }


_ABORT_POINTS = ("before", "after")


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAbort(HttpFault):
    """The connection closes with no answer on matching requests, ``at``:
    ``before`` the request reaches the target, or ``after`` it did (the target
    applied it; its answer never reaches the caller: what idempotent retries are for).
    """

    kind: ClassVar[str] = "http_abort"
    domino_toxic_type: ClassVar[str] = "domino_http_abort"
    at: Literal["before", "after"] = "before"

    def __post_init__(self) -> None:
        HttpFault.__post_init__(self)
        if self.at not in _ABORT_POINTS:
            raise FaultSpecError(
                f"HttpAbort.at must be 'before' or 'after', got {self.at!r}", field="at"
            )

    def effect(self) -> str:
        if self.at == "after":
            return "reached the target and lost their answer (connection closed)"
        return "closed before reaching the target"

    def toxiproxy_attributes(self) -> dict[str, object]:
        return {**self._request_filter(), "at": self.at}


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class HttpDelay(HttpFault):
    """Matching requests are held ``delay_ms`` before they go on to the target: a slow
    dependency per request (Toxiproxy's latency slows whole connections)."""

    kind: ClassVar[str] = "http_delay"
    domino_toxic_type: ClassVar[str] = "domino_http_delay"
    needs_answers: ClassVar[bool] = False
    delay_ms: int

    def __post_init__(self) -> None:
        HttpFault.__post_init__(self)
        _non_negative(self, "delay_ms")
        # domino_http_delay converts it as Toxiproxy does (toxics/http_delay.go).
        _at_most(self, "delay_ms", TOXIPROXY_MAX_MS, _TOXIPROXY_MS)

    def effect(self) -> str:
        return f"held {self.delay_ms} ms"

    def toxiproxy_attributes(self) -> dict[str, object]:
        return {**self._request_filter(), "delay": int(self.delay_ms)}

    def ramped(self, fraction: float) -> HttpDelay:
        return dataclasses.replace(self, delay_ms=round(self.delay_ms * fraction))


_BODY_BREAKS = ("truncate", "malformed_json", "content_type")


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class HttpBody(HttpFault):
    """The target's answers to matching requests arrive ``broken``: ``truncate`` (half
    the body, then the connection closes), ``malformed_json`` (JSON cut short) or
    ``content_type`` (an HTML error page). The requests reach the target."""

    kind: ClassVar[str] = "http_body"
    domino_toxic_type: ClassVar[str] = "domino_http_body"
    broken: Literal["truncate", "malformed_json", "content_type"] = "malformed_json"

    def __post_init__(self) -> None:
        HttpFault.__post_init__(self)
        if self.broken not in _BODY_BREAKS:
            raise FaultSpecError(
                f"HttpBody.broken must be one of {', '.join(_BODY_BREAKS)}, got {self.broken!r}",
                field="broken",
            )

    def effect(self) -> str:
        return f"answered with a broken body, {self.broken}"

    def toxiproxy_attributes(self) -> dict[str, object]:
        return {**self._request_filter(), "break": self.broken}


@dataclass(frozen=True, slots=True, kw_only=True)
class OnService(Fault):
    """A fault on one service (inside it, or on its process), e.g. ``service="pay"``."""

    service: str

    @property
    def target(self) -> str:
        return self.service

    @property
    def faulted_service(self) -> str | None:
        return self.service

    def __post_init__(self) -> None:
        if not isinstance(self.service, str) or not self.service:
            raise FaultSpecError(
                f"{type(self).__name__}.service must name a service", field="service"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceFault(OnService):
    """An application fault inside one service, applied by the system's adapter (an admin API).

    ``route`` is a path prefix such as ``/points``; ``"*"`` matches every route
    except health and admin.
    """

    route: str = "*"

    def __post_init__(self) -> None:
        OnService.__post_init__(self)
        if not isinstance(self.route, str) or not (self.route == "*" or self.route.startswith("/")):
            raise FaultSpecError(
                f"{type(self).__name__}.route must be '*' or a path starting with '/', "
                f"got {self.route!r}",
                field="route",
            )
        _short_text(self, "route", SERVICE_MAX_ROUTE_CHARS)

    #: True when the fault can end on its own (a maintenance window that expires):
    #: removing one that is already gone is then not an error.
    ends_by_itself: ClassVar[bool] = False


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class HttpError(ServiceFault):
    """The service answers ``status`` (500 or 503 ...) for ``share`` of matching requests."""

    kind: ClassVar[str] = "http_error"
    status: int = 503
    share: float = 1.0

    def __post_init__(self) -> None:
        ServiceFault.__post_init__(self)
        if not isinstance(self.status, int) or not 500 <= self.status <= 599:
            raise FaultSpecError(
                f"HttpError.status must be a 5xx code, got {self.status!r}", field="status"
            )
        if not isinstance(self.share, int | float) or not 0 < self.share <= 1:
            raise FaultSpecError(
                f"HttpError.share must be in (0, 1], got {self.share!r}", field="share"
            )


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class SlowHandler(ServiceFault):
    """The service's handler takes ``delay_ms`` longer for matching requests."""

    kind: ClassVar[str] = "slow_handler"
    delay_ms: int

    def __post_init__(self) -> None:
        ServiceFault.__post_init__(self)
        _non_negative(self, "delay_ms")
        if self.delay_ms == 0:
            raise FaultSpecError(
                "SlowHandler.delay_ms must be > 0 (the services refuse a rule with no delay)",
                field="delay_ms",
            )
        _at_most(
            self, "delay_ms", SERVICE_MAX_DELAY_MS, "the services' admin API limit: 10 minutes"
        )


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Maintenance(ServiceFault):
    """The service announces a maintenance window of ``window_s`` seconds, starting now.

    The window ends by itself (the service resumes without the harness); the
    scope ends it early only if it is still running when the hold ends.
    """

    kind: ClassVar[str] = "maintenance"
    ends_by_itself: ClassVar[bool] = True
    window_s: float
    reason: str = "system check"

    def __post_init__(self) -> None:
        ServiceFault.__post_init__(self)
        _non_negative(self, "window_s")
        if self.window_s <= 0:
            raise FaultSpecError("Maintenance.window_s must be > 0", field="window_s")
        _at_most(self, "window_s", SERVICE_MAX_WINDOW_S, "the services' limit: 7 days")
        _short_text(self, "reason", SERVICE_MAX_REASON_CHARS)


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Suspend(ServiceFault):
    """An operator trips ``feature``'s kill switch; it is resumed when the fault ends."""

    kind: ClassVar[str] = "suspend"
    feature: str
    reason: str = "heavy use"

    def __post_init__(self) -> None:
        ServiceFault.__post_init__(self)
        if not isinstance(self.feature, str) or not self.feature:
            raise FaultSpecError("Suspend.feature must name a feature, e.g. 'fx'", field="feature")
        _short_text(self, "reason", SERVICE_MAX_REASON_CHARS)


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Surge(Fault):
    """``users`` extra virtual users take ``journey`` back to back for the hold.

    A surge is load, not breakage: it enters through the client edge like
    every user and is bounded by the hold (and by the observer's call cap).
    """

    kind: ClassVar[str] = "surge"
    needs_owner: ClassVar[bool] = True
    journey: str
    users: int
    think_ms: int = 0

    @property
    def target(self) -> str:
        return f"surge on {self.journey}"

    def places(self, topology: Topology) -> tuple[str, ...]:
        return (topology.entry_edge.name,)

    def __post_init__(self) -> None:
        if not isinstance(self.journey, str) or not self.journey:
            raise FaultSpecError(
                "Surge.journey must name a journey, e.g. 'fx-order'", field="journey"
            )
        if (
            isinstance(self.users, bool)
            or not isinstance(self.users, int)
            or not 1 <= self.users <= 64
        ):
            raise FaultSpecError(
                f"Surge.users must be a whole number from 1 to 64, got {self.users!r}",
                field="users",
            )
        _non_negative(self, "think_ms")


_FLOOD_RETRIES = ("none", "immediate", "backoff", "retry-after")


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Flood(Fault):
    """Open-loop demand on ``journeys``: arrivals on a schedule, whatever the answers.

    The hold is the trigger, in the crypto-crash shape: from ``base_per_s`` a
    rise within a second to ``peak_per_s``, a peak, a plateau at
    ``plateau_per_s`` (0: half the peak), a decay back to the base. Then
    ``tail_s`` more seconds at the base rate, the trigger gone: the window in
    which retries either die out or keep the system overloaded
    (metastability). Each arrival is one user action by one of ``users``
    virtual customers (sessions), retried by ``retry`` up to ``retries``
    times with one Idempotency-Key per action when its journey sends one;
    ``timeout_s`` is how long the client waits per attempt. Bounded by
    ``max_requests`` attempts and by the schedule's end.
    """

    kind: ClassVar[str] = "flood"
    needs_owner: ClassVar[bool] = True
    journeys: tuple[str, ...]
    peak_per_s: float
    base_per_s: float = 10.0
    plateau_per_s: float = 0.0
    tail_s: float = 0.0
    users: int = 100
    retry: str = "none"
    retries: int = 0
    timeout_s: float = 2.0
    max_requests: int = 50_000

    @property
    def target(self) -> str:
        return f"flood on {'+'.join(self.journeys)}"

    def places(self, topology: Topology) -> tuple[str, ...]:
        return (topology.entry_edge.name,)

    def __post_init__(self) -> None:
        journeys: Any = self.journeys  # a YAML list or a single name, made a tuple here
        if isinstance(journeys, str):
            journeys = (journeys,)
        if (
            not isinstance(journeys, list | tuple)
            or not journeys
            or not all(isinstance(j, str) and j for j in journeys)
        ):
            raise FaultSpecError(
                "Flood.journeys must list the journeys in the mix, e.g. [exchange-deposit]",
                field="journeys",
            )
        object.__setattr__(self, "journeys", tuple(journeys))
        _non_negative(self, "peak_per_s", "base_per_s", "plateau_per_s", "tail_s", "timeout_s")
        if not 0 < self.peak_per_s <= 5_000:
            raise FaultSpecError(
                f"Flood.peak_per_s must be > 0 and <= 5000, got {self.peak_per_s}",
                field="peak_per_s",
            )
        if self.base_per_s > self.peak_per_s or self.plateau_per_s > self.peak_per_s:
            raise FaultSpecError(
                "Flood.base_per_s and plateau_per_s must not exceed peak_per_s", field="base_per_s"
            )
        if self.tail_s > 600:
            raise FaultSpecError(
                f"Flood.tail_s must be <= 600 seconds, got {self.tail_s}", field="tail_s"
            )
        if not 0 < self.timeout_s <= 60:
            raise FaultSpecError(
                f"Flood.timeout_s must be > 0 and <= 60, got {self.timeout_s}", field="timeout_s"
            )
        for name, low, high in (
            ("users", 1, 10_000),
            ("retries", 0, 10),
            ("max_requests", 1, 500_000),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise FaultSpecError(
                    f"Flood.{name} must be a whole number from {low} to {high}, got {value!r}",
                    field=name,
                )
        if self.retry not in _FLOOD_RETRIES:
            raise FaultSpecError(
                f"Flood.retry must be one of {', '.join(_FLOOD_RETRIES)}, got {self.retry!r}",
                field="retry",
            )
        if (self.retry == "none") != (self.retries == 0):
            raise FaultSpecError(
                "Flood.retries must be 0 with retry: none, and at least 1 with any other retry",
                field="retries",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessFault(OnService):
    """A fault on a whole service: its process (local) or container (docker)."""

    needs_owner: ClassVar[bool] = True


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Crash(ProcessFault):
    """The service is killed (SIGKILL) and stays down; it is restarted when the scope ends."""

    kind: ClassVar[str] = "crash"


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Pause(ProcessFault):
    """The service is frozen (SIGSTOP / docker pause): connections hang; resumed at the end."""

    kind: ClassVar[str] = "pause"


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Stop(ProcessFault):
    """The service is stopped gracefully (SIGTERM) and stays down; started again at the end."""

    kind: ClassVar[str] = "stop"


@fault_kind
@dataclass(frozen=True, slots=True, kw_only=True)
class Restart(ProcessFault):
    """The service is restarted once when the fault is applied (nothing to undo at the end)."""

    kind: ClassVar[str] = "restart"


def build_fault(kind: str, fields: Mapping[str, Any], *, where: str = "fault") -> Fault:
    """Make a fault from loose fields; every mistake is a one-line FaultSpecError.

    ``where`` prefixes messages (e.g. ``incident.yaml: timeline[0]``).
    """
    cls = FAULT_KINDS.get(kind)
    if cls is None:
        raise FaultSpecError(
            f"{where}: unknown fault kind {kind!r}; known kinds: {', '.join(sorted(FAULT_KINDS))}",
            field="kind",
        )
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise FaultSpecError(
            f"{where}: unknown attribute {unknown[0]!r} for {kind}; "
            f"allowed: {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(fields))
    if missing:
        raise FaultSpecError(f"{where}: {kind} needs {', '.join(missing)}", field=missing[0])
    try:
        return cls(**fields)
    except FaultSpecError as exc:
        raise FaultSpecError(f"{where}: {exc}", field=exc.field) from None
