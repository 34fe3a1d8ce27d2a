"""The deliverer's consumers: one per destination queue, each on its own channel of the consuming connection."""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Any

from aio_pika.abc import AbstractConnection

from deliverer.sender import Sender
from hookpipe.amqp.broker import Consumption, Link, MessageHandler, consume
from hookpipe.amqp.topology import Names
from hookpipe.config import DestinationConfig

#: Seconds of deliveries at the destination's rate that may wait unacked in the deliverer: bounded memory, and
#: far below RabbitMQ's consumer_timeout (30 min) and our own 5-minute bound on an unacked delivery.
PREFETCH_SECONDS = 60

#: Seconds a stopped consumer's channel stays open after the destination's timeout, so attempts still running
#: on it can be acked there.
CLOSE_GRACE = 5


def prefetch(destination: DestinationConfig) -> int:
    """Unacked deliveries per destination: its concurrency, but no more than a minute at its rate limit; one
    for an in-order (fifo) destination."""
    if destination.ordering == "fifo":
        return 1
    if destination.rate_limit is None:
        return destination.concurrency
    return max(1, min(destination.concurrency, math.floor(destination.rate_limit * PREFETCH_SECONDS)))


class Consumers:
    """Starts and stops the consumers of the destinations' queues.

    Parameters: `link` the consuming connection; `names` the topology's; `handler(name)` what handles a
    delivery from `name`'s queue; `senders` the configured destinations (their settings give the prefetch; one
    no longer in it is not consumed); `paused` the destinations paused now (read here, never changed);
    `holds(name)` whether this replica holds the destination's lease (deliverer.leases: only the holder
    consumes); `spawn` runs a background task the service cancels on stop.
    """

    def __init__(
        self, link: Link, names: Names, *, handler: Callable[[str], MessageHandler], senders: Mapping[str, Sender],
        paused: Callable[[], Collection[str]], holds: Callable[[str], bool],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._link = link
        self._names = names
        self._handler = handler
        self._senders = senders
        self._paused = paused
        self._holds = holds
        self._spawn = spawn
        self.active: dict[str, Consumption] = {}
        self._starting: set[str] = set()  # consumers being set up
        self._stops: collections.Counter[str] = collections.Counter()  # stop() calls, by destination
        self._connection: AbstractConnection | None = None
        self._stopped = False  # the service is stopping: nothing starts consuming again

    def opening(self, connection: AbstractConnection) -> None:
        """Consume on `connection` from now on: the link's new one, while its set-up runs and after (a lease may
        be gained in between). What a lost connection consumed is gone with it."""
        self._connection = connection
        self.active = {}

    def paused(self, name: str) -> bool:
        return name in self._paused()

    def consuming(self, name: str) -> bool:
        return name in self.active

    async def consume(self, name: str, prefetch_count: int | None = None) -> None:
        """Consume `name`'s queue with `prefetch_count` unacked at most (None: the destination's prefetch)."""
        connection = self._connection
        if self._stopped or connection is None or connection.is_closed or name in self.active or name in self._starting:
            return  # not connected (the next connection's set-up consumes), consuming, or about to
        if not self._wanted(name):
            return
        count = prefetch(self._senders[name].config) if prefetch_count is None else prefetch_count
        stops = self._stops[name]
        self._starting.add(name)
        try:
            consumption = await consume(
                self._link, connection, self._names.deliver_queue(name), self._handler(name), prefetch=count,
            )
        finally:
            self._starting.discard(name)
        stale = stops != self._stops[name] or connection is not self._connection
        if stale or self._stopped or not self._wanted(name):
            # Stopped, paused, handed over or reconnected while the consumer was being set up.
            await self._retire(consumption, name)
            return
        self.active[name] = consumption

    def _wanted(self, name: str) -> bool:
        """Not paused, still configured, and this replica holds its lease."""
        return not self.paused(name) and name in self._senders and self._holds(name)

    async def stop(self, name: str) -> None:
        """Cancel the destination's consumer; its channel closes once attempts still running on it are done."""
        self._stops[name] += 1
        consumption = self.active.pop(name, None)
        if consumption is not None:
            await self._retire(consumption, name)

    async def _retire(self, consumption: Consumption, name: str) -> None:
        await consumption.cancel()
        sender = self._senders.get(name)
        grace = (sender.config.timeout if sender is not None else 0) + CLOSE_GRACE
        self._spawn(_close_later(consumption, grace))

    async def give_back(self, name: str) -> None:
        """Cancel the destination's consumer and close its channel now: its unacked messages return to the queue
        in their place."""
        self._stops[name] += 1
        consumption = self.active.pop(name, None)
        if consumption is not None:
            await consumption.cancel()
            await consumption.close()

    async def consume_after(self, name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.consume(name)

    async def cancel_all(self) -> None:
        """Stop receiving (on stop): deliveries in flight can still be acked."""
        self._stopped = True
        for consumption in list(self.active.values()):
            await consumption.cancel()


async def _close_later(consumption: Consumption, delay: float) -> None:
    await asyncio.sleep(delay)
    await consumption.close()
