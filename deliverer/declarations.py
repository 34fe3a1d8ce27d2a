"""What the deliverer declares on the broker: its destinations' queues and the retry rungs, and which rungs it
knows exist."""

from __future__ import annotations

from collections.abc import Mapping

from aio_pika.abc import AbstractChannel, AbstractConnection

from hookpipe.amqp.broker import Link, PublishFailed, PublishFailure, declare_for_reload
from hookpipe.amqp.topology import Names, declare_destination, declare_retry_rung


class Declarations:
    """Declares on `link`'s connection (the publishing one) by the topology's `names`.

    `rungs`: the retry rungs known to exist. A publish to one that failed clears them (`forget_rungs`): each is
    declared again on its next use.
    """

    def __init__(self, link: Link, names: Names) -> None:
        self._link = link
        self._names = names
        self.rungs: set[int] = set()

    async def declare(self, connection: AbstractConnection, destinations: Mapping[str, str], rungs: list[int]) -> None:
        """Declare `destinations` (name -> ordering) and retry `rungs` on one channel of `connection`."""
        async with connection.channel() as channel:
            await self._declare_on(channel, destinations, rungs)
        self.rungs.update(rungs)

    async def _declare_on(self, channel: AbstractChannel, destinations: Mapping[str, str], rungs: list[int]) -> None:
        for name, ordering in destinations.items():
            await declare_destination(channel, self._names, name, ordering=ordering)
        for ms in rungs:
            await declare_retry_rung(channel, self._names, ms)

    async def declare_for_reload(self, destinations: Mapping[str, str], rungs: list[int]) -> None:
        """Declare what a new config adds (hookpipe.amqp.broker.declare_for_reload: refused when it cannot)."""
        if not destinations and not rungs:
            return

        async def declare(channel: AbstractChannel) -> None:
            await self._declare_on(channel, destinations, rungs)

        await declare_for_reload(self._link, declare, what="what the new config adds")
        self.rungs.update(rungs)

    async def declare_rung(self, ms: int) -> None:
        """Declare one retry rung (one a Retry-After asked for); PublishFailed when not connected."""
        connection = self._link.connection
        if connection is None:
            raise PublishFailed(PublishFailure.DISCONNECTED)
        await self.declare(connection, {}, [ms])

    def forget_rungs(self) -> None:
        self.rungs.clear()
