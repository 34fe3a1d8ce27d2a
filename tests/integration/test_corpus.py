"""Every case of the webhook corpus (tests/corpus/webhooks) through the real HTTP ingest, against the real broker.

The corpus was signed and judged by the providers' own SDKs (tests/corpus/README.md). Each case gets a
source configured from its `receiver` block and is sent with ingest's clock set to its `receiver.now`. An
accepted case must be on the router queue byte-identical, with the provider's id and type extracted.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aio_pika
import aiohttp
import orjson
import pytest
import pytest_asyncio

from hookpipe.amqp.codec import decode_event
from ingest.app import IngestService
from tests.support.broker import connect
from tests.support.corpus import (
    SEPARABLE_REASONS,
    body_of,
    cases_for,
    expected_answer,
    joined_headers,
    load_cases,
    query_of,
    verify_settings,
)
from tests.support.pipeline import load, pipeline_config

# One ingest with a source per case serves every case: the fixture and the tests share one event loop.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


#: Providers whose cases need more than an ingest: SNS fetches its signing certificate over HTTPS, so its cases
#: run through ingest in tests/integration/test_sns.py, beside a local HTTPS server with a test CA.
OWN_HARNESS = ("sns",)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def source_name(case: dict[str, Any]) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", case["id"])


def expected_identity(case: dict[str, Any], request: dict[str, Any]) -> tuple[str | None, str | None]:
    """The provider's own event id and type, read straight from the case (None: ingest generates an id)."""
    headers = joined_headers(request["headers"])
    body = body_of(request)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    doc = document if isinstance(document, dict) else {}
    if "event_id" in case["expected"]:  # the newer provider files say it themselves
        return case["expected"]["event_id"], case["expected"]["event_type"]
    provider = case["provider"]
    if provider == "stripe":
        return doc.get("id"), doc.get("type")
    if provider in ("standardwebhooks", "svix"):
        return headers.get("svix-id") or headers.get("webhook-id"), doc.get("type")
    if provider == "github":
        return headers.get("x-github-delivery"), headers.get("x-github-event")
    if provider == "shopify":
        return headers.get("x-shopify-webhook-id"), headers.get("x-shopify-topic")
    if provider == "slack":
        inner = doc.get("event") if doc.get("type") == "event_callback" else None
        return doc.get("event_id"), (inner or {}).get("type") or doc.get("type")
    if provider == "paddle":
        return doc.get("event_id"), doc.get("event_type")
    if provider == "twilio":
        return headers.get("i-twilio-idempotency-token"), None
    if provider == "mailgun":
        data = doc.get("event-data") or {}
        return data.get("id"), data.get("event")
    return None, None


@contextlib.asynccontextmanager
async def ingest_alone(
    prefix: str, sources: dict[str, Any], clock: Clock
) -> AsyncIterator[tuple[dict[str, Any], aio_pika.abc.AbstractQueue]]:
    """An ingest with these sources and its clock, started; its config and the router queue to read what it
    publishes. Its topology is deleted afterwards."""
    config = pipeline_config(prefix, "http://127.0.0.1:1/unused", sources=sources, destinations={}, routes=[])
    ingest = IngestService(load(config), clock=clock)
    await ingest.start()
    assert await ingest.publisher.link.wait_ready(15)
    connection = await connect()
    channel = await connection.channel()
    try:
        yield config, await channel.get_queue(f"{prefix}.router")
    finally:
        await ingest.stop()
        await channel.queue_delete(f"{prefix}.router")
        await channel.queue_delete(f"{prefix}.router.dead")
        await channel.exchange_delete(f"{prefix}.ingested")
        await connection.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def corpus_ingest():
    import uuid

    sources = {source_name(case): {"verify": verify_settings(case), "max_body": "4MiB"}
               for case in load_cases() if case["provider"] not in OWN_HARNESS}
    clock = Clock()
    async with ingest_alone(f"hp-test-corpus-{uuid.uuid4().hex[:8]}", sources, clock) as (config, queue):
        yield clock, config, queue


async def send_case(url: str, case: dict[str, Any], request: dict[str, Any]) -> tuple[int, str, bytes]:
    """The case's request, sent as the provider sent it: its status, content type and body."""
    query = query_of(case)
    async with aiohttp.ClientSession(skip_auto_headers=("Content-Type", "User-Agent")) as http, http.request(
        case["request"]["method"], url, params=parse_qs(query, keep_blank_values=True) if query else None,
        data=body_of(request), headers=[(name, value) for name, value in request["headers"] if name.lower() != "host"],
    ) as response:
        return response.status, response.content_type, await response.read()


async def _send(config: dict[str, Any], case: dict[str, Any], request: dict[str, Any]) -> tuple[int, Any]:
    url = f"http://{config['ingest']['listen']}/ingest/{source_name(case)}"
    status, _, body = await send_case(url, case, request)
    return status, orjson.loads(body)


@pytest.mark.parametrize("case", cases_for(without=OWN_HARNESS))
async def test_corpus_case_verdict_and_what_reaches_the_broker(corpus_ingest, case):
    clock, config, queue = corpus_ingest
    clock.now = case["receiver"]["now"]
    for prior in case.get("prior_requests", []):
        status, _ = await _send(config, case, prior)
        assert 200 <= status < 300, "a prior request of a replay case must be accepted"
        await _expect_published(queue, case, prior)
    expected = case["expected"]
    if expected["verdict"] == "handshake":
        url = f"http://{config['ingest']['listen']}/ingest/{source_name(case)}"
        assert await send_case(url, case, case["request"]) == expected_answer(case)
        assert await queue.get(no_ack=True, fail=False) is None, "a handshake was published"
        return
    status, answer = await _send(config, case, case["request"])
    if expected["reason"] == "replayed_id":
        # Rejected, or answered 2xx without a second publish: both keep the replay out of the pipeline.
        assert status == 409 or 200 <= status < 300
        assert await queue.get(no_ack=True, fail=False) is None, "the replay was published again"
        return
    if expected["verdict"] == "accept":
        assert 200 <= status < 300, f"refused with {status} {answer}"
        await _expect_published(queue, case, case["request"])
    else:
        assert 400 <= status < 500, f"answered {status} {answer} to a request the provider's SDK rejects"
        if expected["reason"] in SEPARABLE_REASONS:
            assert answer == {"error": expected["reason"]}
        assert await queue.get(no_ack=True, fail=False) is None


async def _expect_published(queue: aio_pika.abc.AbstractQueue, case: dict[str, Any], request: dict[str, Any]) -> None:
    message = await queue.get(no_ack=True, fail=False)
    assert message is not None, "accepted but nothing on the router queue"
    assert hashlib.sha256(message.body).hexdigest() == request.get("body_sha256", hashlib.sha256(
        body_of(request)).hexdigest())
    expected_id, expected_type = expected_identity(case, request)
    if expected_id is not None:
        assert message.message_id == expected_id
    assert message.type == expected_type
    stored = decode_event(message).headers
    for header in ("authorization", "stripe-signature", "webhook-signature", "svix-signature",
                   "x-hub-signature-256", "x-slack-signature", "x-twilio-signature", "x-shopify-hmac-sha256",
                   "paddle-signature", "x-twilio-email-event-webhook-signature",
                   *case.get("signature_headers", ())):
        assert header not in stored, f"{header} was stored with the event"
