"""`hookpipe status` and `hookpipe dlq list` with three deliverer replicas: every replica answers over the broker,
the command lists each one and merges their views (who delivers each destination, its breaker, attempts in flight
summed, the latest error, dead letters counted once per process); junk on the control exchange changes nothing."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from control.inquiry import MAX_ANSWER_BYTES
from deliverer.circuit import BreakerState
from deliverer.service import DelivererService
from tests.support.broker import connect
from tests.support.cli import hookpipe
from tests.support.pipeline import (
    InProcessPipeline,
    free_port,
    load,
    pipeline_config,
    post_events,
    queue_depth,
    wait_for_depth,
    write_config,
)

pytestmark = pytest.mark.integration

REPLICAS = 3


def config_for(prefix: str, receiver_url: str) -> dict[str, Any]:
    """`receiver` works (its requests can be held open, and do not time out); `held` is paused; `down` has nobody
    listening and a breaker that opens at its first failure; `refuse` answers 400, which it dead-letters."""
    base = pipeline_config(prefix, receiver_url)["destinations"]["receiver"]
    destinations = {
        "receiver": {**base, "timeout": "3m"},  # its held requests stay in flight however slow the test runs
        "held": {**base, "paused": True},
        "down": {**base, "url": f"http://127.0.0.1:{free_port()}/nobody", "breaker": {"failures": 1, "cooldown": "1m"}},
        "refuse": {**base, "dead_letter_on": [400], "breaker": {"failures": 100}},
    }
    routes = [{"name": name, "sources": ["demo"], "filter": {"id": [{"prefix": f"{name}-"}]}, "to": [name]}
              for name in destinations]
    return pipeline_config(prefix, receiver_url, destinations=destinations, routes=routes)


class Hold:
    """Holds the receiver's requests open until released; refuses those for `refuse`."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.waiting = 0
        self.arrived = asyncio.Condition()

    async def __call__(self, request: web.Request, _: int) -> web.StreamResponse:
        if request.headers["webhook-id"].startswith("refuse-"):
            return web.Response(status=400, text="no thanks")
        async with self.arrived:
            self.waiting += 1
            self.arrived.notify_all()
        await self.release.wait()
        return web.Response(status=200, text="ok")


@dataclass
class Replicas:
    path: str  # the config file the command reads
    config: dict[str, Any]
    deliverers: list[DelivererService]


@pytest.fixture
async def replicas(prefix, receiver, topology_cleanup, tmp_path) -> AsyncIterator[Replicas]:
    """ingest and router, and three deliverer replicas (each its own ops address) on one topology: 3 requests to
    `receiver` held open, `down`'s breaker open, one dead letter for `refuse`."""
    hold = Hold()
    receiver.respond = hold
    config = config_for(prefix, receiver.url)
    topology_cleanup(config)
    pipeline = InProcessPipeline(config, services=("ingest", "router"))
    deliverers = []
    for _ in range(REPLICAS):
        own = copy.deepcopy(config)
        own["deliverer"]["ops"] = f"127.0.0.1:{free_port()}"
        deliverers.append(DelivererService(load(own)))
    await pipeline.start()
    try:
        for deliverer in deliverers:
            await deliverer.start()
            assert await deliverer.consumer.wait_ready(15)
        await post_events(config, ["receiver-1", "receiver-2", "receiver-3", "down-1", "refuse-1", "held-1"])
        async with hold.arrived:
            await asyncio.wait_for(hold.arrived.wait_for(lambda: hold.waiting == 3), 20)
        await wait_for_depth(f"{prefix}.dead.refuse", 1)
        await wait_for_depth(f"{prefix}.deliver.held", 1)
        for _ in range(100):
            if any(d.breakers["down"].state is BreakerState.OPEN for d in deliverers):
                break
            await asyncio.sleep(0.1)  # the breaker is in-process state: no event to await
        assert any(d.breakers["down"].state is BreakerState.OPEN for d in deliverers)
        yield Replicas(str(write_config(tmp_path, config)), config, deliverers)
    finally:
        hold.release.set()
        for deliverer in reversed(deliverers):  # the first to start holds the leases: stopped last, it hands none
            await deliverer.stop()
        await pipeline.stop()


def delivering(deliverer: DelivererService, name: str) -> bool:
    """What this replica says of itself: it holds the destination's lease (or consumes it, if it does not say)."""
    state = deliverer.status()["destinations"][name]
    return bool(state["lease"] if "lease" in state else state["consuming"])


def replica_of(deliverer: DelivererService) -> str:
    return deliverer.pauses.control.replica


async def test_status_lists_every_replica_and_merges_their_views(replicas, prefix):
    path, deliverers = replicas.path, replicas.deliverers
    result = await hookpipe("status", "--config", path, "--json", "--interval", "0")
    assert result.returncode == 0, result.stderr
    status = result.json()
    ids = {replica_of(d) for d in deliverers}
    assert len(ids) == REPLICAS
    assert status["deliverers"]["asked"] == "broker" and set(status["deliverers"]["replicas"]) == ids
    assert (status["deliverers"]["running"], status["deliverers"]["all_answered"]) == (REPLICAS, True)

    destinations = status["destinations"]
    for name, merged in destinations.items():
        assert set(merged["replicas"]) == ids, name
        holders = sorted(replica_of(d) for d in deliverers if delivering(d, name))
        assert sorted(merged["delivered_by"]) == holders, name
        for deliverer in deliverers:  # each replica's own view, as it gave it
            own = deliverer.status()["destinations"][name]
            assert merged["replicas"][replica_of(deliverer)]["breaker"] == own["breaker"]
            assert merged["replicas"][replica_of(deliverer)]["paused"] == own["paused"]

    receiver, down, held, refuse = (destinations[name] for name in ("receiver", "down", "held", "refuse"))
    assert receiver["in_flight"] == 3  # held open on whichever replica delivers it, summed
    assert sum(d.attempts.running["receiver"] for d in deliverers) == 3
    assert (down["breaker"], down["paused"]) == ("open", False)
    assert down["last_error"]["reason"] == "connection_error" and down["last_error"]["event_id"] == "down-1"
    assert (held["paused"], held["messages"]) == (True, 1)
    assert (refuse["last_error"]["status"], refuse["dead_letters"]) == (400, 1)


async def test_status_table_names_the_replicas_and_who_delivers_each_destination(replicas):
    path, deliverers = replicas.path, replicas.deliverers
    result = await hookpipe("status", "--config", path, "--interval", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    answered = next(line for line in lines if "deliverer replicas answered" in line)
    assert answered.startswith(f"{REPLICAS} of {REPLICAS} deliverer replicas answered: ")
    assert all(replica_of(d) in answered for d in deliverers)
    assert "rates and readiness from each service's ops address in the config" in answered
    header = next(line for line in lines if line.startswith("DESTINATION"))
    assert "IN FLIGHT" in header and "DELIVERED BY" in header
    row = next(line for line in lines if line.startswith("receiver "))
    start = header.index("IN FLIGHT")
    assert row[start:].split()[0] == "3"
    holder = next(replica_of(d) for d in deliverers if delivering(d, "receiver"))
    assert holder in row[header.index("DELIVERED BY"):]


async def test_dlq_list_counts_every_replica_once_per_process(replicas):
    path, deliverers = replicas.path, replicas.deliverers
    result = await hookpipe("dlq", "list", "--config", path, "--json")
    assert result.returncode == 0, result.stderr
    listing = result.json()
    assert set(listing["deliverer_replicas"]) == {replica_of(d) for d in deliverers}
    assert listing["deliverers_running"] == REPLICAS
    refuse = next(row for row in listing["queues"] if row["destination"] == "refuse")
    # Three replicas in this one process share its counters: counted once, not three times.
    expected = REGISTRY.get_sample_value("hookpipe_dead_letters_total", {"destination": "refuse",
                                                                         "reason": "dead_letter_on"})
    assert expected is not None and expected >= 1
    assert (refuse["depth"], refuse["reasons"]["dead_letter_on"]) == (1, int(expected))


async def test_junk_on_the_control_exchange_and_forged_answers_change_nothing(replicas, prefix):
    """Malformed commands, an inquiry naming one of the pipeline's queues as its reply address, and a rogue
    replica answering junk, another inquiry's correlation id and an oversized answer: every real replica still
    answers, nothing lands in the named queue, and only the real replicas are listed."""
    path, deliverers = replicas.path, replicas.deliverers
    trap = f"{prefix}.trap"
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(trap, auto_delete=True)
        control = await channel.get_exchange(f"{prefix}.control")
        for junk in (b"not json", b"[]", orjson.dumps({"action": "purge", "destination": "receiver"})):
            await control.publish(aio_pika.Message(junk), routing_key="")
        await control.publish(aio_pika.Message(orjson.dumps({"action": "status"}), reply_to=trap, correlation_id="x"),
                              routing_key="")

        rogue = await channel.declare_queue(exclusive=True)
        await rogue.bind(control)

        async def answer_junk(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            if message.reply_to is None:
                return
            forged = {"replica": "rogue:1", "destinations": {"receiver": {"breaker": "open", "in_flight": 1000}}}
            for body, correlation_id in ((b"\xff junk", message.correlation_id),
                                         (orjson.dumps(forged), "another inquiry"),
                                         (orjson.dumps(forged) + b" " * MAX_ANSWER_BYTES, message.correlation_id)):
                await channel.default_exchange.publish(
                    aio_pika.Message(body, correlation_id=correlation_id), routing_key=message.reply_to,
                    mandatory=False)

        await rogue.consume(answer_junk, no_ack=True)
        result = await hookpipe("status", "--config", path, "--json", "--interval", "0")
        assert result.returncode == 0, result.stderr
        status = result.json()
        assert sorted(status["deliverers"]["replicas"]) == sorted(replica_of(d) for d in deliverers)
        assert status["destinations"]["receiver"]["in_flight"] == 3
        assert status["destinations"]["receiver"]["breaker"] == "closed"
        assert await queue_depth(trap) == 0
    assert all(d.consumer.connection is not None for d in deliverers)


async def test_with_the_broker_out_of_reach_the_configured_deliverer_s_view_stands_in(replicas, tmp_path):
    """The deliverers still run, but the command cannot reach the broker: the deliverer at `deliverer.ops` is
    read over HTTP, said to be that one replica's view, and the command exits 1."""
    deliverers = replicas.deliverers
    config = copy.deepcopy(replicas.config)
    config["broker"]["url"] = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    config["deliverer"]["ops"] = deliverers[1].config.deliverer.ops
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = await hookpipe("status", "--config", str(write_config(elsewhere, config)), "--json", "--interval", "0")
    assert result.returncode == 1
    status = result.json()
    ops = deliverers[1].config.deliverer.ops
    assert status["deliverers"]["asked"] == f"ops listener {ops}"
    assert status["deliverers"]["replicas"] == [f"ops {ops}"]
    held = status["destinations"]["held"]
    assert (held["paused"], held["messages"]) == (True, None)  # the broker's numbers are unknown
    assert held["replicas"][f"ops {ops}"]["lease"] == deliverers[1].status()["destinations"]["held"]["lease"]
