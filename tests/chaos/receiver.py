"""The chaos receiver: counts deliveries per `webhook-id`, can flap, and wakes whoever waits for ids.

It keeps counts, not bodies, so the overload runs (tens of thousands of 32 KiB deliveries) cost it no memory.
A delivery counts as arrived only when it is answered 2xx: that is when the deliverer may ack it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Iterable

from aiohttp import web

from tests.chaos.progress import Progress
from tests.support.receiver import serve_webhooks

#: While flapping, every third failed request is a connection reset rather than a 500, so the deliverer sees
#: both kinds of failure a provider's endpoint produces.
RESET_EVERY = 3


class CountingReceiver:
    """POST /webhooks on 127.0.0.1. `failing = True` makes it answer 500 or reset the connection."""

    def __init__(self) -> None:
        self.arrivals: collections.Counter[str] = collections.Counter()
        self.failing = False
        self.progress = Progress()  # distinct ids arrived
        self.refused = 0  # requests answered 500 or reset while failing
        self.last_arrival = time.monotonic()
        self._expected: set[str] = set()  # ids someone waits for and that have not arrived yet
        self._all_arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        self._runner, self.url = await serve_webhooks(self._handle)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self.failing:
            self.refused += 1
            if self.refused % RESET_EVERY == 0 and request.transport is not None:
                request.transport.abort()  # a reset: the deliverer gets a connection error, no status
            return web.Response(status=500, text="flapping")
        event_id = request.headers.get("webhook-id", "")
        self.arrivals[event_id] += 1
        if self.arrivals[event_id] == 1:
            self.progress.advance()
        self.last_arrival = time.monotonic()
        if self._expected:
            self._expected.discard(event_id)
            if not self._expected:
                self._all_arrived.set()
        return web.Response(status=200, text="ok")

    @property
    def delivered(self) -> int:
        """Distinct ids that arrived."""
        return len(self.arrivals)

    def duplicates(self, ids: Iterable[str] | None = None) -> int:
        """Arrivals of an id beyond its first (over `ids`, or over every id)."""
        counts = self.arrivals if ids is None else {i: self.arrivals[i] for i in ids if i in self.arrivals}
        return sum(n - 1 for n in counts.values())

    async def wait_for(self, ids: set[str], timeout: float) -> set[str]:
        """Wait until every id in `ids` has arrived, or `timeout` s: returns the ids still missing."""
        self._expected = {i for i in ids if i not in self.arrivals}
        self._all_arrived.clear()
        if self._expected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_arrived.wait(), timeout)
        missing, self._expected = self._expected, set()
        return missing

    async def wait_quiet(self, seconds: float, timeout: float) -> None:
        """Wait until nothing has arrived for `seconds` (late duplicates), at most `timeout` s."""
        deadline = time.monotonic() + timeout
        while (now := time.monotonic()) < deadline:
            idle = now - self.last_arrival
            if idle >= seconds:
                return
            await asyncio.sleep(seconds - idle)

