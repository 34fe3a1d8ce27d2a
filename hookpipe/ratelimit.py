"""A token bucket: `rate` events per second on average, bursts of up to `burst` (no I/O, injectable clock).

Ingest uses one per source (429 with Retry-After past it); the deliverer one per destination.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """Parameters: `rate` tokens per second; `burst` the most tokens held (default: one second's worth, at
    least 1); `clock` monotonic seconds."""

    __slots__ = ("_clock", "_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float, *, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait until a token is available, then take it."""
        while not self.try_take():  # noqa: ASYNC110 - sleeping until the next token is due is the point
            await asyncio.sleep(self.wait_time())

    def wait_time(self) -> float:
        """Seconds until a token will be available (0 if one is now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
