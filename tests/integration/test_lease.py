"""hookpipe.amqp.lease on the real broker: one holder among many, handed on when it goes, one token kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hookpipe.amqp import lease as lease_module
from hookpipe.amqp.broker import Link, queue_state
from hookpipe.amqp.lease import Lease
from hookpipe.amqp.topology import Names
from tests.support.broker import AMQP_URL, connect


class Contender:
    """One process's side of a lease: its own link (connection) and a lease that records when it was gained."""

    def __init__(self, names: Names, number: int) -> None:
        self.gained = asyncio.Event()
        self.times_gained = 0
        self.link = Link(AMQP_URL, name=f"lease-test-{number}", heartbeat=2, on_open=self._join)
        self.lease = Lease(names, names.router_lease, gained=self._gained)

    async def _gained(self) -> None:
        self.times_gained += 1
        self.gained.set()

    async def _join(self, connection) -> None:  # type: ignore[no-untyped-def]
        await self.lease.join(self.link, connection)

    async def start(self) -> None:
        self.link.start()
        assert await self.link.wait_ready(15)

    async def stop(self) -> None:
        self.lease.close()
        await self.link.close()


@pytest.fixture
async def contenders(prefix: str) -> AsyncIterator[list[Contender]]:
    names = Names(prefix)
    started = [Contender(names, number) for number in range(3)]
    yield started
    for contender in started:
        await contender.stop()
    connection = await connect()
    async with connection.channel() as channel:
        await channel.queue_delete(names.router_lease)
    await connection.close()


async def wait_for_one_holder(contenders: list[Contender], timeout: float = 10) -> Contender:
    async with asyncio.timeout(timeout):
        while True:
            holding = [c for c in contenders if c.lease.held]
            assert len(holding) <= 1, "two holders at once"
            if holding:
                return holding[0]
            await asyncio.sleep(0.02)


async def tokens(prefix: str) -> int:
    """Tokens waiting in the lease queue (the held one is unacked, not counted)."""
    connection = await connect()
    try:
        state = await queue_state(connection, Names(prefix).router_lease)
        assert state is not None
        return state.messages
    finally:
        await connection.close()


async def test_one_of_three_holds_and_each_death_hands_it_to_another(contenders: list[Contender], prefix: str) -> None:
    for contender in contenders:
        await contender.start()
    holder = await wait_for_one_holder(contenders)
    await asyncio.sleep(0.5)  # every joiner's token has arrived by now: the holder dropped the extra ones
    assert [c.lease.held for c in contenders].count(True) == 1
    assert await tokens(prefix) == 0

    remaining = list(contenders)
    for _ in range(2):
        remaining.remove(holder)
        await holder.stop()  # its connection closes: RabbitMQ returns the token to the next in line
        holder = await wait_for_one_holder(remaining)
        assert holder.gained.is_set()
    assert sum(c.times_gained for c in contenders) == 3


async def test_a_handed_over_lease_goes_to_another_and_the_giver_waits_in_line(
    contenders: list[Contender], prefix: str
) -> None:
    first, second = contenders[:2]
    await first.start()
    await wait_for_one_holder([first])
    await second.start()
    await first.lease.hand_over()
    assert await wait_for_one_holder([first, second]) is second
    await second.stop()  # back to the one still in line
    assert await wait_for_one_holder([first]) is first
    assert first.times_gained == 2


async def test_renewal_keeps_the_lease_with_its_holder_and_one_token(
    contenders: list[Contender], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_module, "RENEW_EVERY", 0.2)
    first, second = contenders[:2]
    await first.start()
    await wait_for_one_holder([first])
    await second.start()
    await asyncio.sleep(1.5)  # several renewals
    assert first.lease.held and not second.lease.held
    assert first.times_gained == 1 and second.times_gained == 0
    assert await tokens(prefix) == 0
    await first.stop()
    assert await wait_for_one_holder([second]) is second
