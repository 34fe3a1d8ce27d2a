"""A real HTTP receiver on 127.0.0.1 that records every request and answers as a test tells it to."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Respond = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]  # lower-case names
    at: float  # time.time()


async def serve_webhooks(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> tuple[web.AppRunner, str]:
    """Serve `POST /webhooks` with `handle` on a free port of 127.0.0.1: the runner (to clean up) and the URL."""
    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_post("/webhooks", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/webhooks"


async def answer_ok(_: web.Request, __: int) -> web.StreamResponse:
    return web.Response(status=200, text="ok")


class Receiver:
    """Records requests to POST /webhooks. `respond(request, n)` answers the n-th request (1-based, counting
    every request); those answered 2xx are recorded in `received`."""

    def __init__(self, respond: Respond = answer_ok) -> None:
        self.respond = respond
        self.received: list[Received] = []  # the requests answered 2xx
        self.requests = 0  # every request, whatever the answer
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        self._runner, self.url = await serve_webhooks(self._handle)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received = Received(body, {k.lower(): v for k, v in request.headers.items()}, time.time())
        self.requests += 1
        response = await self.respond(request, self.requests)
        if 200 <= response.status < 300:
            async with self._arrived:
                self.received.append(received)
                self._arrived.notify_all()
        return response

    async def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float) -> None:
        """Wait until `predicate(self)` holds; AssertionError after `timeout` seconds."""
        async with self._arrived:
            try:
                await asyncio.wait_for(self._arrived.wait_for(lambda: predicate(self)), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"receiver condition not met within {timeout}s ({len(self.received)} received)"
                ) from None

    async def wait_for_ids(self, ids: set[str], timeout: float) -> None:
        await self.wait_for(lambda r: ids <= r.ids(), timeout)

    def ids(self) -> set[str]:
        return {r.headers["webhook-id"] for r in self.received}

    def duplicates(self) -> int:
        counts = collections.Counter(r.headers["webhook-id"] for r in self.received)
        return sum(n - 1 for n in counts.values())
