"""ingest's edge under hostile or repetitive input: dedup, rate limits, handshakes, slow and compressed bodies,
replayed signatures, and HTTP it cannot parse."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import time
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client import REGISTRY

from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config, queue_depth

pytestmark = pytest.mark.integration


MAILGUN_KEY = "key-7c6d9eae85405b4e71a3133de3ced239"
STRIPE_SECRET = "whsec_c3RyaXBlLXRlc3Qtc2VjcmV0"
OKTA_SECRET = "okta-event-hook-secret-0123"


def _rejections(source: str, reason: str) -> float:
    return REGISTRY.get_sample_value("hookpipe_ingest_rejections_total", {"source": source, "reason": reason}) or 0.0


def _demo(**settings: object) -> dict[str, object]:
    return {"verify": {"scheme": "none"}, "unverified": True, "id": {"header": "x-test-id"}, **settings}


@pytest.fixture
async def edge(prefix, receiver, topology_cleanup):
    """ingest alone, with sources for each edge case, and a 2 s read deadline."""
    base = pipeline_config(prefix, receiver.url)
    config = pipeline_config(
        prefix, receiver.url,
        ingest={**base["ingest"], "read_timeout": "2s"},
        sources={
            "dedup": _demo(dedup={"window": "1h", "max_ids": 1000}),
            "nodedup": _demo(dedup="off"),
            "limited": _demo(rate_limit="2/s", dedup="off"),
            "meta": {"verify": {"scheme": "hmac", "secrets": ["meta-app-secret-0123456789"],
                                "header": "X-Hub-Signature-256", "prefix": "sha256="},
                     "handshake": {"meta_verify_token": "verify-me-please"}},
            "meta_limited": {"verify": {"scheme": "hmac", "secrets": ["meta-app-secret-0123456789"],
                                        "header": "X-Hub-Signature-256", "prefix": "sha256="},
                             "handshake": {"meta_verify_token": "verify-me-please"}, "rate_limit": "1/m"},
            "mailgun": {"verify": {"scheme": "mailgun", "secrets": [MAILGUN_KEY]}},
            "dropbox": {"verify": {"scheme": "dropbox", "secrets": ["dropbox-app-secret-0123"]}},
            "okta": {"verify": {"scheme": "okta", "secrets": [OKTA_SECRET]}},
        },
        routes=[{"name": "all", "sources": ["dedup", "nodedup", "limited"], "to": ["receiver"]}],
    )
    topology_cleanup(config)
    pipeline = InProcessPipeline(config, services=("ingest",))
    await pipeline.start()
    yield config
    await pipeline.stop()


async def _post(http: aiohttp.ClientSession, url: str, event_id: str) -> int:
    async with http.post(url, data=b"{}", headers={"x-test-id": event_id}) as response:
        return response.status


async def test_a_repeated_provider_id_is_answered_2xx_and_published_once(edge, prefix):
    async with aiohttp.ClientSession() as http:
        assert await _post(http, ingest_url(edge, "dedup"), "same") == 200
        assert await _post(http, ingest_url(edge, "dedup"), "same") == 200
        # Concurrent repeats wait for the first publish's outcome instead of publishing again.
        statuses = await asyncio.gather(*(_post(http, ingest_url(edge, "dedup"), "burst") for _ in range(10)))
        assert statuses == [200] * 10
        assert await _post(http, ingest_url(edge, "nodedup"), "same") == 200
        assert await _post(http, ingest_url(edge, "nodedup"), "same") == 200
    assert await queue_depth(f"{prefix}.router") == 4  # same + burst once each, and nodedup twice


async def test_past_the_source_rate_limit_requests_get_429_with_retry_after(edge):
    async with aiohttp.ClientSession() as http:
        statuses = []
        for n in range(4):
            async with http.post(ingest_url(edge, "limited"), data=b"{}", headers={"x-test-id": f"r{n}"}) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert await response.json() == {"error": "rate_limited"}
                    assert int(response.headers["Retry-After"]) >= 1
        assert statuses[:2] == [200, 200] and 429 in statuses[2:]


async def test_meta_subscription_check_answers_the_challenge_only_with_the_right_token(edge):
    url = ingest_url(edge, "meta")
    async with aiohttp.ClientSession() as http:
        params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me-please", "hub.challenge": "1158201444"}
        async with http.get(url, params=params) as response:
            assert response.status == 200
            assert await response.text() == "1158201444"
            # The challenge is echoed from the query: it must never be sniffed as HTML.
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.content_type == "text/plain"
        async with http.get(url, params={**params, "hub.verify_token": "wrong"}) as response:
            assert response.status == 403
            assert await response.json() == {"error": "bad_verify_token"}


async def test_a_schemes_unsigned_handshake_is_the_only_get_it_lets_through(edge, prefix):
    """Dropbox's `GET ?challenge=` is answered on a POST-only source, echoed as text that is never sniffed; any
    other GET is 405. Okta's verification GET is answered only with its shared secret."""
    async with aiohttp.ClientSession() as http:
        async with http.get(ingest_url(edge, "dropbox"), params={"challenge": "<b>hi</b>"}) as response:
            assert (response.status, await response.text()) == (200, "<b>hi</b>")
            assert response.content_type == "text/plain"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with http.get(ingest_url(edge, "dropbox")) as response:
            assert response.status == 405
            assert await response.json() == {"error": "method_not_allowed"}
        challenge = {"X-Okta-Verification-Challenge": "okta-challenge-1"}
        async with http.get(ingest_url(edge, "okta"), headers={**challenge, "Authorization": "wrong"}) as response:
            assert response.status == 401
        async with http.get(ingest_url(edge, "okta"), headers={**challenge, "Authorization": OKTA_SECRET}) as answer:
            assert (answer.status, await answer.json()) == (200, {"verification": "okta-challenge-1"})
    assert await queue_depth(f"{prefix}.router") == 0


async def test_a_gzip_bomb_gets_415_without_being_inflated(edge, prefix):
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)  # 50 MiB of zeros in ~50 KiB
    async with aiohttp.ClientSession(auto_decompress=False) as http, http.post(
        ingest_url(edge, "nodedup"), data=bomb, headers={"Content-Encoding": "gzip", "x-test-id": "bomb"}
    ) as response:
        assert response.status == 415
        assert await response.json() == {"error": "unsupported_encoding"}
    assert await queue_depth(f"{prefix}.router") == 0


async def test_slowloris_headers_are_cut_at_the_read_deadline_while_others_are_served(edge):
    host, port = edge["ingest"]["listen"].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    closed_after = None
    async with aiohttp.ClientSession() as http:
        for n in range(40):  # one header byte every 0.1 s, never finishing the request
            writer.write(b"X")
            try:
                await writer.drain()
            except ConnectionError:
                closed_after = time.monotonic() - started
                break
            if reader.at_eof():
                closed_after = time.monotonic() - started
                break
            if n == 5:  # meanwhile a normal request is served
                assert await _post(http, ingest_url(edge, "nodedup"), "normal") == 200
            await asyncio.sleep(0.1)
    if closed_after is None:
        closed_after = await _closed_within(reader, 2.0, started)
    writer.close()
    assert closed_after is not None and closed_after < 2.0 + 1.5, f"connection still open after {closed_after}s"


async def _closed_within(reader: asyncio.StreamReader, seconds: float, started: float) -> float | None:
    try:
        await asyncio.wait_for(reader.read(), seconds)
    except (TimeoutError, ConnectionError):
        return None
    return time.monotonic() - started


async def test_a_trickled_body_is_cut_with_408_at_the_read_deadline(edge, prefix):
    async def trickle():
        for _ in range(30):
            yield b"x"
            await asyncio.sleep(0.2)

    started = time.monotonic()
    async with aiohttp.ClientSession() as http, http.post(
        ingest_url(edge, "nodedup"), data=trickle(), headers={"x-test-id": "slow-body"}
    ) as response:
        assert response.status == 408
        assert await response.json() == {"error": "read_timeout"}
    assert time.monotonic() - started < 2.0 + 1.5
    assert await queue_depth(f"{prefix}.router") == 0


META_SUBSCRIBE = {"hub.mode": "subscribe", "hub.verify_token": "verify-me-please", "hub.challenge": "42"}


async def test_meta_subscription_checks_pass_the_rate_limit_like_any_request(edge):
    before = _rejections("meta_limited", "rate_limited")
    async with aiohttp.ClientSession() as http:
        async with http.get(ingest_url(edge, "meta_limited"), params=META_SUBSCRIBE) as response:
            assert response.status == 200
        async with http.get(ingest_url(edge, "meta_limited"), params=META_SUBSCRIBE) as response:
            assert response.status == 429
            assert await response.json() == {"error": "rate_limited"}
    assert _rejections("meta_limited", "rate_limited") == before + 1


async def test_only_a_get_is_a_meta_subscription_check_other_methods_stay_refused(edge):
    async with aiohttp.ClientSession() as http:
        for method in ("PUT", "HEAD", "DELETE"):
            async with http.request(method, ingest_url(edge, "meta"), params=META_SUBSCRIBE) as response:
                assert response.status == 405
        async with http.get(ingest_url(edge, "meta")) as response:  # a GET that is no subscription check
            assert response.status == 405
            assert await response.json() == {"error": "method_not_allowed"}


def _mailgun_body(token: str, event_id: str) -> bytes:
    timestamp = str(int(time.time()))
    signature = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return orjson.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature},
                         "event-data": {"id": event_id, "event": "delivered"}})


async def test_a_mailgun_signature_replayed_with_other_event_data_is_refused(edge, prefix):
    token = "d785484c24fb8372b928166ac7d4c97feb67ccfebf330eaa39"
    original = _mailgun_body(token, "event-1")
    replayed = orjson.loads(original)
    replayed["event-data"] = {"id": "event-2", "event": "failed"}  # the same signature block, a new event
    before = _rejections("mailgun", "replayed")
    async with aiohttp.ClientSession() as http:
        async with http.post(ingest_url(edge, "mailgun"), data=original) as response:
            assert response.status == 200
        async with http.post(ingest_url(edge, "mailgun"), data=orjson.dumps(replayed)) as response:
            assert response.status == 401
            assert await response.json() == {"error": "replayed"}
        # Mailgun retrying the very same request is no replay: answered 2xx, published once (dedup).
        async with http.post(ingest_url(edge, "mailgun"), data=original) as response:
            assert response.status == 200
    assert _rejections("mailgun", "replayed") == before + 1
    assert await queue_depth(f"{prefix}.router") == 1


async def _raw_exchange(edge: dict[str, Any], request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer until the server closes: (status, lower-cased headers, body)."""
    host, port = edge["ingest"]["listen"].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n",
    b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST /ingest/nodedup HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
], ids=["request-line", "chunk-size", "header-too-long", "two-content-lengths", "bad-version", "two-content-types"])
async def test_http_ingest_cannot_parse_is_answered_json_400_counted_and_closed(edge, prefix, request_bytes):
    before = _rejections("_unknown", "bad_request")
    status, headers, body = await _raw_exchange(edge, request_bytes)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert orjson.loads(body) == {"error": "bad_request"}
    assert _rejections("_unknown", "bad_request") == before + 1
    assert await queue_depth(f"{prefix}.router") == 0


@pytest.mark.parametrize("request_bytes", [
    b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer supersecrettoken\x01\r\n\r\n",
    b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\nX-Signature: supersecrettoken" + b"a" * 9000 + b"\r\n\r\n",
], ids=["bad-char-in-credential", "credential-line-too-long"])
async def test_a_refused_unparsable_request_logs_the_kind_of_error_never_the_bytes_it_quotes(
    edge, request_bytes, caplog
):
    caplog.set_level("INFO", logger="ingest")
    status, _, _ = await _raw_exchange(edge, request_bytes)
    assert status == 400
    refused = [record for record in caplog.records if record.getMessage() == "request refused"]
    assert refused, caplog.text
    assert all("supersecrettoken" not in str(record.__dict__) for record in caplog.records)


@pytest.mark.parametrize("path", ["/foo", "/ingest/", "/ingest/a/b", "/"])
async def test_paths_outside_ingest_get_a_json_404_and_are_counted(edge, path):
    before = _rejections("_unknown", "not_found")
    async with aiohttp.ClientSession() as http, http.post(
        f"http://{edge['ingest']['listen']}{path}", data=b"{}"
    ) as response:
        assert response.status == 404
        assert await response.json() == {"error": "not_found"}
    assert _rejections("_unknown", "not_found") == before + 1


async def test_an_unknown_expectation_gets_a_json_417(edge):
    status, headers, body = await _raw_exchange(
        edge, b"POST /ingest/nodedup HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n"
              b"Connection: close\r\n\r\n{}")
    assert (status, orjson.loads(body)) == (417, {"error": "unsupported_expectation"})
    assert headers["content-type"].startswith("application/json")


def _stripe_request(body: bytes) -> dict[str, str]:
    timestamp = int(time.time())
    mac = hmac.new(STRIPE_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={mac}", "Content-Type": "application/json"}


@pytest.fixture
async def crowded(prefix, receiver, topology_cleanup, request):
    """ingest alone with a Stripe source, the given in-flight request cap, and a read deadline past the test."""
    base = pipeline_config(prefix, receiver.url)
    config = pipeline_config(
        prefix, receiver.url,
        ingest={**base["ingest"], "read_timeout": "60s", "max_in_flight": {"requests": request.param}},
        sources={"stripe": {"verify": {"scheme": "stripe", "secrets": [STRIPE_SECRET]}}},
        routes=[],
    )
    topology_cleanup(config)
    pipeline = InProcessPipeline(config, services=("ingest",))
    await pipeline.start()
    yield config, pipeline["ingest"]
    await pipeline.stop()


async def _held(service: Any, reader: asyncio.StreamReader, before: int) -> bool:
    """True once the request just sent holds a request slot, False once it was answered (refused)."""
    answered = asyncio.ensure_future(reader.read(1))
    try:
        for _ in range(1000):
            if answered.done():
                return False
            if service.in_flight.requests > before:
                return True
            await asyncio.sleep(0.01)
    finally:
        answered.cancel()
    raise AssertionError("the request was neither admitted nor answered")


@pytest.mark.parametrize("crowded", [256, 32], indirect=True, ids=["default-cap", "small-cap"])
async def test_trickling_unsigned_bodies_do_not_lock_out_signed_requests(crowded):
    config, service = crowded
    host, port = config["ingest"]["listen"].split(":")
    trickles = []
    held = 0
    refused_before, closed_before = _rejections("stripe", "slow_bodies"), _rejections("stripe", "client_closed")
    try:
        for _ in range(64):  # unsigned chunked bodies that never end, all from one client
            reader, writer = await asyncio.open_connection(host, int(port))
            trickles.append(writer)
            writer.write(b"POST /ingest/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                         b"Stripe-Signature: t=1,v1=00\r\n\r\n1\r\nx\r\n")
            await writer.drain()
            held += await _held(service, reader, service.in_flight.requests)
        assert held >= 1  # the flood really holds slots while the signed request comes
        body = b'{"id": "evt_1", "type": "invoice.paid"}'
        async with aiohttp.ClientSession() as http, http.post(
            ingest_url(config, "stripe"), data=body, headers=_stripe_request(body)
        ) as response:
            assert response.status == 200, await response.text()
        assert service.in_flight.waiting <= service.in_flight.max_waiting_per_client
    finally:
        for writer in trickles:
            writer.close()
    for _ in range(500):  # the closed connections end their requests
        if service.in_flight.requests == 0:
            break
        await asyncio.sleep(0.01)
    assert (service.in_flight.requests, service.in_flight.bytes, service.in_flight.waiting) == (0, 0, 0)
    # Each trickle was either refused at once or held until its client went away, and counted either way.
    assert _rejections("stripe", "slow_bodies") - refused_before == 64 - held
    assert _rejections("stripe", "client_closed") - closed_before == held
