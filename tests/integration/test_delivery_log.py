"""The delivery log: the router records each decision and the deliverer each attempt and dead letter, in the
`{prefix}.attempts` stream, before acking what they consumed; records are grouped into few stream messages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from hookpipe.amqp.broker import Publisher, QueueReader
from hookpipe.amqp.recorder import Recorder, declare_delivery_log
from hookpipe.amqp.topology import Names
from hookpipe.delivery_log import Attempt, DeadLettered, Record, Routed, decode_batch
from tests.support.broker import AMQP_URL, connect
from tests.support.pipeline import InProcessPipeline, load, pipeline_config, post_events

pytestmark = pytest.mark.integration


async def _read_log(prefix: str, until: Any, timeout: float = 15.0) -> tuple[list[Record], int]:
    """Every record of the stream from its start, read until `until(records)` holds; and the messages read."""
    connection = await connect()
    records: list[Record] = []
    messages = 0
    async with connection:
        reader = QueueReader(await connection.channel(), Names(prefix).delivery_log, idle=timeout)
        await reader.start(100, {"x-stream-offset": "first"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until(records) and loop.time() < deadline:
            message = await reader.next()
            if message is None:
                break
            messages += 1
            records += decode_batch(message.body)
            await message.ack()
    return records, messages


@pytest.fixture
async def pipeline(prefix, receiver, topology_cleanup):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    running = InProcessPipeline(config)
    await running.start()
    yield config
    await running.stop()


async def test_each_decision_attempt_and_dead_letter_is_recorded_in_order(pipeline, prefix, receiver):
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if request.headers["webhook-id"] == "fails-once" and request.headers["x-hookpipe-attempt"] == "1":
            return web.Response(status=500, text="try later")
        if request.headers["webhook-id"] == "always-fails":
            return web.Response(status=503, text="down")
        return web.Response(status=200)

    receiver.respond = respond
    await post_events(pipeline, ["fails-once", "always-fails"])

    def done(records: list[Record]) -> bool:
        return any(isinstance(r, DeadLettered) for r in records) and sum(
            isinstance(r, Attempt) and r.delivered for r in records) == 1

    records, _ = await _read_log(prefix, done)
    routed = {r.event_id: r for r in records if isinstance(r, Routed)}
    assert routed["fails-once"].destinations == ("receiver",) and routed["fails-once"].routes == ("demo",)
    assert routed["fails-once"].source == "demo" and routed["fails-once"].decision == "routed"
    attempts = [(r.event_id, r.attempt, r.status, r.delivered) for r in records if isinstance(r, Attempt)]
    once = [("fails-once", 1, 500, False), ("fails-once", 2, 200, True)]
    assert [a for a in attempts if a[0] == "fails-once"] == once
    # The schedule has two retries: three attempts, then dead-lettered as exhausted.
    assert [a for a in attempts if a[0] == "always-fails"] == [("always-fails", n, 503, False) for n in (1, 2, 3)]
    failed = next(r for r in records if isinstance(r, Attempt) and r.event_id == "always-fails")
    assert failed.response == "down" and failed.reason == "http_status" and failed.duration_ms >= 0
    dead = next(r for r in records if isinstance(r, DeadLettered))
    assert (dead.event_id, dead.destination, dead.reason, dead.attempts) == ("always-fails", "receiver", "exhausted", 3)


async def test_records_awaited_together_share_few_stream_messages(prefix, topology_cleanup):
    config = pipeline_config(prefix, "http://127.0.0.1:9/")
    topology_cleanup(config)
    loaded = load(config).config
    publisher = Publisher(AMQP_URL, name="test-recorder", heartbeat=2, timeout=5,
                          declare=lambda connection: declare_delivery_log(connection, loaded))
    publisher.start()
    try:
        assert await publisher.link.wait_ready(15)
        recorder = Recorder(publisher, Names(prefix).delivery_log)
        sent = [DeadLettered(event_id=f"e{n}", destination="d", at=n, reason="expired", attempts=0) for n in range(300)]
        await asyncio.gather(*(recorder.record(record) for record in sent))
    finally:
        await publisher.close()
    records, messages = await _read_log(prefix, lambda records: len(records) >= 300)
    assert records == sent
    assert messages < 30, f"{messages} stream messages for 300 records"
