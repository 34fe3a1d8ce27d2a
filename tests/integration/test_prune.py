"""hookpipe topology prune: empty rungs nothing uses go; rungs holding messages, rungs in use and the config's
own rungs stay; and nothing waiting in a rung is lost."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aio_pika
import aiohttp
import pytest
from aiohttp import web

from control.prune import candidate_rungs, prune_rungs
from hookpipe.amqp.broker import queue_state
from hookpipe.amqp.topology import Names, declare_all, declare_retry_rung
from hookpipe.rungs import configured_rungs
from tests.support.broker import connect
from tests.support.pipeline import InProcessPipeline, ingest_url, load, pipeline_config, write_config
from tests.support.rabbitmq_node import NodeUnavailable, start_private_rabbitmq
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

EMPTY_RUNTIME = 2000  # a coarse Retry-After rung nothing waits in
HOLDING = 3000  # a coarse rung with a retry waiting in it
OLD_SCHEDULE = 4321  # a rung an earlier schedule made; only found when named (--rung)
NOT_A_CANDIDATE = 5555  # not on the grid, not named: never looked at


def hookpipe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "control.cli", *args], capture_output=True, text=True, timeout=60)


async def test_prune_deletes_only_empty_unused_rungs(prefix, topology_cleanup, tmp_path):
    config = pipeline_config(prefix, "http://127.0.0.1:9/hook")
    topology_cleanup(config)
    loaded = load(config).config
    names = Names(prefix)
    extra = (EMPTY_RUNTIME, HOLDING, OLD_SCHEDULE, NOT_A_CANDIDATE)
    connection = await connect()
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare_all(channel, loaded)
        for ms in extra:
            await declare_retry_rung(channel, names, ms)
        rung = await channel.get_exchange(names.retry(HOLDING))
        await rung.publish(aio_pika.Message(b"{}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                           routing_key="receiver", mandatory=True)

        dry = await prune_rungs(connection, loaded, candidate_rungs(loaded, [OLD_SCHEDULE]), dry_run=True)
        assert sorted(dry.deleted) == [EMPTY_RUNTIME, OLD_SCHEDULE]
        assert await queue_state(connection, names.retry(EMPTY_RUNTIME)) is not None  # dry run deleted nothing

        path = str(write_config(tmp_path, config))
        done = await asyncio.to_thread(hookpipe, "topology", "prune", "--config", path, "--rung", str(OLD_SCHEDULE))
        assert done.returncode == 0, done.stderr
        assert f"deleted: {EMPTY_RUNTIME} ms, {OLD_SCHEDULE} ms" in done.stdout
        assert f"not empty or in use: {HOLDING} ms" in done.stdout

        for ms in (EMPTY_RUNTIME, OLD_SCHEDULE):
            assert await queue_state(connection, names.retry(ms)) is None
        for ms in (HOLDING, NOT_A_CANDIDATE, *configured_rungs(loaded)):
            assert await queue_state(connection, names.retry(ms)) is not None
        # The retry that waited in the kept rung still comes back to its destination queue.
        deliver = await channel.declare_queue(names.deliver_queue("receiver"), passive=True)
        message = None
        for _ in range(100):
            message = await deliver.get(fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.1)
        assert message is not None and message.body == b"{}"
        await message.ack()
        for ms in extra:
            await channel.queue_delete(names.retry(ms))
            await channel.exchange_delete(names.retry(ms))


async def first_attempts_fail(request: web.Request, _: int) -> web.StreamResponse:
    """Only a retry (attempt 2 or later) succeeds, so a delivery proves its retry rung took the message."""
    return web.Response(status=500 if request.headers["x-hookpipe-attempt"] == "1" else 200)


async def test_a_deliverer_declares_a_pruned_rung_again(prefix, topology_cleanup):
    """Every rung deleted under a running deliverer: its retry publish fails, the delivery is requeued, and the
    next failure declares the rung again, so the retry goes through."""
    receiver = Receiver(first_attempts_fail)
    await receiver.start()
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        names = Names(prefix)
        connection = await connect()
        async with connection, connection.channel() as channel:
            for ms in pipeline["deliverer"].rungs:
                await channel.exchange_delete(names.retry(ms))
                await channel.queue_delete(names.retry(ms))
        async with aiohttp.ClientSession() as http, http.post(
            ingest_url(config), data=b'{"n": 1}', headers={"x-test-id": "pruned"}
        ) as response:
            assert response.status == 200
        await receiver.wait_for(lambda r: len(r.received) == 1, timeout=30)
        assert receiver.received[0].headers["x-hookpipe-attempt"] == "2"
        assert receiver.requests >= 2
    finally:
        await pipeline.stop()
        await receiver.stop()


async def test_with_the_management_api_prune_finds_rungs_of_any_old_schedule(prefix, tmp_path):
    """Rungs no grid predicts (an older config's schedule) are found by listing the broker's queues."""
    try:
        node = await asyncio.to_thread(start_private_rabbitmq, "hp-prune", ("management",))
    except NodeUnavailable as error:
        pytest.skip(f"no private RabbitMQ node with the management plugin: {error}")
    try:
        config = pipeline_config(prefix, "http://127.0.0.1:9/hook", broker_url=node.amqp_url)
        loaded = load(config).config
        names = Names(prefix)
        connection = await connect(node.amqp_url)
        async with connection:
            async with connection.channel() as channel:
                await declare_all(channel, loaded)
                for ms in (OLD_SCHEDULE, NOT_A_CANDIDATE):
                    await declare_retry_rung(channel, names, ms)
            path = str(write_config(tmp_path, config))
            done = await asyncio.to_thread(hookpipe, "topology", "prune", "--config", path,
                                           "--management-url", node.management_url)
            assert done.returncode == 0, done.stderr
            assert f"deleted: {OLD_SCHEDULE} ms, {NOT_A_CANDIDATE} ms" in done.stdout
            assert "guest:guest" not in done.stdout + done.stderr
            for ms in (OLD_SCHEDULE, NOT_A_CANDIDATE):
                assert await queue_state(connection, names.retry(ms)) is None
            for ms in configured_rungs(loaded):
                assert await queue_state(connection, names.retry(ms)) is not None
    finally:
        await asyncio.to_thread(node.stop)
