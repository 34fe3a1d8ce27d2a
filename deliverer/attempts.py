"""Attempts and their account: the metrics, and per destination the attempts running and the last failure."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any

from deliverer.sender import AttemptResult, Sender
from hookpipe.event import Event, now_ms
from hookpipe.outcomes import DeliveryOutcome
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")


class Attempts:
    """Makes each attempt, and keeps what the ops listener's /status reports (`hookpipe status`)."""

    def __init__(self) -> None:
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
        """Attempt number `attempt`, paced by the destination's rate limit, counted in the metrics."""
        gauge = metrics.labelled(metrics.DELIVERIES_IN_FLIGHT, sender.name)
        gauge.inc()
        self.running[sender.name] += 1
        started = time.perf_counter()
        try:
            if sender.limiter is not None:
                await sender.limiter.take()
            result = await sender.send(event, attempt)
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
