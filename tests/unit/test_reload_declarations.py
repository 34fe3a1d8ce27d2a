"""Every service declares what a reloaded config adds the same way (hookpipe.amqp.broker.declare_for_reload):
a broker that stays away refuses the reload in a bounded time instead of holding every later reload, and the
refusal names what could not be declared."""

from __future__ import annotations

import pytest
from aio_pika.abc import AbstractChannel

from hookpipe.amqp import broker
from hookpipe.amqp.broker import Link, declare_for_reload
from hookpipe.config import ConfigError


async def test_a_broker_that_stays_away_refuses_the_reload_naming_what_it_adds(monkeypatch) -> None:
    monkeypatch.setattr(broker, "RELOAD_CONNECT_TIMEOUT", 0.05)
    never_connected = Link("amqp://guest:guest@127.0.0.1:1/", name="publish", heartbeat=10)
    declared: list[AbstractChannel] = []

    async def declare(channel: AbstractChannel) -> None:
        declared.append(channel)

    with pytest.raises(ConfigError) as refused:
        await declare_for_reload(never_connected, declare, what="the queues of destinations.billing")

    assert refused.value.problems == [
        "broker: not connected, so the queues of destinations.billing cannot be declared; send SIGHUP to retry"
    ]
    assert declared == []
