"""Run one chaos scenario from start to clean-up and say what became of its events."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from hookpipe.amqp.broker import describe
from tests.chaos.load import ProviderLoad
from tests.chaos.pipeline import chaos_config, delete_topology, drain, unconfirmed_windows
from tests.chaos.receiver import CountingReceiver
from tests.chaos.scenarios import ChaosRun, Scenario
from tests.support.pipeline import AMQP_URL, ingest_url
from tests.support.proxy import TcpProxy
from tests.support.rabbitmq_cluster import RabbitMQCluster
from tests.support.rabbitmq_node import RABBITMQ_SCRIPTS, NodeUnavailable, PrivateRabbitMQ
from tests.support.service_set import SERVICES, ServiceSet


@dataclass
class ScenarioResult:
    name: str
    what: str
    events: int
    accepted: int = 0
    delivered: int = 0
    dead: int = 0
    lost: int = 0
    duplicated: int = 0
    kills: int = 0
    bound: int = 0
    given_up: int = 0  # events the load stopped retrying: never accepted, so not lost
    seconds: float = 0.0
    drain_s: float = 0.0
    skipped: str = ""
    lost_sample: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if self.skipped:
            return True
        return not self.problems and self.lost == 0 and self.duplicated <= self.bound


async def run_scenario(scenario: Scenario, *, events: int, concurrency: int, body_size: int, work_dir: Path,
                       drain_timeout: float) -> ScenarioResult:
    result = ScenarioResult(scenario.name, scenario.what, events)
    began = time.monotonic()
    receiver = CountingReceiver()
    await receiver.start()
    rabbit: PrivateRabbitMQ | None = None
    cluster: RabbitMQCluster | None = None
    proxy: TcpProxy | None = None
    services: ServiceSet | None = None
    broker_url = AMQP_URL  # where the queues really are: for counting dead letters and for clean-up
    config = None
    try:
        if scenario.private_broker:
            rabbit = PrivateRabbitMQ("hp-chaos", plugins=())  # no plugins: it boots fastest
            try:
                await asyncio.to_thread(rabbit.start)
            except NodeUnavailable as error:
                result.skipped = str(error)
                return result
            broker_url = rabbit.amqp_url
        if scenario.cluster:
            if not (RABBITMQ_SCRIPTS / "rabbitmq-server").exists():
                result.skipped = "rabbitmq-server is not installed: no private cluster"
                return result
            cluster = RabbitMQCluster(3, name_prefix="hp-chaos")
            await asyncio.to_thread(cluster.start)  # a cluster that does not form is a failure, not a skip
            broker_url = cluster.urls[-1]  # counted once the disruption is over: every node is running again
        services_url = broker_url
        if scenario.through_proxy:
            broker = urlsplit(broker_url)
            proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
            await proxy.start()
            services_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
        prefix = f"hp-chaos-{uuid.uuid4().hex[:8]}"
        config = chaos_config(prefix, receiver.url, services_url)
        if cluster is not None:
            config["broker"]["url"] = cluster.urls
        windows = unconfirmed_windows(config, concurrency)
        directory = work_dir / scenario.name
        directory.mkdir(parents=True, exist_ok=True)
        services = ServiceSet(config, directory)
        await services.start()
        load = ProviderLoad(ingest_url(config), concurrency=concurrency, body_size=body_size, id_prefix=f"{prefix}-")
        run = ChaosRun(events, services, load, receiver, proxy=proxy, rabbit=rabbit, cluster=cluster)
        if scenario.prepare is not None:
            await scenario.prepare(run)
        disruption = asyncio.create_task(scenario.disrupt(run))
        try:
            sent = await load.run(events=events)
            run.note("sending done")
            await disruption
        finally:
            disruption.cancel()
            result.timeline = run.timeline
            result.problems.extend(run.problems)
        tally = await drain(receiver, sent.accepted, broker_url, config, drain_timeout)
        run.note(f"drained in {tally.drain_s:.1f}s")
        if tally.dead_reasons:
            run.note(f"dead-lettered: {dict(tally.dead_reasons)}")
        for name in SERVICES:
            process = services[name].process
            if process is None or process.poll() is not None:
                result.problems.append(f"{name} exited on its own (status {process and process.returncode})")
        result.kills = run.kills
        result.bound = scenario.bound(run.kills, windows)
        result.accepted = len(tally.accepted)
        result.delivered = len(tally.delivered)
        result.dead = len(tally.dead)
        result.lost = len(tally.lost)
        result.lost_sample = sorted(tally.lost)[:5]
        result.duplicated = tally.duplicates
        result.given_up = len(sent.given_up)
        result.drain_s = tally.drain_s
    except Exception as error:
        result.problems.append(describe(error))
    finally:
        if services is not None:
            try:
                await services.stop()
            except AssertionError as error:
                result.problems.append(str(error))
            services.kill_all()
        if proxy is not None:
            await proxy.stop()
        if config is not None and rabbit is None and cluster is None:
            with contextlib.suppress(Exception):
                await delete_topology(broker_url, config)
        if rabbit is not None:
            await asyncio.to_thread(rabbit.stop)
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
        await receiver.stop()
        result.seconds = time.monotonic() - began
    return result
