"""Reading the archive and the delivery log: a consumer from a stored offset, the stream's tail, one archived event.

A stream keeps its messages after they are read: a consumer names where to start (`x-stream-offset`: "first", an
offset, or a time) and acks only to grant itself credit for more (it needs a prefetch). RabbitMQ tags each
message it delivers with its offset, which is what the index stores as its cursor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from control.admin.index.arrivals import OFFSET_HEADER, Arrival, Inbox, offset_of
from hookpipe.amqp.broker import QueueReader, close_quietly, describe, queue_state
from hookpipe.amqp.codec import MalformedEvent, decode_event
from hookpipe.amqp.topology import Names
from hookpipe.event import Event

#: Messages of one stream sent to the indexer ahead of what it has written: two batches' worth, so the next
#: batch gathers while one is written.
PREFETCH = 1000

#: Seconds the tail probe waits for the last chunk of a stream: RabbitMQ sends it at once, so nothing in this
#: time means the stream is empty.
TAIL_FIRST_WAIT = 0.5

#: Seconds without a message after which the tail probe has the whole last chunk (its messages come together).
TAIL_IDLE = 0.1

#: Seconds read_archived waits for the message at the asked offset.
ARCHIVE_READ_TIMEOUT = 3.0

Reader = Callable[[str, int, AbstractIncomingMessage], Arrival]


class StreamFeed:
    """Consumes one stream from `start` (the next offset to read, or None for the stream's first message) on a
    channel of its own, reading each message with `read` into `inbox`. `on_lost(reason)` is called if the broker
    closes the channel or cancels the consumer (the stream was deleted)."""

    def __init__(self, connection: AbstractConnection, stream: str, start: int | None, read: Reader,
                 inbox: Inbox, on_lost: Callable[[str], None]) -> None:
        self.connection = connection
        self.stream = stream
        self.next = start or 0  # messages before it are skipped (already indexed)
        self._start = start
        self._read = read
        self._inbox = inbox
        self._on_lost = on_lost
        self._channel: AbstractChannel | None = None
        self._underlying: Any = None  # aiormq's channel, to ack by delivery tag
        self._closing = False

    async def start(self) -> None:
        channel = self._channel = await self.connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=PREFETCH)
        channel.close_callbacks.add(self._channel_closed)
        underlying = self._underlying = await channel.get_underlay_channel()
        underlying.on_consumer_cancel_callbacks.add(lambda _: self._on_lost(f"{self.stream}: consumer cancelled"))
        queue = await channel.get_queue(self.stream, ensure=False)
        offset: int | str = "first" if self._start is None else self._start
        await queue.consume(self._arrived, no_ack=False, arguments={OFFSET_HEADER: offset})

    def _channel_closed(self, _: Any, error: BaseException | None = None) -> None:
        if not self._closing:
            self._on_lost(f"{self.stream}: channel closed" + (f": {describe(error)}" if error else ""))

    async def _arrived(self, message: AbstractIncomingMessage) -> None:
        offset = offset_of(message)
        if not isinstance(offset, int) or offset < self.next:
            await message.ack()  # before our start (a stream may begin at its chunk), or no offset: not ours
            return
        self.next = offset + 1
        self._inbox.put(self._read(self.stream, offset, message))

    async def acknowledge(self, tag: int) -> None:
        """Grant credit for every message up to the one delivered with `tag` (they are written)."""
        with contextlib.suppress(Exception):  # a channel gone meanwhile: the feed is being replaced anyway
            await self._underlying.basic_ack(tag, multiple=True)

    async def close(self) -> None:
        self._closing = True
        await close_quietly(self._channel)


async def stream_tail(connection: AbstractConnection, stream: str) -> int | None:
    """The offset of the stream's last message now, or None if the stream is missing or empty.

    Consumes from `last`, which starts at the stream's last chunk, and keeps the highest offset delivered."""
    if await queue_state(connection, stream) is None:
        return None
    channel = await connection.channel(publisher_confirms=False)
    try:
        reader = QueueReader(channel, stream, idle=TAIL_FIRST_WAIT)
        await reader.start(PREFETCH, {OFFSET_HEADER: "last"})
        last: int | None = None
        while (message := await reader.next()) is not None:
            offset = offset_of(message)
            if isinstance(offset, int):
                last = offset if last is None else max(last, offset)
            await message.ack()
            reader.idle = TAIL_IDLE
        return last
    finally:
        await close_quietly(channel)


async def read_archived(connection: AbstractConnection, names: Names, offset: int, event_id: str) -> Event | None:
    """The event archived at `offset` of `names.archive`, body and all; None if that message is gone (the
    archive's retention dropped it), is another event, or is not an event."""
    if await queue_state(connection, names.archive) is None:
        return None
    channel = await connection.channel(publisher_confirms=False)
    try:
        reader = QueueReader(channel, names.archive, idle=ARCHIVE_READ_TIMEOUT)
        await reader.start(10, {OFFSET_HEADER: offset})
        while (message := await reader.next()) is not None:
            await message.ack()
            found = offset_of(message)
            if not isinstance(found, int) or found < offset:
                continue  # the stream may start at the beginning of the chunk holding `offset`
            if found > offset or message.message_id != event_id:
                return None  # retention dropped it: the stream now starts later
            try:
                return decode_event(message)
            except MalformedEvent:
                return None
        return None
    finally:
        await close_quietly(channel)
