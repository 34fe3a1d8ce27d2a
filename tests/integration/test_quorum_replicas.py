"""`broker.quorum_replicas`: every quorum queue hookpipe creates asks RabbitMQ for that many members."""

from __future__ import annotations

import aiormq
import pytest

from hookpipe.amqp.topology import Names, declare_all, declare_destination
from tests.support.broker import connect
from tests.support.pipeline import load, pipeline_config


async def test_queues_are_created_with_the_configured_replicas_and_keep_them(prefix, topology_cleanup) -> None:
    config = pipeline_config(prefix, "http://127.0.0.1:9/")
    config["broker"]["quorum_replicas"] = 3
    topology_cleanup(config)
    loaded = load(config).config
    connection = await connect()
    try:
        async with connection.channel() as channel:
            await declare_all(channel, loaded)  # 3 on a one-node broker: RabbitMQ caps it at the cluster's size
            await declare_all(channel, loaded)  # the same arguments again: accepted
        # The replica count is fixed at creation: declaring the queue without it is refused.
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
            await declare_destination(channel, Names(prefix), "receiver")
    finally:
        await connection.close()
