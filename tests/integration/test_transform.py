"""Transforms through ingest, router and deliverer against the real RabbitMQ and real HTTP receivers.

A receiver gets the transformed JSON, signed over those bytes, as application/json; an event whose transform
cannot be applied is dead-lettered `transform_failed`, whole and untouched, and routing goes on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import aiohttp
import orjson
import pytest
from prometheus_client import REGISTRY

from hookpipe.amqp.topology import Names
from hookpipe.config import whsec_key
from tests.support.broker import get_one
from tests.support.pipeline import (
    DESTINATION_SECRET,
    InProcessPipeline,
    ingest_url,
    pipeline_config,
    queue_depth,
)
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

INVOICE = {"id": "evt_1", "type": "invoice.paid",
           "data": {"object": {"id": "in_1", "amount_paid": 2000, "paid": True, "lines": ["a", "b"]}}}


def _destination(url: str) -> dict[str, object]:
    return {"url": url, "timeout": "5s", "allow_private_network": ["127.0.0.0/8"],
            "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]}}


async def _post(url: str, body: bytes, **headers: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
        return response.status


def _signature_ok(received_body: bytes, headers: dict[str, str]) -> bool:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + received_body
    expected = base64.b64encode(hmac.new(whsec_key(DESTINATION_SECRET), signed, hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in headers["webhook-signature"].split()


def _dead_letters(reason: str) -> float:
    return REGISTRY.get_sample_value("hookpipe_router_dead_letters_total", {"reason": reason}) or 0.0


async def test_receivers_get_the_transformed_json_signed_over_what_they_receive(prefix, topology_cleanup):
    objects, summaries, raw = Receiver(), Receiver(), Receiver()
    for receiver in (objects, summaries, raw):
        await receiver.start()
    config = pipeline_config(
        prefix, raw.url,
        destinations={"objects": _destination(objects.url), "summaries": _destination(summaries.url),
                      "raw": _destination(raw.url)},
        routes=[
            {"name": "objects", "sources": ["demo"], "transform": {"body": "$.body.data.object"}, "to": ["objects"]},
            {"name": "summaries", "sources": ["demo"],
             "transform": {"paths": {"id": "$.id", "amount": "$.body.data.object.amount_paid",
                                     "paid": "$.body.data.object.paid", "lines": "$.body.data.object.lines",
                                     "kind": "$.headers.x-kind", "missing": "$.body.data.nothing"},
                           "template": {"event": "<id>", "amount": "<amount>", "paid": "<paid>", "lines": "<lines>",
                                        "missing": "<missing>", "text": "<kind>: <amount> paid by <missing>"}},
             "to": ["summaries"]},
            {"name": "raw", "sources": ["demo"], "to": ["raw"]},
        ],
    )
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    body = b'{ "id": "evt_1",  "type": "invoice.paid", "data": {"object": {"id": "in_1", "amount_paid": 2000, ' \
           b'"paid": true, "lines": ["a", "b"]}} }'
    try:
        status = await _post(ingest_url(config), body, **{"x-test-id": "evt-transform", "x-kind": "invoice",
                                                           "Content-Type": "application/vnd.acme+json"})
        assert status == 200
        for receiver in (objects, summaries, raw):
            await receiver.wait_for_ids({"evt-transform"}, timeout=15)
    finally:
        await pipeline.stop()
        for receiver in (objects, summaries, raw):
            await receiver.stop()

    (got_object,) = objects.received
    assert got_object.body == orjson.dumps(INVOICE["data"]["object"])  # type: ignore[index]
    (got_summary,) = summaries.received
    assert orjson.loads(got_summary.body) == {
        "event": "evt-transform", "amount": 2000, "paid": True, "lines": ["a", "b"], "missing": None,
        "text": "invoice: 2000 paid by ",
    }
    for received in (got_object, got_summary):
        assert received.headers["content-type"] == "application/json"
        assert received.headers["webhook-id"] == "evt-transform"
        assert _signature_ok(received.body, received.headers)
    # The default is the raw body, byte for byte, with the content type it came with.
    (got_raw,) = raw.received
    assert got_raw.body == body
    assert got_raw.headers["content-type"] == "application/vnd.acme+json"
    assert _signature_ok(got_raw.body, got_raw.headers)


async def test_transform_of_a_non_json_body_dead_letters_the_whole_event_and_routing_goes_on(
    prefix, topology_cleanup
):
    transformed, raw = Receiver(), Receiver()
    await transformed.start()
    await raw.start()
    config = pipeline_config(
        prefix, raw.url,
        destinations={"transformed": _destination(transformed.url), "raw": _destination(raw.url)},
        routes=[
            {"name": "raw", "sources": ["demo"], "to": ["raw"]},
            {"name": "objects", "sources": ["demo"], "transform": {"body": "$.body.data.object"},
             "to": ["transformed"]},
        ],
    )
    topology_cleanup(config)
    names = Names(prefix)
    failed_before = _dead_letters("transform_failed")
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    form = b"amount=2000&currency=eur"
    try:
        status = await _post(ingest_url(config), form, **{"x-test-id": "evt-form",
                                                           "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200
        dead = await get_one(names.router_dead)
        assert await _post(ingest_url(config), b'{"data": {"object": {"n": 1}}}', **{"x-test-id": "evt-json"}) == 200
        await transformed.wait_for_ids({"evt-json"}, timeout=15)
        await raw.wait_for_ids({"evt-json"}, timeout=15)
        assert await queue_depth(names.router_queue) == 0  # the failed event was acked once dead-lettered
    finally:
        await pipeline.stop()
        await transformed.stop()
        await raw.stop()

    assert dead.message_id == "evt-form"
    assert dead.body == form
    assert dead.content_type == "application/x-www-form-urlencoded"
    assert dead.headers["x-hookpipe-dead-reason"] == "transform_failed"
    assert dead.headers["x-hookpipe-dead-error"] == "route 'objects': the body is not JSON"
    assert dead.headers["x-hookpipe-source"] == "demo"
    assert _dead_letters("transform_failed") == failed_before + 1
    # Nothing of the failed event went out, not even to the route that needed no transform.
    assert transformed.ids() == {"evt-json"}
    assert raw.ids() == {"evt-json"}
