"""A lease: one holder at a time among every process that wants it, kept and handed over by RabbitMQ.

A lease is a token message in a quorum queue with a single active consumer (hookpipe.amqp.topology.declare_lease).
Every process that wants the lease consumes that queue; RabbitMQ delivers only to the active consumer, which keeps
the token unacked: it holds the lease for as long as its channel lives. When the holder's connection goes (a
crash, a kill, a lost node), RabbitMQ returns the token and activates the next consumer in line, which receives
it: failover takes as long as the broker takes to notice (at once for a closed socket, the heartbeat time-out
for a host that vanished). The deliverer holds one lease per destination, so a destination's rate limit,
concurrency, breaker and order hold for the whole deployment; routers take one when order matters.

Tokens: every process publishes one when it joins (so the first to join finds one), and the holder acks every
token beyond the one it keeps (all tokens go to the active consumer), so one remains however many joined.
No other token is ever acked, so a token always exists while anyone wants the lease.

RabbitMQ closes a channel whose delivery stays unacked longer than its consumer_timeout (30 min by default): the
holder renews its token every RENEW_EVERY seconds by publishing a fresh one, which only it can receive, and
acking the old one when the fresh one arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from hookpipe.amqp.broker import Consumption, Link, ack, consume, requeue
from hookpipe.amqp.topology import Names, declare_lease

log = logging.getLogger(__name__)

#: Seconds between renewals of a held token: well inside RabbitMQ's default consumer_timeout (1,800 s).
RENEW_EVERY = 300.0

#: Unacked tokens the broker may send: more than one, so extra tokens reach the holder, which drops them.
TOKEN_PREFETCH = 16


class Lease:
    """The lease of `queue_name`. `gained()` runs when this process becomes the holder; it stays the holder
    until its connection goes (then every lease of that connection is gone with it: `join` again on the next
    one) or it hands the lease over. `held` says whether it holds it now."""

    def __init__(self, names: Names, queue_name: str, *, gained: Callable[[], Awaitable[None]]) -> None:
        self._names = names
        self.queue_name = queue_name
        self._gained = gained
        self.held = False
        self._token: AbstractIncomingMessage | None = None
        self._renewing = False
        self._consumption: Consumption | None = None
        self._link: Link | None = None
        self._connection: AbstractConnection | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._line = 0  # which consumer of ours is the current one: a token reaching an older one is not ours

    async def join(self, link: Link, connection: AbstractConnection) -> None:
        """Queue for the lease on `connection` (a new one: what an earlier one held went with it)."""
        self._forget()
        self._link, self._connection = link, connection
        async with connection.channel() as channel:  # publisher confirms: the token is in the queue
            await declare_lease(channel, self._names, self.queue_name)
            await self._publish_token(connection)
        self._consumption = await self._queue_up(link, connection)

    async def hand_over(self) -> None:
        """Give the lease to the next process in line: leave the line, return the token (RabbitMQ sends it to
        the new active consumer), and join the line again at its end. The caller has stopped the work first."""
        if not self.held or self._consumption is None or self._link is None or self._connection is None:
            return
        token, self._token = self._token, None
        self.held = False
        self._line += 1  # a token still reaching the consumer being left is not taken
        self._stop_renewing()
        await self._consumption.cancel()
        if token is not None:
            await requeue(token)
        await self._consumption.close()
        self._consumption = await self._queue_up(self._link, self._connection)
        log.info("lease handed over", extra={"lease": self.queue_name})

    async def _queue_up(self, link: Link, connection: AbstractConnection) -> Consumption:
        """Consume the lease queue: wait in line behind the consumers already there."""
        self._line += 1
        line = self._line

        async def arrived(token: AbstractIncomingMessage) -> None:
            if line == self._line:  # else it reached a consumer we have left: its channel's close returns it
                await self._arrived(token)

        return await consume(link, connection, self.queue_name, arrived, prefetch=TOKEN_PREFETCH)

    async def leave(self) -> None:
        """Leave the line for good (the caller has stopped the work): a held token goes to the next in line."""
        consumption = self._consumption
        self._forget()
        if consumption is not None:
            await consumption.cancel()
            await consumption.close()

    def close(self) -> None:
        """Stop renewing (on stop); the token goes back when the connection closes."""
        self._forget()

    async def _arrived(self, token: AbstractIncomingMessage) -> None:
        if self._token is None:
            self._token = token
            self.held = True
            self._renewal = asyncio.create_task(self._renew(), name=f"renew:{self.queue_name}")
            log.info("lease gained", extra={"lease": self.queue_name})
            try:
                await self._gained()
            except Exception:
                log.exception("could not start the work of a gained lease", extra={"lease": self.queue_name})
                if self._link is not None:  # holding a lease nobody works on would stall it: start over
                    self._link.reconnect("a gained lease could not be worked on")
            return
        if self._renewing:  # the fresh token: keep it, drop the old one
            old, self._token, self._renewing = self._token, token, False
            await ack(old)
            return
        await ack(token)  # one more than the lease needs

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            if self._connection is None or self._connection.is_closed:
                return
            self._renewing = True
            try:
                await self._publish_token(self._connection)
            except Exception as error:  # the connection is going: the lease goes with it
                log.warning("could not renew a lease", extra={"lease": self.queue_name, "error": str(error)})
                self._renewing = False

    async def _publish_token(self, connection: AbstractConnection) -> None:
        async with connection.channel() as channel:
            await channel.default_exchange.publish(
                Message(b"", delivery_mode=DeliveryMode.PERSISTENT), routing_key=self.queue_name
            )

    def _stop_renewing(self) -> None:
        self._renewing = False
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None

    def _forget(self) -> None:
        self._line += 1
        self._stop_renewing()
        self.held = False
        self._token = None
        self._consumption = None
