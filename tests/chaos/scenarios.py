"""The chaos scenarios: what each one breaks, when, and how many duplicates that may cause.

Every scenario runs the same stream (N events, provider-like load, see tests.chaos.load) through a fresh
pipeline and breaks one thing at spread-out moments while the stream flows. Its duplicate bound is
kills x the unconfirmed window of what was broken (tests.chaos.pipeline.UnconfirmedWindows): a SIGKILLed
service redoes at most what it held unsettled, and a broker restart, a cut link or the loss of the cluster node
the services are connected to makes every service redo its window once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from hookpipe.config import redact_url
from tests.chaos.load import ProviderLoad
from tests.chaos.node_loss import leading_node, moved_links
from tests.chaos.pipeline import UnconfirmedWindows
from tests.chaos.progress import Progress
from tests.chaos.receiver import CountingReceiver
from tests.support.proxy import TcpProxy
from tests.support.rabbitmq_cluster import RabbitMQCluster
from tests.support.rabbitmq_node import PrivateRabbitMQ
from tests.support.service_set import ServiceSet

#: Fractions of the stream at which a disruption happens: spread over it, none at the very start or end.
MOMENTS = (0.25, 0.5, 0.75)

#: Share of the stream that must be delivered after a restart before the next disruption may happen.
FLOW_FRACTION = 0.05

#: Seconds a disruption waits for its moment before it happens anyway (the stream may have stalled).
MOMENT_TIMEOUT = 120.0

#: Seconds the proxy keeps the broker link cut each time: longer than the services' heartbeat (2 s in these
#: configs), so each side notices the partition on its own.
CUT_SECONDS = 4.0

#: The flapping receiver: a bad spell of FLAP_BAD s (500s and resets) at each of these fractions of the
#: deliveries, answering 200 in between.
FLAP_MOMENTS = (0.1, 0.3, 0.5, 0.7)
FLAP_BAD = 3.0

#: The cluster node loss: fractions of the stream accepted when the node is SIGKILLed and when it is started
#: again (or later: the pipeline must be flowing on the survivors first).
NODE_KILL_AT = 0.3
NODE_RESTART_AT = 0.6

#: Characters of each service's log searched for its reconnects (a few lines per connect, none per event).
LOG_TAIL = 1_000_000

#: Seconds between looks into the services' logs for their reconnects after a node kill, and the bound on
#: that wait: a link tries the next node within a second (hookpipe.amqp.broker.RECONNECT_DELAY, doubling).
RECONNECT_POLL = 0.25
RECONNECT_TIMEOUT = 60.0

#: Seconds ingest may take, after a node kill, to accept FLOW_FRACTION of the stream again: links reconnect
#: within a second or two and quorum queues elect new leaders as fast, so this is far beyond a recovery.
RECOVERY_TIMEOUT = 30.0


@dataclass
class ChaosRun:
    """What a disruption acts on, and its record of what it did."""

    events: int
    services: ServiceSet
    load: ProviderLoad
    receiver: CountingReceiver
    proxy: TcpProxy | None = None
    rabbit: PrivateRabbitMQ | None = None
    cluster: RabbitMQCluster | None = None
    node: int | None = None  # the cluster node the scenario kills
    kills: int = 0
    timeline: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the disruption found wrong, beyond the count
    began: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.began:7.2f}s {what} (accepted {self.load.accepted.value}, "
                             f"delivered {self.receiver.progress.value})")

    async def at(self, progress: Progress, fraction: float, what: str) -> None:
        """Wait until `progress` reaches `fraction` of the stream (or MOMENT_TIMEOUT)."""
        try:
            await asyncio.wait_for(progress.reach(int(self.events * fraction)), MOMENT_TIMEOUT)
        except TimeoutError:
            self.note(f"{what}: moment not reached within {MOMENT_TIMEOUT:.0f}s, acting anyway")

    async def flowing_again(self) -> None:
        """Wait until deliveries have moved on by FLOW_FRACTION of the stream since now (or MOMENT_TIMEOUT), so
        the next disruption hits a pipeline that is working again, not one still recovering."""
        target = self.receiver.progress.value + max(1, int(self.events * FLOW_FRACTION))
        try:
            await asyncio.wait_for(self.receiver.progress.reach(min(target, self.events)), MOMENT_TIMEOUT)
        except TimeoutError:
            self.note(f"deliveries did not move on within {MOMENT_TIMEOUT:.0f}s")


Disruption = Callable[[ChaosRun], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str  # one line for the report
    disrupt: Disruption
    bound: Callable[[int, UnconfirmedWindows], int]  # (kills, windows) -> duplicates allowed
    private_broker: bool = False  # against a private RabbitMQ node this run starts
    cluster: bool = False  # against a private 3-node RabbitMQ cluster this run starts, every node in broker.url
    prepare: Disruption | None = None  # once the services are ready, before the load starts
    through_proxy: bool = False  # the services reach the broker through a TCP proxy


def _sigkill(service: str, progress_of: Callable[[ChaosRun], Progress]) -> Disruption:
    async def disrupt(run: ChaosRun) -> None:
        for fraction in MOMENTS:
            await run.at(progress_of(run), fraction, f"SIGKILL {service}")
            run.services[service].kill()
            run.kills += 1
            run.note(f"SIGKILL {service}")
            await run.services.restart(service)
            run.note(f"{service} ready again")
            await run.flowing_again()

    return disrupt


async def _restart_broker(run: ChaosRun) -> None:
    assert run.rabbit is not None
    await run.at(run.load.accepted, 0.5, "broker restart")
    run.note("stopping RabbitMQ (SIGTERM to its VM)")
    run.kills += 1
    await asyncio.to_thread(run.rabbit.stop_vm)
    run.note("RabbitMQ stopped; starting it again")
    await asyncio.to_thread(run.rabbit.start)
    run.note("RabbitMQ up again")


async def _cut_links(run: ChaosRun) -> None:
    assert run.proxy is not None
    for fraction in MOMENTS:
        await run.at(run.load.accepted, fraction, "cut")
        await run.proxy.cut()
        run.kills += 1
        run.note("broker link cut")
        await asyncio.sleep(CUT_SECONDS)  # the length of the partition
        await run.proxy.restore()
        run.note("broker link restored")
        await run.flowing_again()


async def _flap_receiver(run: ChaosRun) -> None:
    for fraction in FLAP_MOMENTS:
        await run.at(run.receiver.progress, fraction, "flapping")
        run.receiver.failing = True
        run.note("receiver failing (500s and resets)")
        await asyncio.sleep(FLAP_BAD)  # the length of the bad spell
        run.receiver.failing = False
        run.note("receiver answering 200")


async def _find_leader_node(run: ChaosRun) -> None:
    """Before the load: which node leads the run's queues (rabbitmqctl boots a VM of its own, seconds on a busy
    machine; leaders stay where they are until a node goes)."""
    cluster = run.cluster
    assert cluster is not None
    memory = ", ".join(f"{mib:.0f}" for mib in cluster.memory_mib())
    run.note(f"{len(cluster.nodes)}-node cluster booted in {cluster.boot_seconds:.1f}s, joined in "
             f"{cluster.join_seconds:.1f}s; VM memory {memory} MiB")
    run.node, leads = await asyncio.to_thread(leading_node, cluster, run.services.config["broker"]["prefix"])
    run.note(f"quorum queue leaders per node {leads}")


async def _kill_leader_node(run: ChaosRun) -> None:
    cluster, target = run.cluster, run.node
    assert cluster is not None and target is not None
    await run.at(run.load.accepted, NODE_KILL_AT, "node kill")
    killed_at = time.time()
    await asyncio.to_thread(cluster.kill, target)
    run.kills += 1
    run.note(f"SIGKILL node {target}, the router queue's leader")
    await _reconnected(run, redact_url(cluster.urls[target]), killed_at)
    if await _accepting_again(run):
        await run.flowing_again()
        run.note("deliveries moving again")
        await run.at(run.load.accepted, NODE_RESTART_AT, "node restart")
    rejoined = await asyncio.to_thread(cluster.restart, target)
    run.note(f"node {target} running in the cluster again {rejoined:.1f}s after its start")


async def _accepting_again(run: ChaosRun) -> bool:
    """Wait until ingest has accepted FLOW_FRACTION more of the stream (or all of it), at most RECOVERY_TIMEOUT
    s; past that, a problem: ingest is connected to a survivor but cannot publish (RabbitMQ 3.10 may nack every
    publish on a channel that first reached a quorum queue during its leader election, until the dead node is
    back: tests/integration/test_quorum_cluster.py); then the node is started again at once."""
    target = min(run.events, run.load.accepted.value + max(1, int(run.events * FLOW_FRACTION)))
    try:
        await asyncio.wait_for(run.load.accepted.reach(target), RECOVERY_TIMEOUT)
    except TimeoutError:
        run.problems.append(f"ingest accepted no more than {run.load.accepted.value} events in the "
                            f"{RECOVERY_TIMEOUT:.0f}s after the node kill (see its log: publish failed, nacked?)")
        run.note("ingest still refusing")
        return False
    run.note("ingest accepting again")
    return True


async def _reconnected(run: ChaosRun, node_url: str, since: float) -> None:
    """Wait until every service link that was on `node_url` has connected again (the services' logs say so;
    looked at every RECONNECT_POLL s, at most RECONNECT_TIMEOUT s), note where to and when, and record as
    problems the links that did not or that went back to that node."""
    deadline = time.monotonic() + RECONNECT_TIMEOUT
    while True:
        moved, stuck = moved_links(run.services.logs(LOG_TAIL), node_url, since)
        if not stuck or time.monotonic() > deadline:
            break
        await asyncio.sleep(RECONNECT_POLL)
    for link in moved:
        run.note(f"{link.service} {link.link} reconnected {link.at:.2f}s after the kill to {link.url}")
    run.problems.extend(f"{link} was on the killed node and did not reconnect within {RECONNECT_TIMEOUT:.0f}s"
                        for link in stuck)
    run.problems.extend(f"{link.service} {link.link} reconnected to the killed node" for link in moved
                        if link.url == node_url)
    if not moved and not stuck:
        run.problems.append("no service link was on the killed node")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("kill-ingest", "SIGKILL ingest 3x mid-stream, restart each time",
             _sigkill("ingest", lambda run: run.load.accepted), lambda kills, w: kills * w.ingest),
    Scenario("kill-router", "SIGKILL router 3x mid-stream, restart each time",
             _sigkill("router", lambda run: run.load.accepted), lambda kills, w: kills * w.router),
    Scenario("kill-deliverer", "SIGKILL deliverer 3x mid-delivery, restart each time",
             _sigkill("deliverer", lambda run: run.receiver.progress), lambda kills, w: kills * w.deliverer),
    Scenario("broker-restart", "stop and start a private RabbitMQ node mid-stream",
             _restart_broker, lambda kills, w: kills * w.all, private_broker=True),
    Scenario("proxy-cut", f"cut every broker link 3x for {CUT_SECONDS:.0f}s (TCP proxy), then restore",
             _cut_links, lambda kills, w: kills * w.all, through_proxy=True),
    Scenario("kill-cluster-node", "SIGKILL the RabbitMQ cluster node leading the queues, start it again later",
             _kill_leader_node, lambda kills, w: kills * w.all, cluster=True, prepare=_find_leader_node),
    Scenario("flapping-receiver", f"receiver fails {len(FLAP_MOMENTS)}x for {FLAP_BAD:.0f}s (500s, resets), then 200",
             _flap_receiver, lambda kills, w: 0),
)
