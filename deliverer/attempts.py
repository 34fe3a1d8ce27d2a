"""Attempts and their account: the metrics, and per destination the attempts running and the last failure."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any

from deliverer.sender import AttemptResult, Sender
from hookpipe.amqp.recorder import NoRecorder, Recorder
from hookpipe.delivery_log import Attempt, excerpt, short_error
from hookpipe.event import Event, now_ms
from hookpipe.outcomes import DeliveryOutcome
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")


class Attempts:
    """Makes each attempt, records it in the delivery log (`recorder`), and keeps what the ops listener's /status
    reports (`hookpipe status`)."""

    def __init__(self, recorder: Recorder | NoRecorder | None = None) -> None:
        self.recorder = recorder if recorder is not None else NoRecorder()
        self.running: collections.Counter[str] = collections.Counter()
        #: Per destination: the last failed attempt (reason, status, error, its time in UTC ms, event id).
        self.last_errors: dict[str, dict[str, Any]] = {}
        self._idle_waiters: dict[str, list[asyncio.Future[None]]] = collections.defaultdict(list)

    async def drained(self, name: str, timeout: float) -> bool:
        """Wait until no attempt on `name` runs (at most `timeout` s); whether none does."""
        if self.running[name]:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters[name].append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
        return not self.running[name]

    async def attempt(self, sender: Sender, event: Event, attempt: int) -> AttemptResult:
        """Attempt number `attempt`, paced by the destination's rate limit, counted in the metrics and returned
        once its record is confirmed; raises PublishFailed if the record was not (the delivery is then requeued,
        as after any output that was not confirmed)."""
        gauge = metrics.labelled(metrics.DELIVERIES_IN_FLIGHT, sender.name)
        gauge.inc()
        self.running[sender.name] += 1
        started = time.perf_counter()
        try:
            if sender.limiter is not None:
                await sender.limiter.take()
            sent_at, sending = now_ms(), time.perf_counter()
            result = await sender.send(event, attempt)
            duration_ms = round((time.perf_counter() - sending) * 1000)
        finally:
            gauge.dec()
            self.running[sender.name] -= 1
            if not self.running[sender.name]:
                for waiter in self._idle_waiters.pop(sender.name, ()):
                    if not waiter.done():
                        waiter.set_result(None)
        metrics.labelled(metrics.DELIVERY_ATTEMPT_SECONDS, sender.name).observe(time.perf_counter() - started)
        if not result.delivered:
            self.last_errors[sender.name] = {
                "reason": result.reason, "status": result.status, "error": result.error, "at": now_ms(),
                "event_id": event.id,
            }
        self._count(sender.name, event, result)
        await self.recorder.record(Attempt(
            event_id=event.id, destination=sender.name, attempt=attempt, at=sent_at, duration_ms=duration_ms,
            delivered=result.delivered, reason=result.reason, status=result.status, error=short_error(result.error),
            response=excerpt(result.response), replay=event.replay, resend=event.resend,
        ))
        return result

    @staticmethod
    def _count(name: str, event: Event, result: AttemptResult) -> None:
        outcome = DeliveryOutcome.DELIVERED if result.delivered else DeliveryOutcome.FAILED
        if event.replay:  # counted apart; its end-to-end time is hours of archive, not latency
            metrics.labelled(metrics.REPLAYED_DELIVERY_ATTEMPTS, name, outcome).inc()
            return
        metrics.labelled(metrics.DELIVERY_ATTEMPTS, name, outcome, result.status_class).inc()
        if result.delivered:
            latency = max(0.0, (now_ms() - event.received_at) / 1000)
            metrics.labelled(metrics.END_TO_END_SECONDS, name).observe(latency)
            log.debug("delivered", extra={"event_id": event.id, "destination": name, "status": result.status})
