"""hookpipe.amqp.confirms against a real broker: pipelined publishes are each confirmed, arrive whole and in order,
and every way a publish can fail surfaces as PublishFailed with its reason, never as a hang or a cancellation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from hookpipe.amqp.broker import Publisher, PublishFailed
from hookpipe.amqp.wire import outgoing
from tests.support.broker import connect
from tests.support.pipeline import AMQP_URL

pytestmark = pytest.mark.integration


@pytest.fixture
def queue(prefix: str) -> str:
    return f"{prefix}.confirms"


@pytest.fixture
async def publisher(queue: str) -> AsyncIterator[Publisher]:
    """A started Publisher whose set-up declares `queue` (a quorum queue, as hookpipe's), deleted after."""
    async def declare(connection: AbstractConnection) -> None:
        async with connection.channel() as channel:
            await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})

    publisher = Publisher(AMQP_URL, name="test-confirms", heartbeat=10, timeout=10, declare=declare)
    publisher.start()
    assert await publisher.link.wait_ready(15)
    yield publisher
    await publisher.close()
    connection = await connect()
    async with connection:
        await (await connection.channel()).queue_delete(queue)


async def _drain(queue: str, count: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await connect()
    async with connection:
        source = await (await connection.channel()).get_queue(queue)
        messages = []
        while len(messages) < count and (message := await source.get(fail=False, no_ack=True)) is not None:
            messages.append(message)
        return messages


async def test_concurrent_publishes_are_each_confirmed_and_arrive_whole_and_in_order(publisher, queue):
    bodies = [os.urandom(64) * (1 + number % 3) for number in range(1000)]
    # Started together: they share batches, and each awaits its own confirm.
    await asyncio.gather(*(
        publisher.publish(outgoing(body, message_id=f"m{number}", headers={"n": number}), exchange="",
                          routing_key=queue)
        for number, body in enumerate(bodies)
    ))
    messages = await _drain(queue, len(bodies) + 1)
    assert [message.message_id for message in messages] == [f"m{number}" for number in range(1000)]
    assert [message.body for message in messages] == bodies
    assert [message.headers["n"] for message in messages] == list(range(1000))
    assert all(message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for message in messages)


async def test_a_body_larger_than_a_frame_is_split_and_arrives_byte_for_byte(publisher, queue):
    body = os.urandom(3 * 131072 + 17)  # frame_max is 128 KiB: four body frames
    await publisher.publish(outgoing(body, message_id="big"), exchange="", routing_key=queue)
    await publisher.publish(outgoing(b"", message_id="empty"), exchange="", routing_key=queue)
    messages = await _drain(queue, 3)
    assert [(message.message_id, message.body) for message in messages] == [("big", body), ("empty", b"")]


async def test_an_unroutable_publish_fails_as_returned_while_its_neighbours_are_confirmed(publisher, queue, prefix):
    results = await asyncio.gather(
        publisher.publish(outgoing(b"a", message_id="a"), exchange="", routing_key=queue),
        publisher.publish(outgoing(b"b", message_id="b"), exchange="", routing_key=f"{prefix}.nowhere"),
        publisher.publish(outgoing(b"c", message_id="c"), exchange="", routing_key=queue),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], PublishFailed) and results[1].reason == "returned"
    assert [message.body for message in await _drain(queue, 3)] == [b"a", b"c"]


async def test_a_publish_to_a_missing_exchange_fails_and_the_next_one_gets_a_new_channel(publisher, queue, prefix):
    with pytest.raises(PublishFailed) as failure:
        await publisher.publish(outgoing(b"x", message_id="x"), exchange=f"{prefix}.missing", routing_key="k")
    assert failure.value.reason == "disconnected"  # the broker closed the channel: 404 NOT_FOUND
    await publisher.publish(outgoing(b"y", message_id="y"), exchange="", routing_key=queue)
    assert [message.body for message in await _drain(queue, 2)] == [b"y"]


async def test_publishes_pending_when_the_connection_drops_fail_as_disconnected_not_cancelled(publisher, queue):
    pending = [asyncio.create_task(publisher.publish(outgoing(b"p" * 1000, message_id=f"p{number}"),
                                                     exchange="", routing_key=queue))
               for number in range(200)]
    await asyncio.sleep(0)  # queued in the batch, not yet confirmed
    connection = publisher.link.connection
    assert connection is not None
    await connection.close()
    results = await asyncio.gather(*pending, return_exceptions=True)
    failed = [result for result in results if result is not None]
    assert failed, "closing the connection under 200 unconfirmed publishes failed none of them"
    assert all(isinstance(result, PublishFailed) and result.reason == "disconnected" for result in failed)
    # The link reconnects and publishing works again.
    assert await publisher.link.wait_ready(15)
    await publisher.publish(outgoing(b"again", message_id="again"), exchange="", routing_key=queue)


async def test_a_publish_that_cannot_be_encoded_fails_alone_and_later_confirms_still_match(publisher, queue, prefix):
    with pytest.raises(ValueError):
        await publisher.publish(outgoing(b"x", message_id="x"), exchange="", routing_key="k" * 256)
    # Had the refused publish used up a delivery tag, this confirm would be matched to it and never arrive.
    await publisher.publish(outgoing(b"y", message_id="y"), exchange="", routing_key=queue, timeout=5)
    returned = publisher.publish(outgoing(b"z", message_id="z"), exchange="", routing_key=f"{prefix}.nowhere")
    with pytest.raises(PublishFailed, match="returned"):
        await returned


async def test_a_publish_the_broker_nacks_fails_as_nacked_and_the_next_goes_on_a_new_channel(publisher, prefix):
    # A classic queue enforces its length exactly (a quorum queue's reject-publish lags by a message or so).
    full = f"{prefix}.full"  # holds one message and nacks what does not fit
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(full, durable=True, arguments={
            "x-queue-type": "classic", "x-max-length": 1, "x-overflow": "reject-publish"})
        try:
            await publisher.publish(outgoing(b"1", message_id="one"), exchange="", routing_key=full)
            with pytest.raises(PublishFailed) as failure:
                await publisher.publish(outgoing(b"2", message_id="two"), exchange="", routing_key=full)
            assert failure.value.reason == "nacked"
            assert publisher._channel is None  # retired: the next publish opens a new channel
            assert [message.body for message in await _drain(full, 2)] == [b"1"]
            await publisher.publish(outgoing(b"3", message_id="three"), exchange="", routing_key=full)
            assert publisher._channel is not None and not publisher._channel.is_closed
        finally:
            await channel.queue_delete(full)
