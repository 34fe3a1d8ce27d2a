"""What happens after a failed attempt: retry after which delay, or dead-letter for which reason (no I/O).

Retries wait in RabbitMQ, not in memory: each delay is a quorum queue `{prefix}.retry.{ms}` whose message TTL
dead-letters the message back to its destination's queue (docs/architecture.md, "Topology"); hookpipe.amqp.topology
derives the rungs from the config's schedules, in jitter buckets.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

from deliverer.outcomes import AttemptReason
from hookpipe.config import DestinationConfig
from hookpipe.event import Event, now_ms
from hookpipe.outcomes import DeadLetterReason
from hookpipe.rungs import JITTER_FACTORS, coarse_rung, rung_for


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a `Retry-After` header (delay-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def expired(destination: DestinationConfig, event: Event) -> bool:
    """Whether the event is older than its destination's `retry.max_age` (dead letter `expired`)."""
    return now_ms() - event.age_from > destination.retry.max_age * 1000


@dataclass(frozen=True, slots=True)
class Decision:
    """`retry_ms` set: publish to that rung. Else dead-letter with `reason`."""

    retry_ms: int | None = None
    reason: DeadLetterReason | None = None


def decide(
    *,
    attempt: int,
    status: int | None,
    failure: AttemptReason,
    retry_after: float | None,
    age: float,
    destination: DestinationConfig,
    rungs: Iterable[int],
    rng: random.Random | None = None,
) -> Decision:
    """The next step after failed attempt number `attempt` (1 = the first try) of an event `age` seconds old.

    `failure` is the failed attempt's reason.
    """
    if failure == AttemptReason.BLOCKED_ADDRESS:
        return Decision(reason=DeadLetterReason.BLOCKED_ADDRESS)  # the address will not change by waiting
    if status is not None and status in destination.dead_letter_on:
        return Decision(reason=DeadLetterReason.DEAD_LETTER_ON)
    schedule = destination.retry.schedule
    if attempt > len(schedule):
        return Decision(reason=DeadLetterReason.EXHAUSTED)
    delay = schedule[attempt - 1] * (rng or random).choice(JITTER_FACTORS)
    if age + delay > destination.retry.max_age:
        return Decision(reason=DeadLetterReason.EXPIRED)
    if retry_after is not None and retry_after > delay:
        # Honour the receiver, never earlier than the schedule: the smallest rung at or above its request. A
        # wait that outlives max_age expires the event now, which also bounds the coarse rungs that can exist
        # (hookpipe topology prune relies on it).
        above = [rung for rung in rungs if rung >= rung_for(retry_after)]
        ms = min(above) if above else coarse_rung(retry_after)
        if age + ms / 1000 > destination.retry.max_age:
            return Decision(reason=DeadLetterReason.EXPIRED)
        return Decision(retry_ms=ms)
    return Decision(retry_ms=rung_for(delay))
