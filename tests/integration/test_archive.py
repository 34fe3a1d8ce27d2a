"""The archive: every accepted event lands in the `{prefix}.archive` stream, and a stream that exists with
other limits is kept rather than stopping ingest."""

from __future__ import annotations

import asyncio

import aio_pika
import aiohttp
import pytest

from tests.support.broker import connect
from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config

pytestmark = pytest.mark.integration


async def read_stream(name: str, count: int, timeout: float = 20) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """The first `count` messages of a stream, from its start."""
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    done = asyncio.Event()
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        stream = await channel.declare_queue(name, passive=True)

        async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            got.append(message)
            await message.ack()
            if len(got) >= count:
                done.set()

        await stream.consume(take, arguments={"x-stream-offset": "first"})
        await asyncio.wait_for(done.wait(), timeout)
    return got


async def post(config: dict, ids: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        for event_id in ids:
            async with http.post(ingest_url(config), json={"n": event_id}, headers={"x-test-id": event_id}) as r:
                assert r.status == 200


async def test_accepted_events_are_archived_and_changed_limits_keep_the_stream(prefix, receiver, topology_cleanup):
    config = pipeline_config(prefix, receiver.url, archive={"max_age": "1h", "max_bytes": "10MiB"})
    topology_cleanup(config)
    ingest = InProcessPipeline(config, services=("ingest",))
    await ingest.start()
    try:
        await post(config, ["a1", "a2", "a3"])
    finally:
        await ingest.stop()

    changed = dict(config, archive={"max_age": "2h", "max_bytes": "10MiB"})
    again = InProcessPipeline(changed, services=("ingest",))
    await again.start()  # the existing stream's limits win; ingest still starts and accepts
    try:
        await post(changed, ["a4"])
    finally:
        await again.stop()

    archived = await read_stream(f"{prefix}.archive", 4)
    assert [message.message_id for message in archived] == ["a1", "a2", "a3", "a4"]
    assert archived[0].headers["x-hookpipe-source"] == "demo"
    assert archived[0].body == b'{"n": "a1"}'
