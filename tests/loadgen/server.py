"""A small real HTTP/1.1 server on 127.0.0.1 for the load engine's tests.

It runs in its own process (``python -m tests.loadgen.server`` prints its
port), so it keeps answering while the engine's loop is busy or blocked and
does not share the engine's GIL (which would show up as engine lag). It
records every request it saw; ``GET /__seen`` answers them as JSON,
``GET /__accepted`` the connections it accepted (other than its own) and
``GET /__reset`` forgets both.

Routes: ``/fast``; ``/slow`` (answers after 200 ms); ``/reject`` (503 with
``Retry-After: 0.2``); ``/status/NNN``; ``/hang`` (never answers);
``/chunked`` (a chunked body); ``/eof`` (a body framed by closing the
connection); ``/close-after`` (answers, then closes the kept-alive connection).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

SLOW_S = 0.2


class _Server:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.connections = 0
        self.accepted: list[dict[str, Any]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        self.accepted.append({"connection": connection, "at": time.monotonic()})
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = raw.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                close = headers.get("connection", "").lower() == "close"
                if target == "/__reset":
                    self.seen.clear()
                    self.accepted.clear()
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                    await writer.drain()
                    continue
                if target in ("/__seen", "/__accepted"):
                    items = (
                        self.seen
                        if target == "/__seen"
                        else [a for a in self.accepted if a["connection"] != connection]
                    )
                    payload = json.dumps(items).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload)
                    )
                    await writer.drain()
                    continue
                self.seen.append(
                    {
                        "at": time.monotonic(),
                        "method": method,
                        "path": target,
                        "headers": headers,
                        "body": body.decode("latin-1"),
                        "connection": connection,
                    }
                )
                keep = await self.answer(target, writer, close)
                await writer.drain()
                if close or not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def answer(self, target: str, writer: asyncio.StreamWriter, close: bool) -> bool:
        conn = b"Connection: close\r\n" if close else b""

        def simple(status: int, body: bytes = b"ok", extra: bytes = b"") -> None:
            writer.write(
                b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s%s\r\n%s"
                % (status, len(body), extra, conn, body)
            )

        if target == "/slow":
            await asyncio.sleep(SLOW_S)
            simple(200)
        elif target == "/reject":
            simple(503, b"busy", b"Retry-After: 0.2\r\n")
        elif target.startswith("/status/"):
            simple(int(target.rsplit("/", 1)[1]))
        elif target == "/hang":
            await asyncio.sleep(3600)
        elif target == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                + conn
                + b"\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
        elif target == "/eof":
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
            return False
        elif target == "/close-after":
            simple(200)
            return False
        else:
            simple(200)
        return True


async def _main() -> None:
    state = _Server()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # end with the test process too: stdin closes when it goes away
    loop.add_reader(sys.stdin.fileno(), stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(_main())
