"""One pipeline under test: its config, the three services as OS processes, and the count once it drained.

Every run has its own topology prefix and deletes its queues and exchanges afterwards (on the shared broker;
a private node is thrown away whole). A lost event is an accepted id that after the drain is neither at the
receiver nor in a dead-letter queue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aiormq

from deliverer.service import prefetch as deliverer_prefetch
from hookpipe.amqp.deadletter import HEADER_REASON
from hookpipe.amqp.topology import Names, all_exchange_names, all_queue_names
from router.service import PREFETCH as ROUTER_PREFETCH
from tests.chaos.rabbit import message_ids, queue_depth
from tests.chaos.receiver import CountingReceiver
from tests.support.pipeline import load, pipeline_config

#: The destination's retry schedule: about 15 s in all, so a delivery rides out a receiver's bad spell (and a
#: broker restart) instead of being dead-lettered after the 0.7 s of the integration tests' schedule.
RETRY = {"schedule": ["500ms", "1s", "2s", "4s", "8s"], "max_age": "1h"}

#: A breaker that opens as usual (5 failures in a row) but probes again within seconds, so a flapping receiver
#: does not park the run behind the default 30 s cool-down.
BREAKER = {"failures": 5, "cooldown": "1s", "max_cooldown": "4s"}

#: Deliveries in flight to the receiver, which is also the deliverer's prefetch for it.
DESTINATION_CONCURRENCY = 20

#: Seconds between looks into the dead-letter queues while waiting for the last ids to arrive.
DEAD_CHECK_INTERVAL = 5.0

#: After every id arrived: how long the receiver must stay quiet, and the queues empty, before counting (late
#: duplicates of a requeued message arrive within this), and the bound on that wait (s).
SETTLE_QUIET = 2.0
SETTLE_TIMEOUT = 30.0

#: Rungs a run may declare beyond the configured ones: the breaker's parking rung (1 s) and Retry-After rungs.
EXTRA_RUNGS = (1000, 2000, 3000, 4000, 5000)


def chaos_config(prefix: str, receiver_url: str, broker_url: str) -> dict[str, Any]:
    """tests.support's pipeline (source `demo` with ids from `x-test-id`, destination `receiver`) with the
    chaos retry schedule and breaker."""
    config = pipeline_config(prefix, receiver_url, broker_url=broker_url, publish_timeout="5s")
    config["destinations"]["receiver"].update(
        retry=RETRY, breaker=BREAKER, concurrency=DESTINATION_CONCURRENCY
    )
    return config


@dataclass(frozen=True)
class UnconfirmedWindows:
    """How many events each service may have handed on without its own input being settled: what one crash
    (or lost connection) of that service can turn into duplicates."""

    ingest: int  # requests in flight: published, maybe confirmed, not yet answered 2xx
    router: int  # events prefetched, unacked, their deliveries maybe published (x fan-out)
    deliverer: int  # deliveries prefetched, unacked, maybe delivered

    @property
    def all(self) -> int:
        return self.ingest + self.router + self.deliverer


def unconfirmed_windows(config: dict[str, Any], load_concurrency: int) -> UnconfirmedWindows:
    loaded = load(config).config
    fan_out = max(len(route.to) for route in loaded.routes)
    return UnconfirmedWindows(
        ingest=min(load_concurrency, loaded.ingest.max_in_flight.requests),
        router=ROUTER_PREFETCH * fan_out,
        deliverer=sum(deliverer_prefetch(d) for d in loaded.destinations.values()),
    )


@dataclass
class Tally:
    """What happened to the events of one run."""

    accepted: set[str]
    delivered: set[str] = field(default_factory=set)  # accepted ids that arrived
    dead: set[str] = field(default_factory=set)  # accepted ids in a dead-letter queue and never delivered
    dead_reasons: collections.Counter[str] = field(default_factory=collections.Counter)  # "queue: reason" -> ids
    duplicates: int = 0  # arrivals of an id beyond its first
    drain_s: float = 0.0  # end of sending -> every accepted id accounted for (or the deadline)

    @property
    def lost(self) -> set[str]:
        return self.accepted - self.delivered - self.dead


def dead_queues(config: dict[str, Any]) -> list[str]:
    names = Names(config["broker"]["prefix"])
    return [names.router_dead] + [names.dead_queue(d) for d in config["destinations"]]


def work_queues(config: dict[str, Any]) -> list[str]:
    names = Names(config["broker"]["prefix"])
    loaded = load(config).config
    return [names.router_queue] + [names.deliver_queue(d) for d in config["destinations"]] + [
        q for q in all_queue_names(loaded) if ".retry." in q
    ]


async def dead_ids(broker_url: str, config: dict[str, Any]) -> dict[str, str]:
    """Every id in a dead-letter queue, with "queue: reason"."""
    ids: dict[str, str] = {}
    for queue in dead_queues(config):
        dead = await message_ids(broker_url, queue, HEADER_REASON)
        ids.update({i: f"{queue}: {reason or 'no reason'}" for i, reason in dead.items()})
    return ids


async def drain(receiver: CountingReceiver, accepted: set[str], broker_url: str, config: dict[str, Any],
                timeout: float) -> Tally:
    """Wait until every accepted id arrived or sits in a dead-letter queue (or `timeout` s), then until the
    pipeline is quiet, and count."""
    started = time.monotonic()
    deadline = started + timeout
    dead: dict[str, str] = {}
    while True:
        remaining = deadline - time.monotonic()
        missing = await receiver.wait_for(accepted - dead.keys(), timeout=max(0.0, min(DEAD_CHECK_INTERVAL, remaining)))
        if not missing:
            break
        dead = await dead_ids(broker_url, config)
        if missing <= dead.keys() or time.monotonic() >= deadline:
            break
    drain_s = time.monotonic() - started
    await settle(receiver, broker_url, config)
    dead = await dead_ids(broker_url, config)
    delivered = {i for i in accepted if i in receiver.arrivals}
    undelivered = (dead.keys() & accepted) - delivered
    return Tally(accepted=accepted, delivered=delivered, dead=undelivered,
                 dead_reasons=collections.Counter(dead[i] for i in undelivered),
                 duplicates=receiver.duplicates(), drain_s=drain_s)


async def settle(receiver: CountingReceiver, broker_url: str, config: dict[str, Any]) -> None:
    """Wait (bounded) until the work queues hold nothing ready and the receiver has been quiet for a while:
    requeued copies of delivered events then had their chance to arrive as duplicates."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    queues = work_queues(config)
    while time.monotonic() < deadline:
        await receiver.wait_quiet(SETTLE_QUIET, timeout=max(0.0, deadline - time.monotonic()))
        depths = [await queue_depth(broker_url, q) for q in queues]
        if not any(depths):
            return
        await asyncio.sleep(0.5)  # messages still queued: look again shortly


async def delete_topology(broker_url: str, config: dict[str, Any]) -> None:
    """Delete every queue and exchange the run's prefix may have created."""
    loaded = load(config).config
    names = Names(loaded.broker.prefix)
    extra = [names.retry(ms) for ms in EXTRA_RUNGS]
    connection = await aio_pika.connect(broker_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for queue in all_queue_names(loaded) + extra:
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.queue_delete(queue)
        for exchange in all_exchange_names(loaded) + extra:
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.exchange_delete(exchange)


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a process, MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
