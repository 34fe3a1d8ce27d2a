"""ingest's public edge: each refusal has its status, JSON reason and counter; a bad request never publishes."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.pipeline import InProcessPipeline, ingest_url, ops_url, pipeline_config, queue_depth

pytestmark = pytest.mark.integration

TOKEN = "partner-token-0123456789"


@pytest.fixture
async def ingest_only(prefix, receiver, topology_cleanup):
    config = pipeline_config(
        prefix, receiver.url,
        sources={
            "demo": {"verify": {"scheme": "none"}, "unverified": True, "max_body": "1KiB", "methods": ["POST"]},
            "partner": {"verify": {"scheme": "bearer", "secrets": [TOKEN, "old-partner-token-0123"]}},
            "stripe": {"verify": {"scheme": "stripe", "secrets": ["whsec_c3RyaXBlLXRlc3Qtc2VjcmV0"]}},
        },
        routes=[{"name": "demo", "sources": ["demo", "partner"], "to": ["receiver"]}],
    )
    topology_cleanup(config)
    pipeline = InProcessPipeline(config, services=("ingest",))
    await pipeline.start()
    yield config
    await pipeline.stop()


async def _metric(config, name: str, absent: float | None = None, **labels: str) -> float:
    """The sample's value; `absent` when there is none yet (AssertionError when that is None)."""
    async with aiohttp.ClientSession() as http, http.get(ops_url(config, "ingest", "/metrics")) as response:
        text = await response.text()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    if absent is not None:
        return absent
    raise AssertionError(f"no sample {name}{{{wanted}}}")


@pytest.mark.parametrize(
    ("source", "method", "body", "headers", "status", "reason"),
    [
        ("nope", "POST", b"{}", {}, 404, "unknown_source"),
        ("demo", "PUT", b"{}", {}, 405, "method_not_allowed"),
        ("demo", "POST", b"x" * 1025, {}, 413, "too_large"),
        ("demo", "POST", b"\x1f\x8b...", {"Content-Encoding": "gzip"}, 415, "unsupported_encoding"),
        # Every Content-Encoding header counts, not the first alone: identity then gzip is a gzipped body.
        ("demo", "POST", b"\x1f\x8b...", [("Content-Encoding", "identity"), ("Content-Encoding", "gzip")], 415,
         "unsupported_encoding"),
        ("demo", "POST", b"{}", {"Content-Encoding": "identity, gzip"}, 415, "unsupported_encoding"),
        ("partner", "POST", b"{}", {}, 401, "missing_header"),
        ("partner", "POST", b"{}", {"Authorization": "Basic dXNlcjpwYXNz"}, 401, "malformed_header"),
        ("partner", "POST", b"{}", {"Authorization": "Bearer wrong-token-0123456789"}, 401, "bad_signature"),
        ("stripe", "POST", b"{}", {"Stripe-Signature": "t=1,v1=00"}, 401, "bad_signature"),
        ("demo", "POST", b"{}", {f"x-big-{i}": "v" * 8000 for i in range(5)}, 431, "headers_too_large"),
        # The AMQP content_type property holds 255 bytes: a longer one is the sender's error, not a 500.
        ("demo", "POST", b"{}", {"Content-Type": "application/json; x=" + "y" * 300}, 400, "malformed_content_type"),
    ],
)
async def test_refusals_answer_status_reason_and_count_without_publishing(
    ingest_only, prefix, source, method, body, headers, status, reason
):
    label = source if source != "nope" else "_unknown"
    url = ingest_url(ingest_only, source)
    before = await _metric(ingest_only, "hookpipe_ingest_rejections_total", source=label, reason=reason, absent=0)
    async with aiohttp.ClientSession() as http, http.request(method, url, data=body, headers=headers) as response:
        assert response.status == status
        assert await response.json() == {"error": reason}
    assert await _metric(ingest_only, "hookpipe_ingest_rejections_total", source=label, reason=reason) == before + 1
    assert await queue_depth(f"{prefix}.router") == 0


async def test_streamed_body_past_the_limit_is_refused_with_413(ingest_only, prefix):
    async def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(4):
            yield b"y" * 512

    async with aiohttp.ClientSession() as http, http.post(ingest_url(ingest_only), data=chunks()) as response:
        assert response.status == 413
        assert await response.json() == {"error": "too_large"}
    assert await queue_depth(f"{prefix}.router") == 0


async def test_rotated_bearer_tokens_are_both_accepted_and_credentials_are_not_stored(ingest_only, prefix):
    async with aiohttp.ClientSession() as http:
        for token in (TOKEN, "old-partner-token-0123"):
            async with http.post(ingest_url(ingest_only, "partner"), data=b"{}",
                                 headers={"Authorization": f"Bearer {token}", "Cookie": "a=b"}) as response:
                assert response.status == 200
    assert await queue_depth(f"{prefix}.router") == 2
    import aio_pika

    from hookpipe.amqp.codec import decode_event
    from tests.support.broker import connect

    connection = await connect()
    async with connection:
        queue = await (await connection.channel()).get_queue(f"{prefix}.router")
        message = await queue.get(no_ack=True)
        assert message is not None
        stored = decode_event(message).headers
        assert "authorization" not in stored and "cookie" not in stored
        assert message.headers["x-hookpipe-source"] == "partner"
        assert message.headers["x-hookpipe-verified"] is True
        assert isinstance(message.headers["x-hookpipe-received-at"], int)
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert TOKEN not in repr(message.headers)


async def test_past_the_in_flight_cap_requests_get_503_before_their_body_is_read(prefix, receiver, topology_cleanup):
    import asyncio

    config = pipeline_config(prefix, receiver.url, ingest={
        **pipeline_config(prefix, receiver.url)["ingest"], "max_in_flight": {"requests": 1, "bytes": "1MiB"},
    })
    topology_cleanup(config)
    pipeline = InProcessPipeline(config, services=("ingest",))
    await pipeline.start()
    release = asyncio.Event()

    async def slow_body():
        yield b'{"slow": '
        await release.wait()
        yield b"true}"

    try:
        async with aiohttp.ClientSession() as http:
            async def slow() -> int:
                async with http.post(ingest_url(config), data=slow_body()) as response:
                    return response.status

            first = asyncio.create_task(slow())
            for _ in range(50):  # until the slow request holds the only slot
                if pipeline["ingest"].in_flight.requests == 1:
                    break
                await asyncio.sleep(0.05)
            async with http.post(ingest_url(config), data=b"{}") as response:
                assert response.status == 503
                assert await response.json() == {"error": "overloaded"}
                assert response.headers["Retry-After"].isdigit()
            release.set()
            assert await first == 200
            async with http.post(ingest_url(config), data=b"{}") as response:
                assert response.status == 200
        assert pipeline["ingest"].in_flight.requests == 0 and pipeline["ingest"].in_flight.bytes == 0
        assert await _metric(config, "hookpipe_ingest_rejections_total", source="demo", reason="overloaded") == 1
    finally:
        await pipeline.stop()


async def test_twilio_signs_the_query_as_sent_so_percent_encoding_is_kept(prefix, receiver, topology_cleanup):
    import base64
    import hashlib
    import hmac
    from urllib.parse import parse_qsl

    token, public_url = "twilio-auth-token-0123456789", "https://hooks.example.com/ingest/twilio"
    config = pipeline_config(prefix, receiver.url, sources={
        "twilio": {"verify": {"scheme": "twilio", "secrets": [token], "public_url": public_url}},
    }, routes=[])
    topology_cleanup(config)
    pipeline = InProcessPipeline(config, services=("ingest",))
    await pipeline.start()
    raw_query = "Name=a%20b&City=M%C3%BCnchen&plus=1%2B1"
    body = "Body=hello+world&From=%2B14155550100"
    # Twilio's algorithm: the URL exactly as called, then each form parameter, sorted, name + value.
    signed = f"{public_url}?{raw_query}" + "".join(f"{k}{v}" for k, v in sorted(parse_qsl(body)))
    signature = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    try:
        async with aiohttp.ClientSession() as http, http.post(
            f"{ingest_url(config, 'twilio')}?{raw_query}", data=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        ) as response:
            assert response.status == 200, await response.text()
    finally:
        await pipeline.stop()
    assert await queue_depth(f"{prefix}.router") == 1
