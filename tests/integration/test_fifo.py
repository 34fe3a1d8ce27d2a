"""ordering: fifo: events arrive in queue order through failures, short waits in place and long ones."""

from __future__ import annotations

import random

import aiohttp
import pytest
from aiohttp import web

import deliverer.service
from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config

pytestmark = pytest.mark.integration

EVENTS = 1000


async def test_1000_events_arrive_in_order_through_short_and_long_waits(
    prefix, receiver, topology_cleanup, monkeypatch
):
    # schedule [200ms, 500ms] with jitter: 160-240 ms waits in place, 400-600 ms ones give the message back.
    monkeypatch.setattr(deliverer.service, "FIFO_WAIT_IN_PLACE", 0.3)
    failing = set(random.Random(11).sample(range(EVENTS), 60))  # first attempt fails: a short wait
    failing_twice = set(random.Random(12).sample(sorted(failing), 20))  # and the second: a long one
    tries: dict[str, int] = {}

    async def sometimes_fail(request: web.Request, _: int) -> web.StreamResponse:
        event_id = request.headers["webhook-id"]
        tries[event_id] = tries.get(event_id, 0) + 1
        n = int(event_id.removeprefix("e"))
        if (n in failing and tries[event_id] == 1) or (n in failing_twice and tries[event_id] == 2):
            return web.Response(status=503)
        return web.Response(status=200)

    receiver.respond = sometimes_fail
    base = pipeline_config(prefix, receiver.url)
    destination = {**base["destinations"]["receiver"], "ordering": "fifo"}
    config = pipeline_config(prefix, receiver.url, destinations={"receiver": destination})
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        async with aiohttp.ClientSession() as http:
            for n in range(EVENTS):  # one at a time: the queue's order is the order sent
                async with http.post(ingest_url(config), data=b"{}", headers={"x-test-id": f"e{n}"}) as response:
                    assert response.status == 200
        await receiver.wait_for(lambda r: len(r.received) >= EVENTS, timeout=120)
    finally:
        await pipeline.stop()
    arrived = [r.headers["webhook-id"] for r in receiver.received]
    assert arrived == [f"e{n}" for n in range(EVENTS)]
    assert all(tries[f"e{n}"] == 2 for n in failing - failing_twice)
    assert all(tries[f"e{n}"] == 3 for n in failing_twice)
