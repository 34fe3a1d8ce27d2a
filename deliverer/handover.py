"""Where a delivery goes once its attempt is over: acked, to a retry rung, or dead-lettered.

A delivery is acked only after success, or after the retry or dead-letter message that replaces it is confirmed
(hookpipe.amqp.broker.hand_over); otherwise it is requeued after REQUEUE_DELAY.
"""

from __future__ import annotations

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage

from deliverer.declarations import Declarations
from deliverer.outcomes import Parked
from deliverer.sender import AttemptResult
from hookpipe.amqp.broker import Publisher, PublishFailed, ack, hand_over, requeue
from hookpipe.amqp.codec import encode_event
from hookpipe.amqp.deadletter import dead_letter
from hookpipe.amqp.recorder import NoRecorder, Recorder
from hookpipe.amqp.topology import Names
from hookpipe.delivery_log import DeadLettered
from hookpipe.event import Event, now_ms
from hookpipe.outcomes import DeadLetterReason
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")

#: Wait before requeueing a delivery whose retry or dead letter could not be published (s), so a broker problem
#: is not turned into a hot loop.
REQUEUE_DELAY = 1.0


class Handover:
    """Acks, retries and dead-letters deliveries, publishing on `publisher` by the topology's `names`; a retry
    rung not known to exist is declared first (`declarations`); a dead letter is recorded in the delivery log
    (`recorder`) before its delivery is handed over."""

    def __init__(self, publisher: Publisher, names: Names, declarations: Declarations,
                 recorder: Recorder | NoRecorder | None = None) -> None:
        self._publisher = publisher
        self._recorder = recorder if recorder is not None else NoRecorder()
        self._names = names
        self._declarations = declarations

    async def delivered(self, message: AbstractIncomingMessage) -> None:
        await ack(message)

    async def after_error(self, name: str, message: AbstractIncomingMessage, error: Exception) -> None:
        """A delivery to `name` that raised `error` goes back to its queue after REQUEUE_DELAY: one exception
        never stops the consumer (a delivery that always raises ends as a dead letter at the delivery limit)."""
        if isinstance(error, PublishFailed):  # its attempt's record in the delivery log was not confirmed
            log.warning("an attempt's record was not confirmed; requeued",
                        extra={"event_id": message.message_id, "destination": name, "error": str(error)})
        else:
            log.error("unexpected error delivering; requeued", exc_info=error,
                      extra={"event_id": message.message_id, "destination": name})
        await self.requeue_later(message)

    async def requeue_later(self, message: AbstractIncomingMessage) -> None:
        """Give `message` back to its queue after REQUEUE_DELAY."""
        await asyncio.sleep(REQUEUE_DELAY)
        await requeue(message)

    async def retry(
        self, name: str, message: AbstractIncomingMessage, event: Event, ms: int, why: AttemptResult | Parked
    ) -> None:
        """Publish `event` to the `ms` retry rung of destination `name` (declared first if a Retry-After asked for
        a new one), then ack `message`. `why`: the failed attempt, or why there was none."""
        if ms not in self._declarations.rungs:
            try:
                await self._declarations.declare_rung(ms)
            except PublishFailed:
                await self.requeue_later(message)
                return
        if not await hand_over(self._publisher, message, encode_event(event), exchange=self._names.retry(ms),
                               routing_key=name, requeue_delay=REQUEUE_DELAY):
            # Rungs may be gone (`hookpipe topology prune` removes empty ones): declare each again on its next
            # use (jitter may pick another rung next time, and a declaration is idempotent and cheap).
            self._declarations.forget_rungs()
            return
        metrics.RETRIES_SCHEDULED.labels(destination=name).inc()
        log.info("delivery failed; retry scheduled", extra={
            "event_id": event.id, "destination": name, "attempt": event.attempt, "delay_ms": ms,
            "reason": why.reason if isinstance(why, AttemptResult) else why,
            "status": why.status if isinstance(why, AttemptResult) else None,
            "error": why.error if isinstance(why, AttemptResult) else "",
        })

    async def dead_letter(
        self, name: str, message: AbstractIncomingMessage, reason: DeadLetterReason, attempts: int,
        result: AttemptResult | None = None, error: str = "",
    ) -> None:
        """Publish `message` to destination `name`'s dead-letter queue with `reason`, then ack it. `result`: the
        last attempt, if it was one that failed (its status, error and response go with it)."""
        status = result.status if result is not None else None
        error = result.error if result is not None else error
        log.warning("delivery failed; dead-lettered", extra={
            "event_id": message.message_id, "destination": name, "reason": reason,
            "last_failure": result.reason if result is not None else "", "status": status, "error": error,
            "attempts": attempts,
        })
        if status == 410:
            metrics.DELIVERY_GONE.labels(destination=name).inc()
            log.error("destination answered 410 Gone: it wants no more deliveries; check its URL",
                      extra={"destination": name})
        try:
            await self._recorder.record(DeadLettered(event_id=message.message_id or "", destination=name,
                                                     at=now_ms(), reason=reason, attempts=attempts))
        except PublishFailed:
            await self.requeue_later(message)
            return
        dead = dead_letter(message, reason, error=error, status=status,
                           response=result.response if result is not None else b"", attempts=attempts)
        if await hand_over(self._publisher, message, dead, exchange="", routing_key=self._names.dead_queue(name),
                           requeue_delay=REQUEUE_DELAY):
            metrics.DEAD_LETTERS.labels(destination=name, reason=reason).inc()
