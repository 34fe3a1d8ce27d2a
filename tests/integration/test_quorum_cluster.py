"""What RabbitMQ (3.10) does with quorum queues on a real 3-node cluster: how many members a queue gets, which
declarations it refuses, where leaders go, and how a single-active-consumer queue hands its message on when a
node dies. hookpipe's replication setting and its leases (one active consumer of a quorum queue holding one
token unacked) rely on exactly these answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from tests.support.broker import connect
from tests.support.rabbitmq_cluster import RabbitMQCluster
from tests.support.rabbitmq_node import RABBITMQ_SCRIPTS

pytestmark = pytest.mark.integration

GROUP_SIZE = "x-quorum-initial-group-size"

#: Seconds a test waits for a message, a new leader or a consumer's connection to close: a quorum queue elects
#: a new leader within a second or two of a node's death on loopback.
WITHIN = 30.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitMQCluster]:
    if not (RABBITMQ_SCRIPTS / "rabbitmq-server").exists():
        pytest.skip("rabbitmq-server is not installed: no private cluster")
    nodes = RabbitMQCluster(3, name_prefix="hp-quorum")
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture
async def connections(cluster: RabbitMQCluster) -> AsyncIterator[list[AbstractConnection]]:
    """One connection per node; each test's queues have names of their own."""
    opened = [await connect(url) for url in cluster.urls]
    yield opened
    for connection in opened:
        with contextlib.suppress(Exception):
            await connection.close()


def queue_name(what: str) -> str:
    return f"hp-quorum-{what}-{uuid.uuid4().hex[:8]}"


def queues(cluster: RabbitMQCluster, via: int = 0) -> dict[str, dict[str, Any]]:
    """Every queue's `{"leader": index, "members": sorted indexes}`, as node `via` sees them (one rabbitmqctl
    call: each boots a VM of its own, half a second)."""
    rows = json.loads(cluster.nodes[via].ctl("list_queues", "name", "leader", "members", "--formatter", "json"))
    return {row["name"]: {"leader": cluster.index_of(row["leader"]),
                          "members": sorted(cluster.index_of(m) for m in row["members"])} for row in rows}


def members(cluster: RabbitMQCluster, queue: str, via: int = 0) -> dict[str, Any]:
    return queues(cluster, via)[queue]


async def declare(connection: AbstractConnection, queue: str, **arguments: Any) -> None:
    async with connection.channel() as channel:
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum", **arguments})


async def refusal(connection: AbstractConnection, queue: str, **arguments: Any) -> str:
    """The 406 text a declaration gets (the refusal closes its channel); '' if it is accepted."""
    try:
        await declare(connection, queue, **arguments)
    except aiormq.exceptions.ChannelPreconditionFailed as error:
        return str(error)
    return ""


async def test_a_quorum_queue_gets_every_cluster_node_as_a_member_by_default(cluster, connections):
    queue = queue_name("default")
    await declare(connections[0], queue)
    assert (await asyncio.to_thread(members, cluster, queue))["members"] == [0, 1, 2]


async def test_a_group_size_caps_the_members_and_one_above_the_node_count_takes_every_node(cluster, connections):
    sizes = {1: queue_name("size1"), 2: queue_name("size2"), 3: queue_name("size3"), 5: queue_name("size5")}
    for size, queue in sizes.items():
        await declare(connections[0], queue, **{GROUP_SIZE: size})
    table = await asyncio.to_thread(queues, cluster)
    counts = {size: len(table[queue]["members"]) for size, queue in sizes.items()}
    assert counts == {1: 1, 2: 2, 3: 3, 5: 3}  # 5 on 3 nodes: no error, every node a member


async def test_a_group_size_below_one_or_not_an_integer_is_refused(connections):
    node = connections[0]
    assert "value_zero" in await refusal(node, queue_name("zero"), **{GROUP_SIZE: 0})
    assert "value_negative" in await refusal(node, queue_name("negative"), **{GROUP_SIZE: -1})
    assert "expected integer, got longstr" in await refusal(node, queue_name("text"), **{GROUP_SIZE: "2"})


async def test_redeclaring_with_another_group_size_or_adding_or_dropping_one_is_refused_406(connections):
    plain, sized = queue_name("plain"), queue_name("sized")
    await declare(connections[0], plain)
    await declare(connections[0], sized, **{GROUP_SIZE: 2})
    other = connections[1]  # another node: the check is cluster-wide
    assert "inequivalent arg 'x-quorum-initial-group-size'" in await refusal(other, plain, **{GROUP_SIZE: 3})
    assert "received '3' but current is '2'" in await refusal(other, sized, **{GROUP_SIZE: 3})
    assert "received none but current is the value '2'" in await refusal(other, sized)
    assert await refusal(other, sized, **{GROUP_SIZE: 2}) == ""  # the same value: accepted


async def test_no_policy_sets_a_quorum_queues_group_size_but_rabbitmq_queues_grow_adds_members(cluster, connections):
    pattern = f"^{queue_name('policy')}"
    queue = pattern[1:] + "-q"
    await asyncio.to_thread(cluster.nodes[0].ctl, "set_policy", "--apply-to", "queues", pattern[1:], pattern,
                            '{"initial-cluster-size": 1}')  # a stream policy key: quorum queues ignore it
    try:
        await declare(connections[0], queue, **{GROUP_SIZE: 1})
        plain = queue + "-plain"
        await declare(connections[0], plain)
        assert len((await asyncio.to_thread(members, cluster, plain))["members"]) == 3
    finally:
        await asyncio.to_thread(cluster.nodes[0].ctl, "clear_policy", pattern[1:])
    assert (await asyncio.to_thread(members, cluster, queue))["members"] == [0]  # the declaring node
    await asyncio.to_thread(cluster.nodes[0].ctl, "grow", cluster.node_names[1], "all",
                            "--queue-pattern", f"^{queue}$", tool="rabbitmq-queues")
    assert (await asyncio.to_thread(members, cluster, queue))["members"] == [0, 1]
    assert await refusal(connections[0], queue, **{GROUP_SIZE: 1}) == ""  # its arguments did not change


async def test_leaders_go_to_the_declaring_clients_node_unless_the_locator_is_balanced(cluster, connections):
    local = [queue_name(f"local{node}") for node in range(3)]
    for node, queue in enumerate(local):
        await declare(connections[node], queue)
    balanced = [queue_name(f"balanced{n}") for n in range(6)]
    for queue in balanced:
        await declare(connections[0], queue, **{"x-queue-leader-locator": "balanced"})
    table = await asyncio.to_thread(queues, cluster)
    assert [table[q]["leader"] for q in local] == [0, 1, 2]
    spread = {table[q]["leader"] for q in balanced}
    assert len(spread) > 1  # all declared through node 0, yet not all led from it


SINGLE_ACTIVE = {"x-single-active-consumer": True}


class TokenHolder:
    """A consumer of a single-active-consumer quorum queue at prefetch 1, on one node, keeping what it gets
    unacked until told: a lease holder, as hookpipe's are."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[AbstractIncomingMessage] = []
        self.arrivals: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self.connection: AbstractConnection | None = None

    async def start(self, queue: str) -> None:
        self.connection = await connect(self.url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1)
        declared = await channel.get_queue(queue, ensure=False)

        async def arrived(message: AbstractIncomingMessage) -> None:
            self.received.append(message)
            self.arrivals.put_nowait(message)

        await declared.consume(arrived)

    async def next(self) -> AbstractIncomingMessage:
        return await asyncio.wait_for(self.arrivals.get(), WITHIN)

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()


async def publish(connection: AbstractConnection, queue: str, body: bytes) -> None:
    async with connection.channel(publisher_confirms=True) as channel:
        await channel.default_exchange.publish(aio_pika.Message(body, delivery_mode=2), routing_key=queue)


async def token_queue(cluster: RabbitMQCluster, connection: AbstractConnection, what: str, leader: int) -> str:
    """A single-active-consumer quorum queue led from node `leader` (the declaring connection's), one token in it."""
    queue = queue_name(what)
    await declare(connection, queue, **SINGLE_ACTIVE)
    await publish(connection, queue, b"token")
    assert (await asyncio.to_thread(members, cluster, queue))["leader"] == leader
    return queue


async def first_arrival(holders: list[TokenHolder]) -> tuple[TokenHolder, AbstractIncomingMessage]:
    """The first of `holders` to receive a message, and that message."""
    waits = {asyncio.ensure_future(holder.arrivals.get()): holder for holder in holders}
    done, pending = await asyncio.wait(waits, timeout=WITHIN, return_when=asyncio.FIRST_COMPLETED)
    for wait in pending:
        wait.cancel()
    assert done, f"no consumer received anything within {WITHIN}s"
    first = done.pop()
    return waits[first], first.result()


async def wait_for_leader_off(cluster: RabbitMQCluster, queue: str, dead: int, via: int) -> int:
    """Wait until a node other than `dead` leads `queue` (no event announces it: asked every half second). Just
    after the kill, a node's listing may leave the queue out while its leader is being elected: not yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN

    def leader_now() -> int:
        return queues(cluster, via).get(queue, {"leader": dead})["leader"]

    while (leader := await asyncio.to_thread(leader_now)) == dead:
        assert loop.time() < deadline, f"{queue} still led by the dead node {dead} after {WITHIN}s"
        await asyncio.sleep(0.5)
    return leader


async def test_when_the_holders_node_dies_with_the_leader_the_next_consumer_gets_the_token_redelivered(
    cluster, connections
):
    queue = await token_queue(cluster, connections[0], "sac-holder-on-leader", leader=0)
    holders = [TokenHolder(url) for url in cluster.urls]  # holder 0 on the leader's node, standbys on 1 and 2
    try:
        await holders[0].start(queue)
        assert (await holders[0].next()).body == b"token"
        for standby in holders[1:]:
            await standby.start(queue)
        await asyncio.to_thread(cluster.kill, 0)
        new_holder, token = await first_arrival(holders[1:])
        assert (token.body, token.redelivered) == (b"token", True)
        other = next(h for h in holders[1:] if h is not new_holder)
        await token.ack()
        await publish(connections[1], queue, b"next")
        assert (await new_holder.next()).body == b"next"  # still the one active consumer
        assert other.received == []
        assert len(holders[0].received) == 1
    finally:
        for holder in holders:
            await holder.close()
        await asyncio.to_thread(cluster.restart, 0)


async def test_when_only_the_leaders_node_dies_the_holder_keeps_the_token_and_its_standby_gets_nothing(
    cluster, connections
):
    queue = await token_queue(cluster, connections[0], "sac-leader-only", leader=0)
    holder, standby = TokenHolder(cluster.urls[1]), TokenHolder(cluster.urls[2])
    try:
        await holder.start(queue)
        token = await holder.next()
        await standby.start(queue)
        await asyncio.to_thread(cluster.kill, 0)
        await wait_for_leader_off(cluster, queue, dead=0, via=1)
        await token.ack()  # settled through the new leader
        await publish(connections[1], queue, b"next")
        assert (await holder.next()).body == b"next"  # arrives only once the token's ack took effect
        assert [m.body for m in holder.received] == [b"token", b"next"]
        assert standby.received == []
    finally:
        await holder.close()
        await standby.close()
        await asyncio.to_thread(cluster.restart, 0)


async def confirms(channel: aio_pika.abc.AbstractChannel, queue: str, count: int = 5) -> list[str]:
    """Publish `count` messages one by one: "ack" or "nack" for each."""
    outcomes = []
    for _ in range(count):
        try:
            await channel.default_exchange.publish(aio_pika.Message(b"m", delivery_mode=2), routing_key=queue,
                                                   timeout=WITHIN)
            outcomes.append("ack")
        except aio_pika.exceptions.DeliveryError:
            outcomes.append("nack")
    return outcomes


async def test_a_channel_that_meets_a_leader_election_may_be_nacked_until_the_node_returns_but_a_new_one_is_not(
    cluster, connections
):
    """A publisher that reconnects to a survivor at once, while the queue elects its new leader, can get a channel
    whose every publish to that queue is nacked for as long as the dead node stays down (4 of 6 tries on this
    machine, with and without `x-overflow: reject-publish`); a channel opened a moment later is acked. So a
    publisher must not keep using a channel that nacks."""
    queue = queue_name("election")
    await declare(connections[0], queue, **{"x-overflow": "reject-publish"})
    busy = asyncio.create_task(confirms(await connections[0].channel(publisher_confirms=True), queue, 10_000))
    early_connection = None
    try:
        await asyncio.to_thread(cluster.kill, 0)
        early_connection = await connect(cluster.urls[1])
        early = await early_connection.channel(publisher_confirms=True)
        first = await confirms(early, queue)
        await wait_for_leader_off(cluster, queue, dead=0, via=1)
        assert await confirms(await early_connection.channel(publisher_confirms=True), queue) == ["ack"] * 5
        if "nack" in first:
            assert await confirms(early, queue) == ["nack"] * 5, f"first {first}"  # still, the leader known
    finally:
        busy.cancel()
        with contextlib.suppress(BaseException):
            await busy
        await asyncio.to_thread(cluster.restart, 0)
    assert early_connection is not None
    assert await confirms(early, queue) == ["ack"] * 5  # the dead node is back: the stuck channel recovers
    await early_connection.close()
