"""Several replicas of a service behave as one: a destination's settings hold for the whole deployment.

Three deliverer processes share three destinations: `limited` (rate_limit 10/s) gets 10/s in aggregate, `slow`
(concurrency 3) never has more than 3 requests open at the receiver, and `fast` (no limits) is not slowed by
either. Each destination is delivered by the one replica holding its lease, the leases spread one per replica,
and killing the replica delivering `limited` hands it to another within seconds, losing nothing. Two routers and
two deliverers deliver 1,000 fifo events in order through failed attempts and a killed router.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.support.pipeline import free_port, ingest_url, pipeline_config, post_events, write_config
from tests.support.processes import ServiceProcess
from tests.support.receiver import Receiver

pytestmark = pytest.mark.e2e

RATE = 10  # events/s of `limited`
RATE_WINDOW = 20.0  # seconds the aggregate rate is measured over
LIMITED_EVENTS = 260  # more than RATE_WINDOW x RATE, so the window is never starved
SLOW_EVENTS = 45
SLOW_CONCURRENCY = 3
SLOW_LATENCY = 0.2  # s the receiver holds each `slow` request open
FAST_EVENTS = 300
FAILOVER_LIMIT = 10.0  # s within which another replica delivers `limited` after its holder is killed
FIFO_EVENTS = 1_000
FIFO_FAIL_EVERY = 9  # every 9th request to the fifo receiver fails (500)


class Pipeline:
    """One ingest, `routers` routers and `deliverers` deliverers, each a process with its own config file
    (the same config but for its ops address)."""

    def __init__(self, config: dict[str, Any], directory: Path, *, routers: int, deliverers: int) -> None:
        self.config = config
        self.processes: list[ServiceProcess] = []
        self.ingest = self._process("ingest", directory, 0)
        self.routers = [self._process("router", directory, i) for i in range(routers)]
        self.deliverers = [self._process("deliverer", directory, i) for i in range(deliverers)]

    def _process(self, service: str, directory: Path, index: int) -> ServiceProcess:
        own = copy.deepcopy(self.config)
        if index:
            own[service]["ops"] = f"127.0.0.1:{free_port()}"
        replica = directory / f"{service}-{index}"
        replica.mkdir()
        process = ServiceProcess(service, write_config(replica, own), own[service]["ops"], replica)
        self.processes.append(process)
        return process

    async def start(self) -> None:
        for process in self.processes:
            process.start()
        await asyncio.gather(*(process.wait_ready(60) for process in self.processes))

    async def stop(self) -> None:
        for process in reversed(self.processes):
            await asyncio.to_thread(process.terminate, 30)

    def kill_all(self) -> None:
        for process in self.processes:
            process.kill()


@pytest.fixture
async def replicas(tmp_path: Path, topology_cleanup: Any) -> AsyncIterator[Any]:
    pipelines: list[Pipeline] = []

    def make(config: dict[str, Any], *, routers: int, deliverers: int) -> Pipeline:
        topology_cleanup(config)
        pipeline = Pipeline(config, tmp_path, routers=routers, deliverers=deliverers)
        pipelines.append(pipeline)
        return pipeline

    yield make
    try:
        for pipeline in pipelines:
            await pipeline.stop()
    finally:
        for pipeline in pipelines:
            pipeline.kill_all()


class OpenCounter:
    """A receiver's respond: holds each request `latency` s, counting the most open at once."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.open = 0
        self.most_open = 0

    async def __call__(self, _: web.Request, __: int) -> web.StreamResponse:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.open -= 1
        return web.Response(text="ok")


async def started(receiver: Receiver) -> Receiver:
    await receiver.start()
    return receiver


def destination(url: str, **settings: Any) -> dict[str, Any]:
    base = pipeline_config("unused", url)["destinations"]["receiver"]
    return {**base, **settings}


def source() -> dict[str, Any]:
    return {"verify": {"scheme": "none"}, "unverified": True, "id": {"header": "x-test-id"}, "dedup": "off"}


async def statuses(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Each running deliverer's /status (an empty dict for one that does not answer)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async def one(process: ServiceProcess) -> dict[str, Any]:
            try:
                async with session.get(f"http://{process.ops_address}/status") as response:
                    return dict(await response.json())
            except (aiohttp.ClientError, TimeoutError):
                return {}
        return list(await asyncio.gather(*(one(process) for process in pipeline.deliverers)))


def holders(status: list[dict[str, Any]], name: str) -> list[int]:
    return [i for i, replica in enumerate(status) if replica and replica["destinations"][name]["lease"]]


async def wait_for_spread(pipeline: Pipeline, names: list[str], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until every destination has exactly one holder and no replica holds two."""
    deadline = time.monotonic() + timeout
    while True:
        status = await statuses(pipeline)
        owners = [holders(status, name) for name in names]
        if all(len(owner) == 1 for owner in owners) and len({owner[0] for owner in owners}) == len(names):
            return status
        assert time.monotonic() < deadline, f"leases did not spread over the deliverers: {owners}"
        await asyncio.sleep(0.5)


async def test_three_deliverers_keep_each_destinations_limits_and_fail_over(replicas: Any, prefix: str) -> None:
    slow_counter = OpenCounter(SLOW_LATENCY)
    limited, slow, fast = (await started(Receiver()), await started(Receiver(slow_counter)),
                           await started(Receiver()))
    config = pipeline_config(prefix, limited.url)
    config["sources"] = {name: source() for name in ("limited", "slow", "fast")}
    config["destinations"] = {
        "limited": destination(limited.url, rate_limit=f"{RATE}/s", concurrency=10),
        "slow": destination(slow.url, concurrency=SLOW_CONCURRENCY),
        "fast": destination(fast.url, concurrency=20),
    }
    config["routes"] = [{"name": name, "sources": [name], "to": [name]} for name in ("limited", "slow", "fast")]
    pipeline = replicas(config, routers=1, deliverers=3)
    try:
        await pipeline.start()
        # The first deliverer up takes every lease; each hands over what it holds beyond its share (one here).
        await wait_for_spread(pipeline, ["limited", "slow", "fast"])
        for name in ("limited", "slow", "fast"):  # what the lease alert sums: one holder per destination
            assert await held_by_metrics(pipeline, name) == 1

        limited_ids = [f"limited-{i}" for i in range(LIMITED_EVENTS)]
        await post_events(config, limited_ids[:40], source="limited")
        await asyncio.gather(
            post_events(config, limited_ids[40:], source="limited"),
            post_events(config, [f"slow-{i}" for i in range(SLOW_EVENTS)], source="slow"),
            post_events(config, [f"fast-{i}" for i in range(FAST_EVENTS)], source="fast"),
        )
        await fast.wait_for(lambda r: len(r.ids()) == FAST_EVENTS, timeout=60)
        fast_done = max(r.at for r in fast.received)
        await slow.wait_for(lambda r: len(r.ids()) == SLOW_EVENTS, timeout=60)

        # The aggregate rate over the window: the three replicas together send `limited` RATE per second.
        await limited.wait_for(lambda r: r.received and r.received[-1].at - r.received[0].at >= RATE_WINDOW, 60)
        start = limited.received[0].at
        in_window = sum(1 for r in limited.received if r.at < start + RATE_WINDOW)
        assert RATE * RATE_WINDOW * 0.9 <= in_window <= RATE * RATE_WINDOW * 1.1, in_window
        # `fast` ran at its own speed meanwhile: all of it arrived within the first fifth of the window.
        assert fast_done < start + RATE_WINDOW / 5, (fast_done - start)
        # `slow`: never more than its concurrency open at the receiver, across all replicas (and it got there).
        assert slow_counter.most_open == SLOW_CONCURRENCY

        # Kill the replica delivering `limited`: another takes its lease and goes on, nothing lost.
        [holder] = holders(await statuses(pipeline), "limited")
        before = len(limited.received)
        killed_at = time.time()
        pipeline.deliverers[holder].kill()
        await limited.wait_for(lambda r: len(r.received) > before + 1, timeout=30)
        assert limited.received[before + 1].at - killed_at < FAILOVER_LIMIT
        await limited.wait_for(lambda r: set(limited_ids) <= r.ids(), timeout=60)
        survivors = holders(await statuses(pipeline), "limited")
        assert len(survivors) == 1 and survivors[0] != holder
    finally:
        for receiver in (limited, slow, fast):
            await receiver.stop()


async def test_two_routers_and_two_deliverers_deliver_fifo_events_in_order(replicas: Any, prefix: str) -> None:
    async def flaky(_: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=500 if n % FIFO_FAIL_EVERY == 0 else 200)

    receiver = await started(Receiver(flaky))
    config = pipeline_config(prefix, receiver.url)
    config["destinations"]["receiver"]["ordering"] = "fifo"
    pipeline = replicas(config, routers=2, deliverers=2)
    ids = [f"fifo-{i:04d}" for i in range(FIFO_EVENTS)]
    try:
        await pipeline.start()
        async with aiohttp.ClientSession() as session:  # one at a time: each accepted before the next is sent
            for number, event_id in enumerate(ids):
                if number == FIFO_EVENTS // 3:
                    pipeline.routers[await routing_router(pipeline)].kill()
                async with session.post(ingest_url(config), data=b"{}", headers={"x-test-id": event_id}) as response:
                    assert response.status == 200, await response.text()
        await receiver.wait_for(lambda r: set(ids) <= r.ids(), timeout=240)
        arrived = [r.headers["webhook-id"] for r in receiver.received]
        first_arrivals = list(dict.fromkeys(arrived))  # a killed router's unacked events may come twice
        assert first_arrivals == ids
        assert receiver.requests > len(ids)  # failures were injected and retried in place
    finally:
        await receiver.stop()


async def held_by_metrics(pipeline: Pipeline, name: str) -> float:
    """`hookpipe_destination_lease_held` of destination `name`, summed over the deliverers' /metrics."""
    total = 0.0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for deliverer in pipeline.deliverers:
            async with session.get(f"http://{deliverer.ops_address}/metrics") as response:
                text = await response.text()
            series = f'hookpipe_destination_lease_held{{destination="{name}"}} '
            total += sum(float(line.split(" ")[1]) for line in text.splitlines() if line.startswith(series))
    return total


async def routing_router(pipeline: Pipeline) -> int:
    """The router consuming events (the router lease's holder): the one whose event counter moved."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for index, router in enumerate(pipeline.routers):
            async with session.get(f"http://{router.ops_address}/metrics") as response:
                text = await response.text()
            counted = [line for line in text.splitlines() if line.startswith("hookpipe_router_events_total{")]
            if any(float(line.rsplit(" ", 1)[1]) > 0 for line in counted):
                return index
    raise AssertionError("no router has routed an event")
