"""Queue look-ups every chaos scenario needs (the private node for the broker restart is
tests.support.rabbitmq_node)."""

from __future__ import annotations

import asyncio

import aio_pika
import aiormq

from hookpipe.amqp.broker import queue_state

#: Bound on one look at the broker (s), its connection and close included: a look that hangs fails the scenario
#: with a TimeoutError instead of holding the whole run.
LOOK_TIMEOUT = 60.0


async def queue_depth(url: str, queue: str) -> int:
    """Ready messages in `queue` (0 if it does not exist)."""
    async with asyncio.timeout(LOOK_TIMEOUT):
        connection = await aio_pika.connect(url, timeout=10)
        async with connection:
            state = await queue_state(connection, queue)
    return state.messages if state is not None else 0


async def message_ids(url: str, queue: str, header: str = "") -> dict[str, str]:
    """The message id of every message in `queue`, each with its `header` ('' if absent or not asked for), read
    without removing them (all are requeued when the channel closes)."""
    ids: dict[str, str] = {}
    async with asyncio.timeout(LOOK_TIMEOUT):
        connection = await aio_pika.connect(url, timeout=10)
        async with connection:
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(queue, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                return ids
            while (message := await declared.get(no_ack=False, fail=False, timeout=10)) is not None:
                value = message.headers.get(header) if header else None
                ids[message.message_id or ""] = value.decode() if isinstance(value, bytes) else str(value or "")
    return ids
