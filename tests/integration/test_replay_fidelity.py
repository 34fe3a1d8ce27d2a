"""A replay delivers what the original delivery delivered: the event read back from the archive stream has the
same forwarded inbound headers, content type, type, source, verified flag and received_at as the event ingest
published, so the same routes match it and its destination gets the same request."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from hookpipe.amqp.codec import decode_event
from hookpipe.event import Event
from tests.support.broker import connect
from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config, write_config

pytestmark = pytest.mark.integration


TOKEN = "partner-token-0123456789"
TRACE = "trace-7f3a, span=\"a\\b\" é"  # a comma, quotes, a backslash and non-ASCII: JSON and AMQP must keep it
CONTENT_TYPE = "application/json; charset=utf-8"

#: The request the provider sends: a bearer-verified source whose type comes from a header, a header the
#: destination forwards, and one that the only route filters on (so a replay that lost it would match nothing).
REQUEST_HEADERS = {
    "authorization": f"Bearer {TOKEN}",
    "content-type": CONTENT_TYPE,
    "x-test-id": "f1",
    "x-test-type": "order.created",
    "x-demo-trace": TRACE,
    "x-demo-kind": "order",
}

#: Request headers that must be the same in the original delivery and its replay (webhook-timestamp, the
#: signature and the replay marker differ by design).
SAME_HEADERS = ("content-type", "x-demo-trace", "x-hookpipe-event-type", "x-hookpipe-source", "webhook-id")


def fidelity_config(prefix: str, receiver_url: str) -> dict[str, Any]:
    config = pipeline_config(prefix, receiver_url, archive={"max_age": "1h", "max_bytes": "10MiB"})
    config["sources"]["partner"] = {
        "verify": {"scheme": "bearer", "secrets": [TOKEN]},
        "id": {"header": "x-test-id"}, "type": {"header": "x-test-type"}, "dedup": "off",
    }
    config["destinations"]["receiver"]["forward_headers"] = ["x-demo-trace"]
    config["routes"] = [{"name": "orders", "sources": ["partner"], "filter": {"headers": {"x-demo-kind": ["order"]}},
                         "to": ["receiver"]}]
    return config


def hookpipe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "control.cli", *args], capture_output=True, text=True, timeout=120)


async def post_event(config: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.post(
        ingest_url(config, "partner"), data=b'{"order": 1}', headers=REQUEST_HEADERS
    ) as response:
        assert response.status == 200, await response.text()


async def take_one(queue: str) -> Event:
    """The one event waiting in `queue`, taken off it."""
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        message = None
        for _ in range(100):  # the publish is confirmed, but a quorum queue may show it a moment later
            message = await declared.get(fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.1)
        assert message is not None, f"nothing in {queue}"
        await message.ack()
        assert await declared.get(fail=False) is None, f"more than one message in {queue}"
        return decode_event(message)


async def test_a_replayed_event_is_the_archived_event_marked_as_a_replay(prefix, receiver, topology_cleanup, tmp_path):
    """With no router running, the event ingest published and the one replay publishes wait in the router's
    queue: they are equal but for the replay flag."""
    config = fidelity_config(prefix, receiver.url)
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    ingest = InProcessPipeline(config, services=("ingest",))
    await ingest.start()
    try:
        await post_event(config)
        original = await take_one(f"{prefix}.router")
    finally:
        await ingest.stop()
    assert original.headers["x-demo-trace"] == TRACE and original.verified and original.type == "order.created"

    done = await asyncio.to_thread(hookpipe, "replay", "--config", path, "--since", "1h", "--id", "f1")
    assert done.returncode == 0, done.stderr
    assert "read 1, matched 1, published 1" in done.stdout
    replayed = await take_one(f"{prefix}.router")
    assert replayed == dataclasses.replace(original, replay=True)


async def test_a_replay_delivers_the_forwarded_headers_of_the_original_delivery(
    prefix, receiver, topology_cleanup, tmp_path
):
    config = fidelity_config(prefix, receiver.url)
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        await post_event(config)
        await receiver.wait_for(lambda r: len(r.received) == 1, timeout=60)
        done = await asyncio.to_thread(hookpipe, "replay", "--config", path, "--since", "1h", "--id", "f1")
        assert done.returncode == 0, done.stderr
        assert "read 1, matched 1, published 1" in done.stdout
        await receiver.wait_for(lambda r: len(r.received) == 2, timeout=60)
    finally:
        await pipeline.stop()
    original, replay = receiver.received
    assert original.headers["x-demo-trace"] == TRACE
    assert "x-hookpipe-verified" not in original.headers  # a verified event: only unverified ones are marked
    assert {name: replay.headers.get(name) for name in SAME_HEADERS} == {
        name: original.headers.get(name) for name in SAME_HEADERS
    }
    assert "x-hookpipe-verified" not in replay.headers
    assert replay.headers["x-hookpipe-replay"] == "true"
    assert replay.body == original.body == b'{"order": 1}'
