"""A destination's circuit breaker at work: its state (deliverer.circuit) and the probes and consumer it drives.

Closed: the destination's queue is consumed at its full prefetch. Open: not consumed at all, so events wait in
RabbitMQ; after the cool-down a probe starts (half-open: a consumer of prefetch 1, so one delivery decides).
Success closes the breaker and consumes again at the full prefetch; failure opens it for a longer cool-down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from deliverer.circuit import Breaker, BreakerState
from deliverer.sender import AttemptResult
from hookpipe.config import BreakerConfig
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")

#: Prefetch of a probe's consumer: one delivery at a time decides whether the destination is back.
PROBE_PREFETCH = 1


class Line(Protocol):
    """The destinations' consumers, as a breaker starts and stops them (deliverer.consumers.Consumers)."""

    def paused(self, name: str) -> bool: ...

    def consuming(self, name: str) -> bool: ...

    async def consume(self, name: str, prefetch: int | None = None) -> None:
        """Consume `name`'s queue, `prefetch` unacked at most (None: its own); a no-op when it cannot."""

    async def stop(self, name: str) -> None: ...


class DestinationBreaker:
    """The breaker of destination `name` with its probes.

    Parameters: `settings` the destination's breaker settings; `line` the consumers it starts and stops;
    `clock` monotonic seconds and `sleep` asyncio's (both replaceable in tests).
    """

    def __init__(
        self, name: str, settings: BreakerConfig, line: Line, *, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.breaker = Breaker(failures=settings.failures, cooldown=settings.cooldown,
                               max_cooldown=settings.max_cooldown, clock=clock)
        self._line = line
        self._sleep = sleep
        self._probe: asyncio.Task[None] | None = None

    @property
    def state(self) -> BreakerState:
        return self.breaker.state

    @property
    def consecutive_failures(self) -> int:
        return self.breaker.consecutive_failures

    def report(self) -> None:
        """Show the state on the breaker-state gauge."""
        metrics.BREAKER_STATE.labels(destination=self.name).set(self.state.value)

    async def consume_or_wait(self) -> None:
        """Deliver: consume at the full prefetch if closed; otherwise wait for the next probe. A probe whose
        consumer is gone (a new connection, a pause, a consumer restarted on reload) is lost: open again."""
        if self.state is BreakerState.CLOSED:
            await self._line.consume(self.name)
        elif not self._line.consuming(self.name):
            self.breaker.probe_lost()
            self._schedule_probe()

    async def succeeded(self) -> None:
        """An attempt delivered: a probe's success closes the breaker and consumes at the full prefetch again."""
        probing = self.state is not BreakerState.CLOSED
        self.breaker.record_success()
        if not probing:
            return
        self.report()
        log.info("circuit breaker closed: deliveries resume", extra={"destination": self.name})
        await self._line.stop(self.name)  # the probe's prefetch-1 consumer
        await self._line.consume(self.name)

    async def failed(self, result: AttemptResult) -> None:
        """An attempt failed: the failure that opens the breaker (or a failed probe) stops consuming until a
        probe after the cool-down."""
        if not self.breaker.record_failure():
            return
        self.report()
        log.warning("circuit breaker open: deliveries wait in the queue", extra={
            "destination": self.name, "failures": self.consecutive_failures, "cooldown_s": self.breaker.cooldown,
            "reason": result.reason, "status": result.status,
        })
        await self._line.stop(self.name)
        self._schedule_probe()

    def cancel_probe(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    def _schedule_probe(self) -> None:
        if self._probe is not None and not self._probe.done():
            return
        self._probe = asyncio.create_task(self._probe_later())

    async def _probe_later(self) -> None:
        await self._sleep(self.breaker.probe_in())
        if self.state is not BreakerState.OPEN or self._line.paused(self.name):
            return  # closed meanwhile, or paused (resume schedules a probe again)
        self.breaker.start_probe()
        self.report()
        log.info("circuit breaker half-open: one probe delivery", extra={"destination": self.name})
        await self._line.consume(self.name, PROBE_PREFETCH)
