"""The circuit breaker: while a receiver is down, events wait in RabbitMQ and only probes reach it."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config, queue_depth

pytestmark = pytest.mark.integration

OUTAGE = 30.0
EVENTS = 500
BREAKER = {"failures": 3, "cooldown": "1s", "max_cooldown": "4s"}


async def test_events_wait_out_an_outage_and_all_arrive_with_only_probes_during_it(prefix, receiver, topology_cleanup):
    down_until = time.monotonic() + 10_000  # down from the start until the test says otherwise
    during_outage = 0

    async def outage(_: web.Request, __: int) -> web.StreamResponse:
        nonlocal during_outage
        if time.monotonic() < down_until:
            during_outage += 1
            return web.Response(status=503)
        return web.Response(status=200)

    receiver.respond = outage
    base = pipeline_config(prefix, receiver.url)
    destination = {**base["destinations"]["receiver"], "breaker": BREAKER, "concurrency": 10,
                   # enough retries that no event can exhaust them during the outage
                   "retry": {"schedule": ["200ms"] * 20, "max_age": "1h"}}
    config = pipeline_config(prefix, receiver.url, destinations={"receiver": destination})
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        started = time.monotonic()
        down_until = started + OUTAGE
        async with aiohttp.ClientSession() as http:
            async def post(n: int) -> None:
                async with http.post(ingest_url(config), data=b"{}", headers={"x-test-id": f"e{n}"}) as r:
                    assert r.status == 200

            await asyncio.gather(*(post(n) for n in range(EVENTS)))
        await asyncio.sleep(max(0.0, down_until - time.monotonic()))
        attempts_in_outage = during_outage
        await receiver.wait_for(lambda r: len(r.ids()) == EVENTS, timeout=60)
        dead = await queue_depth(f"{prefix}.dead.receiver")
    finally:
        await pipeline.stop()
    # Before opening: the failures that open it plus what was already in flight; then one probe per cool-down
    # (1 s, 2 s, then 4 s: fewer than 10 in 30 s).
    print(f"\nattempts during the {OUTAGE:.0f}s outage: {attempts_in_outage}; dead letters: {dead}")
    assert attempts_in_outage <= BREAKER["failures"] + destination["concurrency"] + 10
    assert dead == 0
    assert len(receiver.ids()) == EVENTS
