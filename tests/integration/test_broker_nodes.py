"""`broker.url` as a list of a cluster's nodes (docs/configuration.md): links and the CLI connect to the first node
that answers, and a link whose node goes away reconnects to another one."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest
from aio_pika.abc import AbstractConnection

from hookpipe.amqp.broker import Link, link_problems
from hookpipe.config import redact_url
from ingest.app import IngestService
from tests.support.cli import hookpipe
from tests.support.pipeline import AMQP_URL, free_port, load, pipeline_config, write_config
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.integration

#: Seconds a link gets to be ready: the closed node refuses at once, the broker answers within a second or two.
READY_WITHIN = 20.0


def closed_node() -> str:
    """An AMQP URL on 127.0.0.1 where nothing listens: the connect is refused."""
    return f"amqp://guest:guest@127.0.0.1:{free_port()}/"


def through(proxy: TcpProxy) -> str:
    return f"amqp://guest:guest@127.0.0.1:{proxy.port}/"


async def test_a_service_link_becomes_ready_on_the_second_node_when_the_first_is_closed(
    prefix, receiver, topology_cleanup, tmp_path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="hookpipe.amqp.broker")
    refused = closed_node()
    config = pipeline_config(prefix, receiver.url)
    config["broker"]["url"] = [refused, AMQP_URL]
    topology_cleanup(pipeline_config(prefix, receiver.url))
    ingest = IngestService(load(config))
    await ingest.start()
    try:
        link = ingest.publisher.link
        assert await link.wait_ready(READY_WITHIN)
        assert link.url == AMQP_URL
        assert link_problems(link) == []
        failed = [r.__dict__["url"] for r in caplog.records if r.getMessage() == "broker connection failed"]
        connected = [r.__dict__["url"] for r in caplog.records if r.getMessage() == "connected to the broker"]
        assert failed[:1] == [redact_url(refused)] and "guest:***@" in failed[0]
        assert connected == [redact_url(AMQP_URL)]
    finally:
        await ingest.stop()

    result = await hookpipe("status", "--config", str(write_config(tmp_path, config)), "--json", "--interval", "0")
    assert result.returncode == 0, result.stderr
    status = result.json()
    assert status["broker"]["reachable"] is True
    assert status["broker"]["url"] == f"{redact_url(refused)}, {redact_url(AMQP_URL)}"


async def test_the_cli_names_every_node_it_could_not_reach(prefix, receiver, tmp_path):
    nodes = [closed_node(), closed_node()]
    config = pipeline_config(prefix, receiver.url)
    config["broker"]["url"] = nodes
    result = await hookpipe("status", "--config", str(write_config(tmp_path, config)), "--json", "--interval", "0")
    assert result.returncode == 1
    error = result.json()["broker"]["error"]
    refused = "AMQPConnectionError: [Errno 111] Connect call failed"
    assert all(f"{redact_url(node)}: {refused}" in error for node in nodes), error


async def test_a_link_whose_node_drops_reconnects_to_the_other_node():
    broker = urlsplit(AMQP_URL)
    proxies = [TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672) for _ in range(2)]
    for proxy in proxies:
        await proxy.start()
    opened_on: list[str] = []
    link: Link

    async def on_open(_: AbstractConnection) -> None:
        opened_on.append(link.url)

    link = Link([through(proxy) for proxy in proxies], name="test-nodes", heartbeat=2, on_open=on_open)
    link.start()
    try:
        assert await link.wait_ready(READY_WITHIN)
        assert opened_on == [through(proxies[0])]

        await proxies[0].cut()  # node 0 goes away: the link must not wait for it
        await _reconnected(link, opened_on, 2)
        assert opened_on[1] == through(proxies[1])

        await proxies[0].restore()
        await proxies[1].cut()  # and back: the link starts after the node that dropped
        await _reconnected(link, opened_on, 3)
        assert opened_on[2] == through(proxies[0])
        assert link.url == through(proxies[0])
    finally:
        await link.close()
        for proxy in proxies:
            await proxy.stop()


async def _reconnected(link: Link, opened_on: list[str], connects: int) -> None:
    """Wait until the link has run its set-up `connects` times and is ready."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_WITHIN
    while not (len(opened_on) >= connects and link.is_ready):
        assert loop.time() < deadline, f"not reconnected within {READY_WITHIN:g} s: {opened_on}"
        await asyncio.sleep(0.05)
