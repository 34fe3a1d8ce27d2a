"""Closing a consumer's channel on purpose (breaker open, FIFO give-back) must not reconnect the whole link:
that would return every other destination's unacked deliveries and deliver them twice."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from hookpipe.broker import Link, consume
from tests.support.pipeline import AMQP_URL

pytestmark = pytest.mark.integration


async def test_closing_a_consumption_keeps_the_link(prefix):
    link = Link(AMQP_URL, name="test-consume", heartbeat=5)
    link.start()
    try:
        assert await link.wait_ready(15)
        connection = link.connection
        assert connection is not None
        async with connection.channel() as channel:
            await channel.declare_queue(f"{prefix}.q", auto_delete=True)

        async def ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            pass

        consumption = await consume(link, connection, f"{prefix}.q", ignore, prefetch=1)
        await consumption.cancel()
        await consumption.close()
        for _ in range(5):
            await asyncio.sleep(0)  # let every close callback run
        assert consumption.channel.is_closed
        assert link.is_ready and link.connection is connection
    finally:
        await link.close()
