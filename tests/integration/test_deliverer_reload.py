"""The deliverer reloads its destinations without a restart: one added on reload is delivered to, a changed
URL or concurrency takes the next delivery with none lost or repeated, a removed one is no longer consumed, a
config pause applies, and settings it cannot change are refused."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from aiohttp import web

from hookpipe.config import ConfigError
from tests.support.pipeline import (
    DESTINATION_SECRET,
    InProcessPipeline,
    load,
    pipeline_config,
    post_events,
    queue_depth,
    wait_for_depth,
)
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


def _destination(url: str, **settings: Any) -> dict[str, Any]:
    return {"url": url, "timeout": "5s", "allow_private_network": ["127.0.0.0/8"], "concurrency": 20,
            "retry": {"schedule": ["200ms", "500ms"], "max_age": "1h"},
            "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]}, **settings}


async def _reload(pipeline: InProcessPipeline, config: dict[str, Any]) -> None:
    for service in ("router", "deliverer"):  # the router declares and routes, the deliverer consumes
        await pipeline[service].reload(load(config))


@pytest.fixture
async def second_receiver():
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def test_a_destination_added_on_reload_is_delivered_to_and_a_removed_one_is_no_longer_consumed(
    prefix, receiver, second_receiver, topology_cleanup
):
    v1 = pipeline_config(prefix, receiver.url, destinations={"first": _destination(receiver.url)},
                         routes=[{"name": "demo", "sources": ["demo"], "to": ["first"]}])
    v2 = copy.deepcopy(v1)
    v2["destinations"]["second"] = _destination(second_receiver.url)
    v2["routes"] = [{"name": "demo", "sources": ["demo"], "to": ["first", "second"]}]
    topology_cleanup(v2)
    pipeline = InProcessPipeline(v1)
    await pipeline.start()
    try:
        await post_events(v1, ["before"])
        await receiver.wait_for_ids({"before"}, timeout=10)
        await _reload(pipeline, v2)
        await post_events(v1, ["after"])
        await receiver.wait_for_ids({"before", "after"}, timeout=10)
        await second_receiver.wait_for_ids({"after"}, timeout=10)

        await _reload(pipeline, v1)
        deliverer = pipeline["deliverer"]
        assert "second" not in deliverer.senders and "second" not in deliverer.status()["destinations"]
        assert "second" not in deliverer._consumptions
        await post_events(v1, ["later"])
        await receiver.wait_for_ids({"before", "after", "later"}, timeout=10)
    finally:
        await pipeline.stop()
    assert second_receiver.ids() == {"after"}
    assert receiver.duplicates() == 0 and second_receiver.duplicates() == 0


async def test_a_new_url_and_concurrency_take_the_next_delivery_with_none_lost_or_repeated(
    prefix, receiver, second_receiver, topology_cleanup
):
    v1 = pipeline_config(prefix, receiver.url, destinations={"receiver": _destination(receiver.url)})
    v2 = copy.deepcopy(v1)
    v2["destinations"]["receiver"] = _destination(second_receiver.url, concurrency=3)
    topology_cleanup(v1)
    pipeline = InProcessPipeline(v1)
    await pipeline.start()
    ids = [f"e{n:03d}" for n in range(300)]
    try:
        sending = asyncio.create_task(post_events(v1, ids, parallel=5))
        await receiver.wait_for(lambda r: len(r.received) >= 50, timeout=20)
        await _reload(pipeline, v2)  # while events flow
        await sending
        await second_receiver.wait_for(lambda r: len(r.ids() | receiver.ids()) == len(ids), timeout=30)
        await post_events(v1, ["after"])
        await second_receiver.wait_for_ids({"after"}, timeout=10)
    finally:
        await pipeline.stop()
    first, second = receiver.ids(), second_receiver.ids()
    assert first | second == set(ids) | {"after"}
    assert len(first) >= 50 and "after" not in first
    assert not first & second, "an event went to both URLs"
    assert receiver.duplicates() == 0 and second_receiver.duplicates() == 0


async def test_a_config_pause_on_reload_holds_events_and_lifting_it_delivers_them(prefix, receiver, topology_cleanup):
    v1 = pipeline_config(prefix, receiver.url)
    paused = copy.deepcopy(v1)
    paused["destinations"]["receiver"]["paused"] = True
    topology_cleanup(v1)
    pipeline = InProcessPipeline(v1)
    await pipeline.start()
    try:
        await pipeline["deliverer"].reload(load(paused))
        assert "receiver" in pipeline["deliverer"].paused
        await post_events(v1, ["held-1", "held-2"])
        await wait_for_depth(f"{prefix}.deliver.receiver", 2)
        assert receiver.received == []
        await pipeline["deliverer"].reload(load(v1))
        await receiver.wait_for_ids({"held-1", "held-2"}, timeout=10)
        assert await queue_depth(f"{prefix}.deliver.receiver") == 0
    finally:
        await pipeline.stop()


def test_a_reload_changing_what_the_deliverer_holds_for_its_run_is_refused_and_nothing_applies(prefix):
    from deliverer.service import DelivererService

    v1 = pipeline_config(prefix, "http://127.0.0.1:9/")
    service = DelivererService(load(v1))
    changed = copy.deepcopy(v1)
    changed["deliverer"]["ops"] = "127.0.0.1:1"
    changed["destinations"]["receiver"]["ordering"] = "fifo"
    changed["destinations"]["receiver"]["url"] = "http://127.0.0.1:8/"
    with pytest.raises(ConfigError) as refused:
        asyncio.run(service.reload(load(changed)))
    assert refused.value.problems == [
        "deliverer.ops: cannot change on reload; restart the service to apply it",
        "destinations.receiver.ordering: cannot change on reload; drain and remove the destination, delete its "
        "queues, then add it back (docs/operations.md)",
    ]
    assert service.senders["receiver"].config.url == "http://127.0.0.1:9/"


async def test_a_failure_during_a_reload_that_replaces_the_breaker_opens_the_breaker_in_force(
    prefix, topology_cleanup
):
    """An attempt reports to the breaker in force when it ends: one that started under a breaker a reload then
    replaced must not open the old one (which stopped the new one's consumer while status said closed)."""
    answering = asyncio.Event()
    release = asyncio.Event()

    async def fail_slowly(_: Any, __: int) -> web.StreamResponse:
        answering.set()
        await release.wait()
        return web.Response(status=500)

    failing = Receiver(fail_slowly)
    await failing.start()
    v1 = pipeline_config(prefix, failing.url, destinations={
        "flaky": _destination(failing.url, breaker={"failures": 1, "cooldown": "30s"}),
    }, routes=[{"name": "demo", "sources": ["demo"], "to": ["flaky"]}])
    v2 = copy.deepcopy(v1)
    v2["destinations"]["flaky"]["breaker"] = {"failures": 1, "cooldown": "60s"}
    topology_cleanup(v1)
    pipeline = InProcessPipeline(v1)
    await pipeline.start()
    try:
        await post_events(v1, ["first"])
        await asyncio.wait_for(answering.wait(), timeout=10)  # the attempt is under way
        await _reload(pipeline, v2)  # replaces the breaker: its settings changed
        release.set()
        deliverer = pipeline["deliverer"]
        for _ in range(100):
            if deliverer.status()["destinations"]["flaky"]["breaker"] == "open":
                break
            await asyncio.sleep(0.05)
        assert deliverer.status()["destinations"]["flaky"]["breaker"] == "open"
    finally:
        release.set()
        await pipeline.stop()
        await failing.stop()
