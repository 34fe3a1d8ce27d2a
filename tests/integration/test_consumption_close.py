"""Closing one consumer's channel on purpose (a breaker opening, a pause, a FIFO give-back) must not reconnect
the whole consuming link: that would requeue every unacked delivery of every destination on it, and each would
be delivered again (found by `make chaos`, flapping-receiver: 68 duplicates where none may be)."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from hookpipe.amqp.broker import Consumption, Link, consume
from tests.support.broker import connect
from tests.support.pipeline import AMQP_URL

pytestmark = pytest.mark.integration


async def test_closing_a_consumption_on_purpose_keeps_the_link_and_its_other_consumers(prefix):
    queues = [f"{prefix}.a", f"{prefix}.b"]
    consumptions: dict[str, Consumption] = {}
    arrived: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_message(message: AbstractIncomingMessage) -> None:
        await arrived.put(message.body)
        await message.ack()

    async def on_open(connection: AbstractConnection) -> None:
        channel = await connection.channel()
        for queue in queues:
            await channel.declare_queue(queue, auto_delete=True)
        await channel.close()
        for queue in queues:
            consumptions[queue] = await consume(link, connection, queue, on_message, prefetch=5)

    link = Link(AMQP_URL, name="test-consume", heartbeat=2, on_open=on_open)
    link.start()
    try:
        assert await link.wait_ready(15)
        connection = link.connection
        await consumptions[queues[0]].close()
        assert link.is_ready and link.connection is connection, "a deliberate close reconnected the link"

        # The other consumer still receives, on the same connection.
        publisher = await connect()
        async with publisher:
            channel = await publisher.channel()
            await channel.default_exchange.publish(aio_pika.Message(b"still here"), routing_key=queues[1])
        assert await asyncio.wait_for(arrived.get(), 10) == b"still here"
        assert link.connection is connection
    finally:
        await link.close()
