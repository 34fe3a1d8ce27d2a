"""deliverer: consume every `hookpipe.deliver.{destination}` queue and deliver each event over HTTP.

The deliverer's guarantee (docs/architecture.md, "Guarantees and how each hop keeps them"): a delivery is acked only
after success, or after its retry or dead-letter message is confirmed. A failed attempt goes to a retry rung (a queue
whose TTL sends it back to the destination's queue) as deliverer.retry decides, or to `hookpipe.dead.{destination}` with
its reason.

The service is a short consume loop (`_deliver`) and the parts it composes: each destination's breaker with its
probes (deliverer.breaker), in-order delivery (deliverer.fifo), pause and resume (deliverer.pause), the
consumers (deliverer.consumers), attempts and their account (deliverer.attempts), where a delivery goes after
its attempt (deliverer.handover), and what a reload changes (deliverer.reload).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aiohttp import web

from deliverer.attempts import Attempts
from deliverer.breaker import DestinationBreaker
from deliverer.circuit import BreakerState
from deliverer.consumers import Consumers, prefetch
from deliverer.declarations import Declarations
from deliverer.fifo import FIFO_WAIT_IN_PLACE, InOrder
from deliverer.handover import Handover
from deliverer.leases import DeliveryLeases, must_stay
from deliverer.outcomes import Parked
from deliverer.pause import Pauses
from deliverer.reload import FIXED_SETTINGS, config_change, destination_change
from deliverer.retry import Decision, decide, expired
from deliverer.sender import AttemptResult, Sender
from deliverer.sessions import SessionPool
from hookpipe.amqp.broker import Link, MessageHandler, Publisher, link_problems
from hookpipe.amqp.codec import MalformedEvent, decode_event
from hookpipe.amqp.recorder import declare_delivery_log, recorder_for
from hookpipe.amqp.topology import Names
from hookpipe.config import DestinationConfig, LoadedConfig
from hookpipe.event import Event, now_ms
from hookpipe.outcomes import DeadLetterReason
from hookpipe.rungs import BREAKER_PARK_SECONDS, configured_rungs, rung_for
from hookpipe.runtime import metrics
from hookpipe.runtime.ops_listener import ops_app, start_site

__all__ = ["FIFO_WAIT_IN_PLACE", "FIXED_SETTINGS", "DelivererService", "prefetch"]

log = logging.getLogger("deliverer")

#: Deadline for publishing a retry or dead letter, from call to confirm (s).
PUBLISH_TIMEOUT = 10.0

#: Seconds in-flight deliveries get to finish on SIGTERM before the connection closes (and they are requeued).
SHUTDOWN_GRACE = 20.0


class DelivererService:
    name = "deliverer"

    def __init__(self, loaded: LoadedConfig) -> None:
        self.config = loaded.config
        self.names = Names.of(self.config.broker)
        self.sessions = SessionPool()
        self.senders = {
            name: Sender(name, destination, self.sessions) for name, destination in self.config.destinations.items()
        }
        broker = self.config.broker
        self.publisher = Publisher(
            broker.url, name="hookpipe-deliverer-publish", heartbeat=broker.heartbeat, timeout=PUBLISH_TIMEOUT,
            declare=self._declare,
        )
        self.consumer = Link(broker.url, name="hookpipe-deliverer-consume", heartbeat=broker.heartbeat,
                             on_open=self._start_consuming)
        self.rungs = configured_rungs(self.config)
        self._background: set[asyncio.Task[None]] = set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self.pauses = Pauses(self.consumer, self.names, self.senders, stop=self._stop_delivering,
                             deliver=self._start_delivering, status=self.status)
        self.leases = DeliveryLeases(
            self.names, start=self._start_delivering, stop=self._stop_delivering,
            drained=lambda name, timeout: self.attempts.drained(name, timeout),
            pinned=lambda name: must_stay(self.senders.get(name), self.breakers.get(name)),
        )
        self.consumers = Consumers(self.consumer, self.names, handler=self._handler, senders=self.senders,
                                   paused=lambda: self.pauses.paused, holds=self.leases.holds, spawn=self._spawn)
        self.breakers = {name: self._new_breaker(name, d) for name, d in self.config.destinations.items()}
        recorder = recorder_for(self.config, self.publisher)
        self.attempts = Attempts(recorder)
        self.declarations = Declarations(self.publisher.link, self.names)
        self.handover = Handover(self.publisher, self.names, self.declarations, recorder)
        # Read here, not in deliverer.fifo, so a run (or a test) may set it on this module.
        self.in_order = InOrder(attempt=self.attempts.attempt, next_step=self._next_step, ends=self.handover,
                                give_back=self._give_back, wait_in_place=FIFO_WAIT_IN_PLACE)
        self._reload_lock = asyncio.Lock()
        self._ops: web.AppRunner | None = None

    @property
    def paused(self) -> set[str]:
        return self.pauses.paused

    @property
    def _consumptions(self) -> Mapping[str, object]:
        """The consumers running, by destination (what tests look at)."""
        return self.consumers.active

    def _new_breaker(self, name: str, destination: DestinationConfig) -> DestinationBreaker:
        return DestinationBreaker(name, destination.breaker, self.consumers)

    # --- running ---

    async def start(self) -> None:
        metrics.prime_deliverer(self.config)
        for sender in self.senders.values():
            await sender.start()
        self.publisher.start()
        self.consumer.start()
        self._spawn(self.leases.balance_forever())
        self._ops = await start_site(ops_app(self.readiness, self.status), self.config.deliverer.ops)
        log.info("deliverer started", extra={"destinations": list(self.senders), "ops": self.config.deliverer.ops})

    async def stop(self) -> None:
        for breaker in self.breakers.values():
            breaker.cancel_probe()
        self.leases.close()
        await self.consumers.cancel_all()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=SHUTDOWN_GRACE)
        await self.consumer.close()
        await self.publisher.close()
        await self.sessions.close()
        for task in list(self._background):
            task.cancel()
        if self._ops is not None:
            await self._ops.cleanup()

    async def readiness(self) -> list[str]:
        return link_problems(self.publisher.link, self.consumer)

    def status(self) -> dict[str, Any]:
        """Per destination: whether this replica holds its lease (delivers it), breaker state, paused,
        consuming, attempts in flight, last failed attempt (its time in UTC ms). Served on the ops listener's
        /status and answered to an operator's inquiry on the control exchange (`hookpipe status`)."""
        return {"destinations": {
            name: {
                "lease": self.leases.holds(name),
                "breaker": self.breakers[name].state.name.lower(),
                "consecutive_failures": self.breakers[name].consecutive_failures,
                "paused": name in self.paused,
                "consuming": self.consumers.consuming(name),
                "in_flight": self.attempts.running[name],
                "last_error": self.attempts.last_errors.get(name),
            }
            for name in self.senders
        }}

    async def _declare(self, connection: AbstractConnection) -> None:
        destinations = {name: destination.ordering for name, destination in self.config.destinations.items()}
        await self.declarations.declare(connection, destinations, self.rungs)
        self.declarations.rungs = set(self.rungs)
        await declare_delivery_log(connection, self.config)

    async def _start_consuming(self, connection: AbstractConnection) -> None:
        """Set up a new consuming connection: topology, commands and pauses, then queue for each destination's
        lease: its holder consumes the destination's queue (`_start_delivering`, when the lease is gained)."""
        await self.publisher.link.wait_ready()
        await self._declare(connection)
        self.consumers.opening(connection)
        await self.pauses.listen(connection)
        for name in self.senders:
            self.breakers[name].report()
        await self.leases.join_all(self.consumer, connection, list(self.senders))

    async def _stop_delivering(self, name: str) -> None:
        self.breakers[name].cancel_probe()
        await self.consumers.stop(name)

    async def _start_delivering(self, name: str) -> None:
        if name in self.paused:
            log.info("destination paused; not consuming", extra={"destination": name})
            return
        if name in self.breakers:
            await self.breakers[name].consume_or_wait()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- the consume loop ---

    def _handler(self, name: str) -> MessageHandler:
        async def handle(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._in_flight.add(task)
            try:
                # Looked up per delivery: after a reload the next delivery goes by the destination's new settings.
                await self._deliver(self.senders[name], message)
            except Exception as error:
                await self.handover.after_error(name, message, error)
            finally:
                self._in_flight.discard(task)

        return handle

    async def _deliver(self, sender: Sender, message: AbstractIncomingMessage) -> None:
        """Decode, attempt, decide: ack, retry or dead-letter."""
        try:
            event = decode_event(message)
        except MalformedEvent as error:
            await self.handover.dead_letter(sender.name, message, DeadLetterReason.MALFORMED, 0, error=str(error))
            return
        if sender.config.ordering == "fifo":
            await self.in_order.deliver(sender, message, event)
            return
        breaker = self.breakers[sender.name]
        if breaker.state is BreakerState.OPEN:
            # Prefetched before the breaker opened: park it without an attempt (a nack would count towards
            # the queue's delivery limit); it comes back to the queue and waits there.
            await self.handover.retry(sender.name, message, event, rung_for(BREAKER_PARK_SECONDS), Parked.BREAKER_OPEN)
            return
        if expired(sender.config, event):
            await self.handover.dead_letter(sender.name, message, DeadLetterReason.EXPIRED, event.attempt)
            return
        attempt = event.attempt + 1
        result = await self.attempts.attempt(sender, event, attempt)
        # The breaker in force now: a reload during the attempt may have replaced the one it started under (a
        # replaced breaker must not stop its successor's consumer) or removed the destination (None).
        current = self.breakers.get(sender.name)
        if result.delivered:
            if current is not None:
                await current.succeeded()
            await self.handover.delivered(message)
            return
        if current is not None:
            await current.failed(result)
        await self._after_failure(sender, message, event, attempt, result)

    async def _after_failure(self, sender: Sender, message: AbstractIncomingMessage, event: Event, attempt: int,
                             result: AttemptResult) -> None:
        decision = self._next_step(sender, event, attempt, result)
        if decision.retry_ms is None:
            assert decision.reason is not None
            await self.handover.dead_letter(sender.name, message, decision.reason, attempt, result)
            return
        await self.handover.retry(sender.name, message, event.with_attempt(attempt), decision.retry_ms, result)

    def _next_step(self, sender: Sender, event: Event, attempt: int, result: AttemptResult) -> Decision:
        """After failed attempt `attempt`: which retry rung, or dead-letter why (deliverer.retry.decide)."""
        return decide(
            attempt=attempt, status=result.status, failure=result.reason, retry_after=result.retry_after,
            age=(now_ms() - event.age_from) / 1000, destination=sender.config, rungs=self.rungs,
        )

    async def _give_back(self, name: str, delay: float) -> None:
        """An in-order head waits longer than in place: back to its queue, consumed again after `delay` s."""
        await self.consumers.give_back(name)
        self._spawn(self.consumers.consume_after(name, delay))

    # --- reload ---

    async def reload(self, loaded: LoadedConfig) -> None:
        """Deliver by a new config from the next delivery on; raises ConfigError to refuse it (deliverer.reload
        says what changes and what is refused). Attempts already running finish with the settings they started
        with."""
        async with self._reload_lock:
            old, new = self.config, loaded.config
            change = config_change(old, new, self.declarations.rungs)
            await self.declarations.declare_for_reload(
                {name: new.destinations[name].ordering for name in change.added}, change.new_rungs)
            for name in change.removed:
                await self._forget(name)
            self.config = new
            self.rungs = change.rungs
            for name in change.added + change.changed:
                await self._take(name, old.destinations.get(name), new.destinations[name])
        metrics.prime_deliverer(new)
        log.info("destinations reloaded",
                 extra={"added": change.added, "removed": change.removed, "changed": change.changed})

    async def _forget(self, name: str) -> None:
        """Stop consuming a destination the config no longer has (attempts running on it finish)."""
        self.breakers[name].cancel_probe()
        await self.consumers.stop(name)
        await self.leases.leave(name)
        del self.senders[name]
        self.pauses.forget(name)

    async def _take(self, name: str, before: DestinationConfig | None, after: DestinationConfig) -> None:
        """Take a destination's new (or first) settings: sender, breaker, pause and consumer."""
        sender = Sender(name, after, self.sessions)
        await sender.start()
        self.senders[name] = sender
        change = destination_change(before, after)
        if change.new_breaker:
            if name in self.breakers:
                self.breakers[name].cancel_probe()
            self.breakers[name] = self._new_breaker(name, after)
            self.breakers[name].report()
        await self.leases.join(name)
        if await self.pauses.reconcile(name):
            return
        if change.restart_consumer:
            await self.consumers.stop(name)  # attempts running on the old consumer finish and are acked there
        await self.breakers[name].consume_or_wait()
