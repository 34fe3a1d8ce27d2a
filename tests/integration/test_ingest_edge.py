"""ingest's edge under hostile or repetitive input: dedup, rate limits, handshakes, slow and compressed bodies."""

from __future__ import annotations

import asyncio
import gzip
import time

import aiohttp
import pytest

from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config, queue_depth

pytestmark = pytest.mark.integration


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
        async with http.get(url, params={**params, "hub.verify_token": "wrong"}) as response:
            assert response.status == 403
            assert await response.json() == {"error": "bad_verify_token"}


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
