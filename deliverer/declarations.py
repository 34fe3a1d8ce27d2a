"""What the deliverer declares on the broker: its destinations' queues and the retry rungs, and which rungs it
knows exist."""

from __future__ import annotations

from collections.abc import Mapping

from aio_pika.abc import AbstractConnection

from hookpipe.amqp.broker import Link, PublishFailed, describe
from hookpipe.amqp.topology import Names, declare_destination, declare_retry_rung
from hookpipe.config import ConfigError

#: Seconds a reload waits for the broker before refusing the new config (it needs to declare what is new).
RELOAD_CONNECT_TIMEOUT = 10.0


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
            for name, ordering in destinations.items():
                await declare_destination(channel, self._names, name, ordering=ordering)
            for ms in rungs:
                await declare_retry_rung(channel, self._names, ms)
        self.rungs.update(rungs)

    async def declare_for_reload(self, destinations: Mapping[str, str], rungs: list[int]) -> None:
        """Declare what a new config adds; a broker that is away or refuses refuses the reload (ConfigError: the
        running config stays, and the next change or SIGHUP tries again)."""
        if not destinations and not rungs:
            return
        if not await self._link.wait_ready(RELOAD_CONNECT_TIMEOUT):
            raise ConfigError(["broker: not connected, so what the new config adds cannot be declared; "
                               "send SIGHUP to retry"])
        connection = self._link.connection
        try:
            assert connection is not None
            await self.declare(connection, destinations, rungs)
        except Exception as error:
            raise ConfigError([f"broker: cannot declare what the new config adds: {describe(error)}"]) from None

    async def declare_rung(self, ms: int) -> None:
        """Declare one retry rung (one a Retry-After asked for); PublishFailed when not connected."""
        connection = self._link.connection
        if connection is None:
            raise PublishFailed("disconnected")
        await self.declare(connection, {}, [ms])

    def forget_rungs(self) -> None:
        self.rungs.clear()
