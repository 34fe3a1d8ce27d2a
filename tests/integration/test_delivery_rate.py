"""A destination's rate limit holds its deliveries to the rate, and leaves the other destinations alone."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.support.pipeline import DESTINATION_SECRET, InProcessPipeline, ingest_url, pipeline_config
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

RATE = 10  # per second
WINDOW = 10.0  # seconds measured


def _destination(url: str, **settings: object) -> dict[str, object]:
    return {"url": url, "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]},
            "allow_private_network": ["127.0.0.0/8"], "concurrency": 20, **settings}


async def test_a_limited_destination_gets_its_rate_while_another_runs_at_full_speed(prefix, topology_cleanup):
    limited, free = Receiver(), Receiver()
    await limited.start()
    await free.start()
    config = pipeline_config(
        prefix, limited.url,
        destinations={"limited": _destination(limited.url, rate_limit=f"{RATE}/s"), "free": _destination(free.url)},
        routes=[{"name": "both", "sources": ["demo"], "to": ["limited", "free"]}],
    )
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    events = int(RATE * WINDOW * 2)  # more than the window can carry, so the limit is what paces it
    try:
        async with aiohttp.ClientSession() as http:
            async def post(n: int) -> None:
                async with http.post(ingest_url(config), data=b"{}", headers={"x-test-id": f"e{n}"}) as r:
                    assert r.status == 200

            started = time.time()
            await asyncio.gather(*(post(n) for n in range(events)))
        await free.wait_for(lambda r: len(r.received) == events, timeout=30)
        free_done = time.time() - started
        await asyncio.sleep(WINDOW - (time.time() - started))
    finally:
        await pipeline.stop()
        await limited.stop()
        await free.stop()
    arrivals = sorted(r.at for r in limited.received)
    first = arrivals[0]
    in_window = [at for at in arrivals if first <= at < first + WINDOW]
    rate = len(in_window) / WINDOW
    print(f"\nlimited: {rate:.1f}/s over {WINDOW}s; free: {events} delivered in {free_done:.2f}s")
    assert RATE * 0.9 <= rate <= RATE * 1.1
    assert free_done < WINDOW / 2, "the unlimited destination was held back"
