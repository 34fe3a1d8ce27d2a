"""In-order delivery (`ordering: fifo`): one delivery at a time (prefetch 1, single active consumer), in queue order.

A failure waits in place while its retry delay is short (at most FIFO_WAIT_IN_PLACE); a longer wait gives the
message back by closing the consumer's channel (never a nack) and consumes again after the delay, so the head of
the line stays the head. The attempts made are remembered in memory for the head message: a deliverer restart
starts its schedule again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aio_pika.abc import AbstractIncomingMessage

from deliverer.retry import Decision, expired
from deliverer.sender import AttemptResult, Sender
from hookpipe.event import Event
from hookpipe.outcomes import DeadLetterReason
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")

#: Longest retry delay (s) an in-order delivery waits in place, holding the line's head; a longer one gives the
#: message back to the queue and consumes again after the delay. Well under the 5-minute unacked bound.
FIFO_WAIT_IN_PLACE = 60.0


class HeadAttempts:
    """The attempts made on each in-order destination's head message, which went back to its queue to wait."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, int]] = {}  # destination -> (head event id, attempts made)

    def next_attempt(self, name: str, event: Event) -> int:
        """The number of the attempt `event` is about to get: after those made while it waited at the head,
        else after those its retries counted (`event.attempt`)."""
        held_id, held_attempts = self._held.pop(name, (None, 0))
        return held_attempts + 1 if held_id == event.id else event.attempt + 1

    def hold(self, name: str, event: Event, attempts: int) -> None:
        self._held[name] = (event.id, attempts)


class Ends(Protocol):
    """Where a delivery ends (deliverer.handover.Handover)."""

    async def delivered(self, message: AbstractIncomingMessage) -> None: ...

    async def dead_letter(self, name: str, message: AbstractIncomingMessage, reason: DeadLetterReason,
                          attempts: int, result: AttemptResult | None = None) -> None: ...


class InOrder:
    """Delivers the head of an in-order destination's line until it is delivered, dead-lettered or given back.

    Parameters: `attempt(sender, event, n)` makes attempt number n; `next_step(sender, event, n, result)`
    decides after a failed one; `ends` acks and dead-letters; `give_back(name, delay)` returns the unacked head
    to its queue now and consumes it again after `delay` seconds; `wait_in_place` (s) the longest retry delay
    waited holding the message; `sleep` asyncio's (replaceable in tests).
    """

    def __init__(
        self, *, attempt: Callable[[Sender, Event, int], Awaitable[AttemptResult]],
        next_step: Callable[[Sender, Event, int, AttemptResult], Decision], ends: Ends,
        give_back: Callable[[str, float], Awaitable[None]], wait_in_place: float = FIFO_WAIT_IN_PLACE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._attempt = attempt
        self._next_step = next_step
        self._ends = ends
        self._give_back = give_back
        self.wait_in_place = wait_in_place
        self._sleep = sleep
        self._heads = HeadAttempts()

    async def deliver(self, sender: Sender, message: AbstractIncomingMessage, event: Event) -> None:
        attempt = self._heads.next_attempt(sender.name, event)
        while True:
            if expired(sender.config, event):
                await self._ends.dead_letter(sender.name, message, DeadLetterReason.EXPIRED, attempt - 1)
                return
            result = await self._attempt(sender, event, attempt)
            if result.delivered:
                await self._ends.delivered(message)
                return
            decision = self._next_step(sender, event, attempt, result)
            if decision.retry_ms is None:
                assert decision.reason is not None
                await self._ends.dead_letter(sender.name, message, decision.reason, attempt, result)
                return
            if not await self._wait(sender.name, event, attempt, decision.retry_ms, result):
                return
            attempt += 1

    async def _wait(self, name: str, event: Event, attempt: int, ms: int, result: AttemptResult) -> bool:
        """Wait `ms` before the next attempt: True after waiting in place, False once the message is given back."""
        delay = ms / 1000
        in_place = delay <= self.wait_in_place
        metrics.RETRIES_SCHEDULED.labels(destination=name).inc()
        log.info("in-order delivery failed; the line waits", extra={
            "event_id": event.id, "destination": name, "attempt": attempt, "delay_ms": ms,
            "in_place": in_place, "reason": result.reason, "status": result.status,
        })
        if in_place:
            await self._sleep(delay)
            return True
        self._heads.hold(name, event, attempt)
        await self._give_back(name, delay)
        return False
