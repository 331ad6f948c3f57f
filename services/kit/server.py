"""uvicorn's server, stopping as soon as it is told to.

uvicorn looks for an exit request every 0.1 s, and once it has one waits a
fixed 0.1 s after asking its connections to close, then looks every 0.1 s
whether they have: a service took 0.15 to 0.3 s to stop on SIGTERM, most of
a stack's teardown. :class:`PromptServer` wakes at the signal and looks
every 5 ms, with the same grace (``timeout_graceful_shutdown``) for answers
in flight and the same lifespan shutdown after them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from types import FrameType

import uvicorn

__all__ = ["PromptServer"]

#: uvicorn's own logger: what it says when the grace runs out is said here too.
_LOG = logging.getLogger("uvicorn.error")
#: How often a stopping server looks whether its connections and tasks are done.
_POLL_S = 0.005
#: How often a running server updates its Date header (uvicorn's tick).
_TICK_S = 0.1


class PromptServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._told: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._told = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._told.wait(), _TICK_S)
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop, told = self._loop, self._told
        if loop is not None and told is not None:
            # A signal handler runs between two steps of the loop's own thread: wake it.
            loop.call_soon_threadsafe(told.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle ones close now, busy ones after their answer
        state = self.server_state
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                # uvicorn keeps no event to wait on for this: look (ASYNC110).
                while (state.connections or state.tasks) and not self.force_exit:  # noqa: ASYNC110
                    await asyncio.sleep(_POLL_S)
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            _LOG.error(
                "Cancel %s running task(s), timeout graceful shutdown exceeded", len(state.tasks)
            )
            for task in state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()
