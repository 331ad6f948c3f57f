"""A lean asyncio HTTP/1.1 client for load: raw asyncio transports plus httptools.

One :class:`HttpClient` per target host. ``keep_alive=True`` reuses idle
connections (a pool that grows to the number of requests in flight);
``keep_alive=False`` opens a new TCP connection per request and sends
``Connection: close`` (Toxiproxy draws a toxic's toxicity per connection, so
this is how a 50 % toxic hits about half of the requests). Each request has one
deadline covering connect, send and the whole answer.

It is deliberately small: no TLS, no redirects, no proxies, no HEAD (its
answers have no body to frame), no 1xx handling beyond what the parser does.
The answer's body is counted, not kept, except for the statuses a request
asks to see (a load run's rejections, to tell an honest "wait" from a false one),
up to a cap.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Container
from dataclasses import dataclass
from typing import Literal, cast

import httptools

from harness.loadgen.request import MAX_CHECKED_BODY_BYTES
from harness.loadgen.retry import parse_retry_after

__all__ = ["ClientError", "HttpClient", "Response"]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    retry_after_s: float | None
    body_bytes: int
    #: The body's first bytes when the request asked to see this status, else empty.
    body: bytes = b""


_NO_STATUS: frozenset[int] = frozenset()


class ClientError(Exception):
    """A request that got no complete answer: ``timeout``, ``connect`` or ``transport``."""

    def __init__(self, kind: Literal["timeout", "connect", "transport"], message: str) -> None:
        super().__init__(message)
        self.kind: Literal["timeout", "connect", "transport"] = kind


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_body_bytes",
        "_chunks",
        "_got_bytes",
        "_headers_done",
        "_keep_for",
        "_retry_after",
        "closed",
        "keep_alive",
        "parser",
        "transport",
        "waiter",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.keep_alive = True
        self._retry_after: bytes | None = None
        self._body_bytes = 0
        self._headers_done = False
        self._got_bytes = False
        self._keep_for: Container[int] = _NO_STATUS
        self._chunks: list[bytes] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport: asyncio's own, or uvloop's (which is not an asyncio.Transport).
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ClientError("transport", f"unparseable answer: {exc}"))
            self.abort()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self._headers_done:
            # an answer framed by the end of the connection (no length, not chunked)
            self._complete()
            return
        reason = f": {exc}" if exc else ""
        self._fail(ClientError("transport", f"connection closed before a full answer{reason}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) == 11 and name.lower() == b"retry-after":
            self._retry_after = value

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._keep_for and self.parser.get_status_code() in self._keep_for:
            self._chunks = []

    def on_body(self, body: bytes) -> None:
        if self._chunks is not None and self._body_bytes < MAX_CHECKED_BODY_BYTES:
            self._chunks.append(body[: MAX_CHECKED_BODY_BYTES - self._body_bytes])
        self._body_bytes += len(body)

    def on_message_complete(self) -> None:
        self._complete()

    # own
    def start(self, keep_body_for: Container[int] = _NO_STATUS) -> asyncio.Future[Response]:
        assert self.transport is not None
        self._retry_after = None
        self._body_bytes = 0
        self._headers_done = False
        self._got_bytes = False
        self._keep_for = keep_body_for
        self._chunks = None
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        return waiter

    @property
    def got_bytes(self) -> bool:
        return self._got_bytes

    def _complete(self) -> None:
        waiter = self.waiter
        self.waiter = None
        self.keep_alive = self.parser.should_keep_alive()
        if waiter is not None and not waiter.done():
            chunks = self._chunks
            waiter.set_result(
                Response(
                    self.parser.get_status_code(),
                    parse_retry_after(self._retry_after),
                    self._body_bytes,
                    b"".join(chunks) if chunks else b"",
                )
            )

    def _fail(self, error: ClientError) -> None:
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _expire(waiter: asyncio.Future[Response], timeout_s: float) -> None:
    if not waiter.done():
        waiter.set_exception(ClientError("timeout", f"no full answer within {timeout_s} s"))


class HttpClient:
    """Sends pre-built HTTP/1.1 requests to one ``host:port``; see the module doc."""

    def __init__(self, host: str, port: int, *, keep_alive: bool = True) -> None:
        self.host = host
        self.port = port
        self.keep_alive = keep_alive
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._addr: tuple[int, str] | None = None
        self.connections_opened = 0

    async def resolve(self) -> tuple[int, str]:
        """The target's address family and address, looked up once."""
        if self._addr is not None:
            return self._addr
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            raise ClientError("connect", f"cannot resolve {self.host}: {exc}") from exc
        family, _, _, _, addr = infos[0]
        resolved = (int(family), str(addr[0]))
        self._addr = resolved
        return resolved

    async def _connect(self, deadline: float, timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        family, address = await self.resolve()
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(
                    _Connection, address, self.port, family=family
                )
        except TimeoutError:
            raise ClientError("timeout", f"connect did not finish within {timeout_s} s") from None
        except OSError as exc:
            raise ClientError(
                "connect", f"cannot connect to {self.host}:{self.port}: {exc}"
            ) from exc
        self.connections_opened += 1
        self._open.add(conn)
        return conn

    async def open_idle(self, count: int, within_s: float) -> int:
        """Within ``within_s``: look the target up (for a connection per request too), then
        open up to ``count`` kept-alive connections at once and keep them idle for the
        first requests; how many opened. A lookup that fails or is late opens nothing, a
        connection that fails or is late is left out (the requests that need one report
        why)."""
        if within_s <= 0:
            return 0
        deadline = asyncio.get_running_loop().time() + within_s
        try:
            async with asyncio.timeout_at(deadline):
                await self.resolve()  # once, not once per connection when it fails
        except (ClientError, TimeoutError):
            return 0
        if not self.keep_alive or count < 1:
            return 0
        results = await asyncio.gather(
            *(self._connect(deadline, within_s) for _ in range(count)), return_exceptions=True
        )
        opened = [conn for conn in results if isinstance(conn, _Connection)]
        self._idle.extend(opened)
        for failure in results:
            if isinstance(failure, BaseException) and not isinstance(failure, ClientError):
                raise failure
        return len(opened)

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
            self._open.discard(conn)
        return None

    async def request(
        self, data: bytes, timeout_s: float, *, body_for: Container[int] = _NO_STATUS
    ) -> Response:
        """Send ``data`` (a whole request, head and body) and wait for the answer; an
        answer whose status is in ``body_for`` keeps its body's first bytes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        conn = self._take_idle() if self.keep_alive else None
        reused = conn is not None
        if conn is None:
            conn = await self._connect(deadline, timeout_s)
        while True:
            waiter = conn.start(body_for)
            assert conn.transport is not None
            conn.transport.write(data)
            handle = loop.call_at(deadline, _expire, waiter, timeout_s)
            try:
                response = await waiter
            except ClientError as exc:
                conn.abort()
                self._open.discard(conn)
                if reused and exc.kind == "transport" and not conn.got_bytes:
                    # the server closed an idle kept-alive connection: one fresh try
                    reused = False
                    conn = await self._connect(deadline, timeout_s)
                    continue
                raise
            except asyncio.CancelledError:
                conn.abort()
                self._open.discard(conn)
                raise
            finally:
                handle.cancel()
            break
        if self.keep_alive and conn.keep_alive and not conn.closed:
            self._idle.append(conn)
        else:
            self._close(conn)
        return response

    def _close(self, conn: _Connection) -> None:
        conn.closed = True
        self._open.discard(conn)
        if conn.transport is not None:
            conn.transport.close()

    def close(self) -> None:
        """Close every connection (idle or not)."""
        for conn in list(self._open):
            self._close(conn)
        self._idle.clear()
