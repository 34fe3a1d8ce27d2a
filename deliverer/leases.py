"""Which destinations this replica delivers: those whose lease it holds (hookpipe.amqp.lease).

Every replica queues for every destination's lease; the holder alone consumes the destination's queue, so the
destination's rate limit, concurrency, breaker, pause and order hold for the whole deployment, and when a holder
dies another replica takes over as soon as RabbitMQ notices. A destination's throughput is therefore one
replica's; replicas add throughput across destinations. The first replica to start gets every lease, so a holder
with more than its share (destinations over replicas, rounded up; the replicas are counted as the consumers of
the roll-call queue, `{prefix}.replicas.deliverer`) hands the extra ones over, after their
attempts in flight are done, so a hand-over never runs one destination's requests on two replicas at once.
Not handed over: an in-order (fifo) destination (its head may be waiting in place) and one whose breaker is not
closed (a new holder would start closed and send it a full prefetch again).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Collection

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from deliverer.breaker import DestinationBreaker
from deliverer.circuit import BreakerState
from deliverer.sender import Sender
from hookpipe.amqp.broker import Link, consume, queue_state
from hookpipe.amqp.lease import Lease
from hookpipe.amqp.topology import Names, declare_roll_call
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")

#: Seconds between two looks at whether this replica holds more than its share of leases.
BALANCE_EVERY = 5.0

#: Seconds a hand-over waits for the destination's attempts in flight before giving up this time.
DRAIN_TIMEOUT = 60.0


def must_stay(sender: Sender | None, breaker: DestinationBreaker | None) -> bool:
    """Whether a destination's lease must not be handed over now: removed, fifo, or its breaker not closed."""
    if sender is None or breaker is None or sender.config.ordering == "fifo":
        return True
    return breaker.state is not BreakerState.CLOSED


class DeliveryLeases:
    """The destinations' leases on the consuming connection.

    Parameters: `names` the topology's; `start(name)` starts delivering a destination whose lease was gained;
    `stop(name)` stops it before a hand-over; `drained(name, timeout)` waits until none of its attempts runs
    (whether none does); `pinned(name)` whether it must not be handed over now.
    """

    def __init__(
        self, names: Names, *, start: Callable[[str], Awaitable[None]], stop: Callable[[str], Awaitable[None]],
        drained: Callable[[str, float], Awaitable[bool]], pinned: Callable[[str], bool],
    ) -> None:
        self._names = names
        self._start = start
        self._stop = stop
        self._drained = drained
        self._pinned = pinned
        self._leases: dict[str, Lease] = {}
        self._handing_over: set[str] = set()
        self._link: Link | None = None
        self._connection: AbstractConnection | None = None

    def holds(self, name: str) -> bool:
        """Whether this replica may deliver `name`: it holds the lease and is not handing it over."""
        lease = self._leases.get(name)
        return lease is not None and lease.held and name not in self._handing_over

    @property
    def held(self) -> list[str]:
        return [name for name, lease in self._leases.items() if lease.held]

    async def join_all(self, link: Link, connection: AbstractConnection, destinations: Collection[str]) -> None:
        """Queue for every destination's lease on a new consuming connection."""
        for name, lease in self._leases.items():
            lease.close()
            metrics.DESTINATION_LEASE_HELD.labels(destination=name).set(0)
        self._leases = {}
        self._link, self._connection = link, connection
        async with connection.channel() as channel:
            await declare_roll_call(channel, self._names, "deliverer")
        await consume(link, connection, self._names.roll_call("deliverer"), _never_sent, prefetch=1)
        for name in destinations:
            await self.join(name)

    async def join(self, name: str) -> None:
        """Queue for one destination's lease (a destination a reload added), if connected."""
        if self._link is None or self._connection is None or self._connection.is_closed or name in self._leases:
            return
        lease = Lease(self._names, self._names.delivery_lease(name), gained=lambda: self._gained(name))
        self._leases[name] = lease
        await lease.join(self._link, self._connection)

    async def _gained(self, name: str) -> None:
        metrics.DESTINATION_LEASE_HELD.labels(destination=name).set(1)
        await self._start(name)

    async def leave(self, name: str) -> None:
        """Stop wanting a destination's lease (a reload removed it; its delivery has stopped): whoever is next
        in line gets it."""
        lease = self._leases.pop(name, None)
        metrics.DESTINATION_LEASE_HELD.labels(destination=name).set(0)
        if lease is not None:
            await lease.leave()

    def close(self) -> None:
        for lease in self._leases.values():
            lease.close()

    async def balance_forever(self) -> None:
        """Every BALANCE_EVERY seconds, hand over the leases this replica holds beyond its share."""
        while True:
            await asyncio.sleep(BALANCE_EVERY)
            try:
                await self.balance()
            except Exception as error:  # a lost connection: the next one's set-up joins again
                log.warning("could not balance destination leases", extra={"error": str(error)})

    async def balance(self) -> None:
        connection = self._connection
        if connection is None or connection.is_closed or not self._leases:
            return
        state = await queue_state(connection, self._names.roll_call("deliverer"))
        if state is None or state.consumers <= 1:
            return
        share = math.ceil(len(self._leases) / state.consumers)
        candidates = [name for name in self.held if not self._pinned(name)]
        for name in candidates[: max(0, len(self.held) - share)]:
            await self._hand_over(name)

    async def _hand_over(self, name: str) -> None:
        self._handing_over.add(name)  # nothing starts consuming it again meanwhile (a probe, a resume)
        lease = None
        try:
            await self._stop(name)
            if await self._drained(name, DRAIN_TIMEOUT) and (lease := self._leases.get(name)) is not None:
                metrics.DESTINATION_LEASE_HELD.labels(destination=name).set(0)
                await lease.hand_over()
                log.info("destination handed to another replica", extra={"destination": name})
        finally:
            self._handing_over.discard(name)
        if lease is None or lease.held:  # kept (still busy), or back already (nobody else was in line)
            await self._start(name)


async def _never_sent(_: AbstractIncomingMessage) -> None:
    """The roll-call queue's consumer: nothing is ever published there; it is consumed to be counted."""
