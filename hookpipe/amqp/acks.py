"""Acks of one consumer channel, batched: one `basic.ack multiple=True` for many deliveries, never an early one.

Every ack costs the client a frame and a socket write, and a quorum queue a Raft command, so acking many
deliveries at once saves CPU on both sides. RabbitMQ's `multiple=True` acks every outstanding delivery up to a
tag, so it may only be sent up to a tag below which *every* delivery of the channel has been settled: an ack
sent for an event still in flight would break the router's and the deliverer's guarantees
(docs/architecture.md, "Guarantees and how each hop keeps them").

How: `consume()` (hookpipe.amqp.broker) registers each delivery's tag, in delivery order, before its handler runs.
Acks asked for during one turn of the event loop are flushed together at the end of that turn: one multiple
ack up to the highest asked-for tag below the lowest tag still in flight, and a single ack for each asked-for
tag above it. Nothing waits for a slow delivery: a tag above an unsettled one is acked on its own. Nacks go out
in order with the acks, and their tag counts as settled only once the nack is written. A caller's `ack()`
returns once its frame is handed to the connection (as aio-pika's own ack does).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import weakref
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

log = logging.getLogger(__name__)

#: The heap of delivered tags is rebuilt from the tags in flight once it holds this many times more entries
#: (plus the slack), so stale entries above a slow delivery cannot pile up.
COMPACT_FACTOR = 4
COMPACT_SLACK = 256


class AckBatcher:
    """Batches the acks of one channel (aiormq's). Use `delivered(tag)` for every delivery, in delivery order,
    then `ack(tag)` or `nack(tag, requeue=...)` once for each."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self._in_flight: set[int] = set()  # delivered, neither ack nor nack asked for yet
        self._lowest: list[int] = []  # heap over tags delivered; entries no longer in flight are dropped lazily
        self._asked: list[tuple[int, asyncio.Future[None]]] = []  # acks asked for since the last flush
        self._flush_scheduled = False
        self._send_lock = asyncio.Lock()  # frames leave in the order the flushes were computed

    def delivered(self, tag: int) -> None:
        self._in_flight.add(tag)
        heapq.heappush(self._lowest, tag)

    async def ack(self, tag: int) -> None:
        """Ask for the ack of `tag`; returns once it is handed to the connection, raises if it could not be."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._asked.append((tag, done))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        await done

    async def nack(self, tag: int, *, requeue: bool) -> None:
        async with self._send_lock:
            try:
                await self._channel.basic_nack(delivery_tag=tag, requeue=requeue)
            finally:
                self._in_flight.discard(tag)

    def _flush(self) -> None:
        self._flush_scheduled = False
        asked, self._asked = self._asked, []
        for tag, _ in asked:
            self._in_flight.discard(tag)
        while self._lowest and self._lowest[0] not in self._in_flight:
            heapq.heappop(self._lowest)
        if len(self._lowest) > COMPACT_FACTOR * len(self._in_flight) + COMPACT_SLACK:
            # One slow delivery at the bottom keeps every settled tag above it in the heap: rebuild it from the
            # tags still in flight, so memory stays bounded by the prefetch, not by the time that delivery takes.
            self._lowest = sorted(self._in_flight)
        lowest_in_flight = self._lowest[0] if self._lowest else None
        below = [tag for tag, _ in asked if lowest_in_flight is None or tag < lowest_in_flight]
        above = sorted(tag for tag, _ in asked if lowest_in_flight is not None and tag > lowest_in_flight)
        frames = ([(max(below), True)] if below else []) + [(tag, False) for tag in above]
        asyncio.get_running_loop().create_task(self._send(frames, [done for _, done in asked]))

    async def _send(self, frames: list[tuple[int, bool]], waiting: list[asyncio.Future[None]]) -> None:
        error: BaseException | None = None
        async with self._send_lock:
            try:
                for number, (tag, multiple) in enumerate(frames):
                    last = number == len(frames) - 1
                    await self._channel.basic_ack(delivery_tag=tag, multiple=multiple, wait=last)
            except Exception as failure:
                error = failure
        for done in waiting:
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


#: aiormq channel -> its batcher; an entry goes with its channel.
_batchers: weakref.WeakKeyDictionary[Any, AckBatcher] = weakref.WeakKeyDictionary()


def batcher_of(message: AbstractIncomingMessage) -> AckBatcher | None:
    """The batcher of the channel `message` came on, when it came through hookpipe.amqp.broker.consume()."""
    return _batchers.get(message.channel)


def attach(channel: Any) -> AckBatcher:
    """A batcher for this aiormq channel (the channel's delivery tags are its own)."""
    batcher = _batchers[channel] = AckBatcher(channel)
    return batcher
