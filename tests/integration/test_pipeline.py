"""The pipeline in one process against the real RabbitMQ: what a provider and a receiver see."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from deliverer.signing import secret_key, standard_webhooks_signature
from tests.support.broker import connect
from tests.support.pipeline import (
    DESTINATION_SECRET,
    InProcessPipeline,
    ingest_url,
    pipeline_config,
    queue_depth,
)

pytestmark = pytest.mark.integration


async def test_accepted_event_arrives_byte_identical_and_signed(prefix, receiver, topology_cleanup):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    body = b'{"amount": 12.50, "note": "caf\xc3\xa9",   "spaces":  true}'
    try:
        async with aiohttp.ClientSession() as http, http.post(ingest_url(config), data=body, headers={
            "Content-Type": "application/json", "x-test-id": "evt-1", "Authorization": "Bearer leak",
            "x-hookpipe-source": "forged",
        }) as response:
            assert response.status == 200
            assert (await response.json()) == {"id": "evt-1"}
        await receiver.wait_for_ids({"evt-1"}, timeout=10)
    finally:
        await pipeline.stop()
    got = receiver.received[0]
    assert got.body == body
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == "evt-1"
    assert got.headers["x-hookpipe-source"] == "demo"
    assert got.headers["x-hookpipe-verified"] == "false"
    assert got.headers["x-hookpipe-attempt"] == "1"
    assert "authorization" not in got.headers
    expected = standard_webhooks_signature(
        [secret_key(DESTINATION_SECRET)], "evt-1", int(got.headers["webhook-timestamp"]), body
    )
    assert got.headers["webhook-signature"] == expected


async def test_a_delivery_failing_every_attempt_is_retried_then_dead_lettered_exhausted(
    prefix, receiver, topology_cleanup
):
    from aiohttp import web

    async def refuse(_: web.Request, __: int) -> web.StreamResponse:
        return web.Response(status=500, text="receiver broke: " + "x" * 10_000)

    receiver.respond = refuse
    config = pipeline_config(prefix, receiver.url)  # schedule [200ms, 500ms]: three attempts
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    dead_queue = f"{prefix}.dead.receiver"
    try:
        url, headers = ingest_url(config), {"x-test-id": "evt-dead"}
        async with aiohttp.ClientSession() as http, http.post(url, data=b"{}", headers=headers) as response:
            assert response.status == 200
        for _ in range(100):
            if await queue_depth(dead_queue) == 1:
                break
            await asyncio.sleep(0.1)
        assert await queue_depth(dead_queue) == 1
    finally:
        await pipeline.stop()
    connection = await connect()
    async with connection:
        queue = await (await connection.channel()).get_queue(dead_queue)
        message = await queue.get(no_ack=True)
    assert message is not None
    assert message.message_id == "evt-dead"
    assert message.body == b"{}"
    assert message.headers["x-hookpipe-dead-reason"] == "exhausted"
    assert message.headers["x-hookpipe-dead-attempts"] == 3
    assert message.headers["x-hookpipe-dead-status"] == 500
    assert len(message.headers["x-hookpipe-dead-response"]) == 4096


async def test_during_a_rotation_every_delivery_verifies_with_the_official_library_under_both_secrets(
    prefix, receiver, topology_cleanup
):
    import base64

    from standardwebhooks.webhooks import Webhook

    new_secret = "whsec_" + base64.b64encode(b"the-next-destination-secret-32b!").decode()
    base = pipeline_config(prefix, receiver.url)
    destination = {**base["destinations"]["receiver"],
                   "signing": {"scheme": "standard-webhooks", "secrets": [new_secret, DESTINATION_SECRET]}}
    config = pipeline_config(prefix, receiver.url, destinations={"receiver": destination})
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    ids = {f"rot-{n}" for n in range(20)}
    try:
        async with aiohttp.ClientSession() as http:
            for event_id in sorted(ids):
                body = f'{{"n": "{event_id}", "text": "Grüße"}}'.encode()
                async with http.post(ingest_url(config), data=body, headers={"x-test-id": event_id}) as response:
                    assert response.status == 200
        await receiver.wait_for_ids(ids, timeout=15)
    finally:
        await pipeline.stop()
    for got in receiver.received:
        assert len(got.headers["webhook-signature"].split()) == 2  # one signature per secret
        for secret in (new_secret, DESTINATION_SECRET):  # a receiver on either secret accepts it
            Webhook(secret).verify(got.body, got.headers)
