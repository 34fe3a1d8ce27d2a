"""Appends delivery-log records (hookpipe.delivery_log) to the `{prefix}.attempts` stream, group-committed.

A record is an output like any other: the router and the deliverer ack their input only once its record is
confirmed, so a crash loses no record of something that happened (it may record an attempt twice, as the
attempt itself may happen twice). To cost delivery nothing measurable, records are grouped: while one batch
waits for its confirm, the records that arrive meanwhile gather into the next, published as one stream message
the moment the first is confirmed. At a low rate each record goes alone and waits one confirm; under load a
message carries hundreds, and each record still waits about one confirm.
"""

from __future__ import annotations

import asyncio
import logging

import aiormq
from aio_pika.abc import AbstractConnection

from hookpipe.amqp.broker import Publisher, describe
from hookpipe.amqp.topology import Names, declare_stream
from hookpipe.amqp.wire import outgoing
from hookpipe.config import Config
from hookpipe.delivery_log import Record, encode_batch

log = logging.getLogger("hookpipe.amqp")

#: Most records in one stream message (about 300 bytes each).
MAX_BATCH = 500

#: The stream message's content type: a JSON array of records.
CONTENT_TYPE = "application/json"


async def declare_delivery_log(connection: AbstractConnection, config: Config) -> None:
    """Declare the delivery log's stream (if on), on a channel of its own: one that exists with other limits is
    kept as it is (its retention is fixed at creation; a RabbitMQ policy changes it in place)."""
    if config.delivery_log is None:
        return
    stream = Names.of(config.broker).delivery_log
    try:
        async with connection.channel() as channel:
            await declare_stream(channel, stream, config.delivery_log)
    except aiormq.exceptions.ChannelPreconditionFailed as error:
        log.warning("the delivery log stream exists with other limits; keeping it as it is",
                    extra={"stream": stream, "error": describe(error)})


def recorder_for(config: Config, publisher: Publisher) -> Recorder | NoRecorder:
    """The recorder a service appends with: none when `delivery_log: off`."""
    if config.delivery_log is None:
        return NoRecorder()
    return Recorder(publisher, Names.of(config.broker).delivery_log)


class Recorder:
    """Group-commits records to `stream` on `publisher` (the service's own publisher, so records share its
    connection and its confirms pipeline)."""

    def __init__(self, publisher: Publisher, stream: str, *, max_batch: int = MAX_BATCH) -> None:
        self._publisher = publisher
        self._stream = stream
        self._max_batch = max_batch
        self._pending: list[tuple[Record, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, record: Record) -> None:
        """Returns once `record` is confirmed by the broker; raises PublishFailed if its batch was not."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((record, done))
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                message = outgoing(encode_batch([record for record, _ in batch]), message_id=None,
                                   content_type=CONTENT_TYPE)
                try:
                    await self._publisher.publish(message, exchange="", routing_key=self._stream)
                except Exception as error:  # PublishFailed, or a bug: either way every waiter hears of it
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._flushing = None


class NoRecorder:
    """The delivery log is off (`delivery_log: off`): records go nowhere."""

    async def record(self, record: Record) -> None:
        return None
