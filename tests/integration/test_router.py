"""The router against the real RabbitMQ: fan-out, who sees unverified events, and what it cannot route."""

from __future__ import annotations

import aio_pika
import aiohttp
import pytest

from hookpipe.amqp.topology import Names
from tests.support.broker import connect, get_one
from tests.support.pipeline import DESTINATION_SECRET, InProcessPipeline, ingest_url, pipeline_config
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


def _destination(url: str) -> dict[str, object]:
    return {"url": url, "timeout": "5s", "allow_private_network": ["127.0.0.0/8"],
            "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]}}


async def _post(url: str, body: bytes, **headers: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
        return response.status


async def test_unverified_events_reach_only_routes_that_name_their_source(prefix, topology_cleanup):
    named, catch_all = Receiver(), Receiver()
    await named.start()
    await catch_all.start()
    config = pipeline_config(
        prefix, named.url,
        sources={
            "demo": {"verify": {"scheme": "none"}, "unverified": True, "id": {"header": "x-test-id"}},
            "partner": {"verify": {"scheme": "bearer", "secrets": ["partner-token-0123456789"]},
                        "id": {"header": "x-test-id"}, "type": {"header": "x-type"}},
        },
        destinations={"named": _destination(named.url), "catch_all": _destination(catch_all.url)},
        routes=[
            {"name": "everything-verified", "to": ["catch_all"]},
            {"name": "demo-only", "sources": ["demo"], "to": ["named"]},
            {"name": "paid", "filter": {"type": ["invoice.paid"]}, "to": ["named"]},
        ],
    )
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        assert await _post(ingest_url(config, "demo"), b"{}", **{"x-test-id": "unverified-1"}) == 200
        assert await _post(ingest_url(config, "partner"), b"{}", **{
            "x-test-id": "verified-paid", "x-type": "invoice.paid", "Authorization": "Bearer partner-token-0123456789",
        }) == 200
        assert await _post(ingest_url(config, "partner"), b"{}", **{
            "x-test-id": "verified-other", "x-type": "invoice.created",
            "Authorization": "Bearer partner-token-0123456789",
        }) == 200
        await named.wait_for_ids({"unverified-1", "verified-paid"}, timeout=15)
        await catch_all.wait_for_ids({"verified-paid", "verified-other"}, timeout=15)
    finally:
        await pipeline.stop()
        await named.stop()
        await catch_all.stop()
    assert sorted(named.ids()) == ["unverified-1", "verified-paid"]
    assert sorted(catch_all.ids()) == ["verified-other", "verified-paid"]  # never the unverified event
    assert named.duplicates() == 0 and catch_all.duplicates() == 0
    unverified = next(r for r in named.received if r.headers["webhook-id"] == "unverified-1")
    assert unverified.headers["x-hookpipe-verified"] == "false"
    paid = next(r for r in named.received if r.headers["webhook-id"] == "verified-paid")
    assert "x-hookpipe-verified" not in paid.headers
    assert paid.headers["x-hookpipe-event-type"] == "invoice.paid"


async def test_fan_out_publish_failure_retries_then_dead_letters_without_duplicating_the_rest(
    prefix, receiver, topology_cleanup
):
    config = pipeline_config(
        prefix, receiver.url,
        destinations={"ok": _destination(receiver.url), "gone": _destination(receiver.url)},
        routes=[{"name": "both", "sources": ["demo"], "to": ["ok", "gone"]}],
    )
    topology_cleanup(config)
    names = Names(prefix)
    pipeline = InProcessPipeline(config, services=("ingest", "router", "deliverer"))
    await pipeline.start()
    try:
        # Stop consuming `gone` and delete its queue: the router's publishes to it are returned (mandatory).
        await pipeline["deliverer"].stop()
        connection = await connect()
        async with connection:
            await (await connection.channel()).queue_delete(names.deliver_queue("gone"))
        assert await _post(ingest_url(config), b'{"fan": "out"}', **{"x-test-id": "evt-fan"}) == 200
        dead = await get_one(names.router_dead, timeout=20)
    finally:
        await pipeline["router"].stop()
        await pipeline["ingest"].stop()
    assert dead.message_id == "evt-fan"
    assert dead.body == b'{"fan": "out"}'
    assert dead.headers["x-hookpipe-dead-reason"] == "publish_failed"
    assert dead.headers["x-hookpipe-dead-error"] == "gone"
    # The part of the fan-out that succeeded was published once, not once per retry.
    connection = await connect()
    async with connection:
        queue = await (await connection.channel()).declare_queue(names.deliver_queue("ok"), passive=True)
        assert queue.declaration_result.message_count == 1


async def test_message_that_is_not_an_event_is_dead_lettered_and_routing_goes_on(prefix, receiver, topology_cleanup):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    names = Names(prefix)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        connection = await connect()
        async with connection:
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(b"hand-made", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=names.router_queue,
            )
        dead = await get_one(names.router_dead)
        assert dead.body == b"hand-made"
        assert dead.headers["x-hookpipe-dead-reason"] == "malformed"
        assert await _post(ingest_url(config), b"{}", **{"x-test-id": "after-poison"}) == 200
        await receiver.wait_for_ids({"after-poison"}, timeout=10)
    finally:
        await pipeline.stop()
