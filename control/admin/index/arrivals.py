"""Stream messages as the indexer receives them: decoded on arrival, queued, and taken in batches.

A message that cannot be read (not an event, not a batch of records, a record whose fields have the wrong
types) still moves its stream's cursor, so it is skipped once, counted and logged, and never stops the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from control.admin.index.merge import ArchivedEvent
from control.admin.index.writes import Batch
from hookpipe.amqp.codec import MalformedEvent, decode_event
from hookpipe.delivery_log import Attempt, DeadLettered, MalformedRecords, Record, Routed, decode_batch
from hookpipe.event import now_ms
from hookpipe.runtime import metrics

log = logging.getLogger("hookpipe.admin.index")

#: The header RabbitMQ adds to each message a stream consumer receives: its offset in the stream.
OFFSET_HEADER = "x-stream-offset"

#: The streams, as the malformed-messages metric names them.
ARCHIVE = "archive"
DELIVERY_LOG = "delivery_log"


@dataclass(slots=True)
class Arrival:
    """One stream message, read: an archived event, or delivery-log records (none if it was unreadable). The
    message itself is not kept (an event's body can be large): only its delivery tag, to ack it once written."""

    stream: str  # the stream's name
    offset: int
    tag: int  # the delivery tag on its consumer's channel
    time: int  # UTC ms it was written (an event's received_at, a record's at): what the lag counts from
    event: ArchivedEvent | None = None
    records: list[Record] = field(default_factory=list)

    @property
    def weight(self) -> int:
        return max(1, len(self.records))


_OPTIONAL_TEXT = (str, type(None))

#: The types the index relies on, per record kind (decode_batch checks the fields' names, not their types).
FIELD_TYPES: dict[type, dict[str, type | tuple[type, ...]]] = {
    Routed: {"event_id": str, "source": str, "type": _OPTIONAL_TEXT, "received_at": int, "at": int,
             "decision": str, "routes": tuple, "destinations": tuple, "reason": _OPTIONAL_TEXT, "replay": bool,
             "resend": bool},
    Attempt: {"event_id": str, "destination": str, "attempt": int, "at": int, "duration_ms": int, "delivered": bool,
              "reason": str, "status": (int, type(None)), "error": str, "response": str, "replay": bool,
              "resend": bool},
    DeadLettered: {"event_id": str, "destination": str, "at": int, "reason": str, "attempts": int},
}


def well_typed(record: Record) -> bool:
    if not all(isinstance(getattr(record, name), expected) for name, expected in FIELD_TYPES[type(record)].items()):
        return False
    return not isinstance(record, Routed) or all(isinstance(name, str) for name in record.routes + record.destinations)


def read_archive(stream: str, offset: int, message: AbstractIncomingMessage) -> Arrival:
    try:
        event = decode_event(message)
    except MalformedEvent as error:
        _malformed(ARCHIVE, stream, offset, str(error))
        return Arrival(stream, offset, _tag(message), now_ms())
    archived = ArchivedEvent(id=event.id, source=event.source, type=event.type, received_at=event.received_at,
                             content_type=event.content_type, size=len(event.body), headers=event.headers,
                             offset=offset)
    return Arrival(stream, offset, _tag(message), event.received_at, event=archived)


def read_log(stream: str, offset: int, message: AbstractIncomingMessage) -> Arrival:
    try:
        records = decode_batch(message.body)
        if not all(well_typed(record) for record in records):
            raise MalformedRecords("a record's fields have the wrong types")
    except MalformedRecords as error:
        _malformed(DELIVERY_LOG, stream, offset, str(error))
        return Arrival(stream, offset, _tag(message), now_ms())
    records = [record for record in records if record.event_id]  # a dead letter of a message with no id
    time = min((record.at for record in records), default=now_ms())
    return Arrival(stream, offset, _tag(message), time, records=records)


def _malformed(kind: str, stream: str, offset: int, error: str) -> None:
    metrics.ADMIN_INDEX_MALFORMED.labels(stream=kind).inc()
    log.warning("skipped an unreadable stream message", extra={"stream": stream, "offset": offset, "error": error})


def batch_of(arrivals: list[Arrival]) -> Batch:
    batch = Batch()
    for arrival in arrivals:
        batch.cursors[arrival.stream] = arrival.offset + 1
        if arrival.event is not None:
            batch.archived.append(arrival.event)
        batch.records += [((arrival.offset, index), record) for index, record in enumerate(arrival.records)]
    return batch


class Inbox:
    """Arrivals of both streams in the order they came, taken in batches."""

    def __init__(self) -> None:
        self._arrivals: deque[Arrival] = deque()
        self._weight = 0  # records waiting (an unreadable message counts one)
        self._changed = asyncio.Event()

    def put(self, arrival: Arrival) -> None:
        self._arrivals.append(arrival)
        self._weight += arrival.weight
        self._changed.set()

    def oldest(self) -> int | None:
        """When the first arrival still waiting was written (UTC ms), None if none waits."""
        return self._arrivals[0].time if self._arrivals else None

    async def take(self, *, messages: int, records: int, window: float) -> list[Arrival]:
        """Waits for an arrival, then up to `window` seconds more for others; returns at most `messages`
        arrivals holding at most `records` records (always at least one arrival)."""
        while not self._arrivals:
            self._changed.clear()
            await self._changed.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + window
        while len(self._arrivals) < messages and self._weight < records and loop.time() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
        taken: list[Arrival] = []
        weight = 0
        while self._arrivals and len(taken) < messages and (not taken or weight + self._arrivals[0].weight <= records):
            weight += self._arrivals[0].weight
            taken.append(self._arrivals.popleft())
        self._weight -= weight
        return taken


def offset_of(message: AbstractIncomingMessage) -> Any:
    return (message.headers or {}).get(OFFSET_HEADER)


def _tag(message: AbstractIncomingMessage) -> int:
    return message.delivery_tag or 0
