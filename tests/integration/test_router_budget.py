"""No single event holds the router: a body that costs seconds to match leaves /healthz and heartbeats answering,
the events around it pass in order, and one that outruns `router.match_budget` is dead-lettered, not retried.

The adversarial body: N objects holding `qty: 2`, N holding `sku: "A"`, then one with both, against routes that
need one item with both (array-consistent matching). Matching it is linear now, about 70 ms per route that reads
it at N = 8,000; read by ROUTES routes it takes a second or more of CPU, which held the event loop (and /healthz,
and the broker's heartbeats) that long while matching ran on it.
"""

from __future__ import annotations

import threading
import urllib.request
from typing import Any

import aiohttp
import orjson
import pytest

from hookpipe.amqp.topology import Names
from hookpipe.runtime import metrics
from tests.support.broker import get_one
from tests.support.pipeline import InProcessPipeline, ingest_url, ops_url, pipeline_config
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

N = 8_000
#: Routes reading the adversarial body: enough that matching it on the event loop would hold it for over a second.
ROUTES = 100
#: Events sent before and after the adversarial one.
AROUND = 20
#: Between two /healthz requests (s), and the longest one may take to answer before it counts as a failure (s).
POLL_EVERY, POLL_TIMEOUT = 0.1, 1.0

PATTERN = {"body": {"items": {"sku": ["A"], "qty": [2]}}}
NORMAL = orjson.dumps({"items": [{"sku": "A", "qty": 2}]})
ADVERSARIAL = orjson.dumps({"items": [{"qty": 2}] * N + [{"sku": "A"}] * N + [{"sku": "A", "qty": 2}]})


class HealthPoller:
    """Polls a /healthz from its own thread (so its time-outs hold even if the event loop stalls), counting the
    requests that got no answer within POLL_TIMEOUT."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered = 0
        self.unanswered: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz-poller", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=POLL_TIMEOUT) as response:
                    response.read()
                self.answered += 1
            except Exception as error:
                self.unanswered.append(repr(error))
            self._stop.wait(POLL_EVERY)

    def __enter__(self) -> HealthPoller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def budget_config(prefix: str, receiver_url: str, *, routes: int, match_budget: str) -> dict[str, Any]:
    base = pipeline_config(prefix, receiver_url)
    # fifo: the receiver gets the events in the order the router published them
    destination = {**base["destinations"]["receiver"], "ordering": "fifo"}
    return pipeline_config(
        prefix, receiver_url,
        router={**base["router"], "match_budget": match_budget},
        destinations={"receiver": destination},
        routes=[{"name": f"items-{n}", "sources": ["demo"], "filter": PATTERN, "to": ["receiver"]}
                for n in range(routes)],
    )


async def post_in_order(config: dict[str, Any], events: list[tuple[str, bytes]]) -> None:
    """POST one at a time, each answered before the next: the router queue holds them in this order."""
    async with aiohttp.ClientSession() as http:
        for event_id, body in events:
            async with http.post(ingest_url(config), data=body, headers={"x-test-id": event_id}) as response:
                assert response.status == 200, f"{event_id}: {response.status}"


def events_around(big: str) -> list[tuple[str, bytes]]:
    return ([(f"before-{n}", NORMAL) for n in range(AROUND)] + [(big, ADVERSARIAL)]
            + [(f"after-{n}", NORMAL) for n in range(AROUND)])


async def test_an_event_costing_seconds_to_match_leaves_healthz_answering_and_its_neighbours_in_order(
    prefix: str, receiver: Receiver, topology_cleanup: Any
) -> None:
    config = budget_config(prefix, receiver.url, routes=ROUTES, match_budget="1m")
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    events = events_around("big")
    try:
        with HealthPoller(ops_url(config, "router", "/healthz")) as poller:
            await post_in_order(config, events)
            await receiver.wait_for(lambda r: len(r.received) >= len(events), timeout=120)
    finally:
        await pipeline.stop()
    assert poller.unanswered == []
    assert poller.answered > 0
    # nothing lost, nothing overtaken: the router published in consumption order, and fifo delivered so
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id for event_id, _ in events]
    assert receiver.received[AROUND].body == ADVERSARIAL


async def test_an_event_over_the_match_budget_is_dead_lettered_and_the_others_pass(
    prefix: str, receiver: Receiver, topology_cleanup: Any
) -> None:
    config = budget_config(prefix, receiver.url, routes=1, match_budget="10ms")
    topology_cleanup(config)
    counted = metrics.ROUTER_DEAD_LETTERS.labels(reason="match_budget_exceeded")
    before = counted._value.get()
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    events = events_around("too-big")
    normal = [event_id for event_id, _ in events if event_id != "too-big"]
    try:
        await post_in_order(config, events)
        await receiver.wait_for(lambda r: len(r.received) >= len(normal), timeout=60)
        dead = await get_one(Names(prefix).router_dead)
    finally:
        await pipeline.stop()
    assert [r.headers["webhook-id"] for r in receiver.received] == normal
    assert dead.message_id == "too-big"
    assert dead.body == ADVERSARIAL  # whole and untouched: fix the route or raise the budget, then replay it
    assert dead.headers["x-hookpipe-dead-reason"] == "match_budget_exceeded"
    assert "0.01s of CPU time" in str(dead.headers["x-hookpipe-dead-error"])
    assert counted._value.get() == before + 1


