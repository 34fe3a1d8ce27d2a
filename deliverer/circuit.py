"""The circuit breaker of one destination (no I/O, injectable clock).

Closed: deliveries flow. After `failures` failed attempts in a row it opens: the deliverer stops consuming the
destination's queue, so events wait in RabbitMQ instead of burning their retries against a dead endpoint.
After a cool-down one probe goes through (half-open): success closes the breaker, failure opens it again with
the cool-down doubled, up to `max_cooldown`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class BreakerState(Enum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class Breaker:
    """Parameters: `failures` in a row that open it; `cooldown` (s) before the first probe, doubling per
    failed probe up to `max_cooldown`; `clock` monotonic seconds."""

    def __init__(
        self, *, failures: int, cooldown: float, max_cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.base_cooldown = cooldown
        self.max_cooldown = max(cooldown, max_cooldown)
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.cooldown = cooldown
        self.opened_at = 0.0

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.cooldown = self.base_cooldown

    def record_failure(self) -> bool:
        """Count a failed attempt; True when this failure opened the breaker (or a probe failed)."""
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self.cooldown = min(self.cooldown * 2, self.max_cooldown)
            self._open()
            return True
        if self.state is BreakerState.CLOSED and self.consecutive_failures >= self.threshold:
            self._open()
            return True
        return False

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = self._clock()

    def probe_in(self) -> float:
        """Seconds until a probe is due (0 when it is)."""
        return max(0.0, self.opened_at + self.cooldown - self._clock())

    def start_probe(self) -> None:
        self.state = BreakerState.HALF_OPEN

    def probe_lost(self) -> None:
        """A half-open probe ended without an answer (its consumer is gone: a new connection, a pause, a new
        consumer on reload): open again, due for the next probe when the running cool-down is over."""
        self.state = BreakerState.OPEN
