"""A test system for services/kit/server.py: a small FastAPI app served by ``PromptServer``.

Run as ``python -m tests.services.prompt_app FOLDER``. It listens on a port
of its own (printed as its first line), with uvicorn's options as a service
of Domino's has them, and a long grace for answers in flight (60 s, so a
stop that waited for it would show). ``GET /health`` answers at once.
``GET /held`` writes ``FOLDER/held`` and answers only once the server has
been told to stop (it looks every 5 ms, for 30 s at most), saying whether
the lifespan's shutdown had run by then. The lifespan's shutdown writes
``FOLDER/shutdown``. Stopped by a signal, it ends by that signal once
stopped (uvicorn raises it again); 3 if its startup failed (as
``services.kit.app.serve``).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from services.kit.server import PromptServer

_HOLD_MAX_S = 30.0
_GRACE_S = 60


def build(folder: Path, server: list[PromptServer]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        (folder / "shutdown").write_text("the lifespan's shutdown ran")

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/held")
    async def held() -> dict[str, bool]:
        (folder / "held").write_text("in flight")
        deadline = time.monotonic() + _HOLD_MAX_S
        # uvicorn keeps no event for its exit request: look (as PromptServer does).
        while not server[0].should_exit and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        return {
            "told_to_stop": server[0].should_exit,
            "shutdown_ran_first": (folder / "shutdown").exists(),
        }

    return app


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    holder: list[PromptServer] = []
    config = uvicorn.Config(
        build(folder, holder),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=_GRACE_S,
    )
    server = PromptServer(config)
    holder.append(server)
    sock = socket.create_server(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    server.run(sockets=[sock])
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
