"""router: consume `hookpipe.router`, match routes, publish deliveries, ack only once all are confirmed.

The router's guarantee (docs/architecture.md, "Guarantees and how each hop keeps them"): an event is acked only after
every delivery message it produced is confirmed. When some publishes of a fan-out fail, only those are retried after a
backoff; if they still fail, the event is dead-lettered with reason `publish_failed`. If even that cannot be confirmed
the event is requeued, and RabbitMQ's delivery limit turns a message that fails forever into a dead letter (`poison`).
An event that cannot be routed at all is dead-lettered at once: `malformed`, `bad_json` (a filter looks into a body that
is not JSON), `transform_failed`, `match_budget_exceeded` (parsing, matching and transforming it took more CPU time
than `router.match_budget`).

The event loop never waits on one event's CPU work for long: a body over OFFLOAD_BODY_SIZE is parsed, matched and
transformed in a worker thread, so heartbeats, confirms and /healthz keep being answered meanwhile, and the match
budget stops the work itself (router/budget.py), in the thread too. Deliveries still leave in the order the events
were consumed, per destination (router/order.py).

Replicas: routers are competing consumers of the router queue, except when a destination is `fifo`: then they queue
for the router lease (hookpipe.amqp.lease) and only its holder consumes, so a fifo destination gets its deliveries in
the router queue's order whatever the number of routers; the others take over when it goes.

Reload (hookpipe/runtime/reload.py calls `reload`): the new routes are compiled and every destination new to the config
gets its queue and binding declared before the routing state is swapped, in one assignment. An event reads the
state once, when it starts, so events in flight finish with the rules they started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aiohttp import web

from hookpipe.amqp.broker import (
    Consumption,
    Link,
    Publisher,
    PublishFailed,
    ack,
    consume,
    declare_for_reload,
    hand_over,
    link_problems,
    requeue,
)
from hookpipe.amqp.codec import MalformedEvent, decode_event, encode_event
from hookpipe.amqp.deadletter import dead_letter
from hookpipe.amqp.lease import Lease
from hookpipe.amqp.recorder import declare_delivery_log, recorder_for
from hookpipe.amqp.topology import Names, declare_destination, declare_ingest_path, declare_unrouted
from hookpipe.amqp.wire import Outgoing
from hookpipe.config import Config, ConfigError, LoadedConfig
from hookpipe.delivery_log import Decision, Routed
from hookpipe.event import Event, now_ms
from hookpipe.outcomes import RouterDeadLetterReason, RouterOutcome
from hookpipe.runtime import metrics
from hookpipe.runtime.ops_listener import ops_app, start_site
from hookpipe.runtime.reload import BROKER_SETTINGS, changed_settings
from router.budget import MatchBudget, MatchBudgetExceeded
from router.order import DeliveryOrder
from router.rules import Delivery, RouteTable, UnparsableBody, compile_routes
from router.transform import TransformError

log = logging.getLogger("router")

#: Unacked events the router holds at once; enough to keep confirms pipelined, small enough to bound memory.
PREFETCH = 200

#: Deadline for one publish, from call to confirm (s).
PUBLISH_TIMEOUT = 10.0

#: Waits before re-publishing the failed part of a fan-out (s); after the last, the event is dead-lettered.
PUBLISH_RETRY_DELAYS = (0.5, 2.0, 5.0)

#: Seconds in-flight events get to finish on SIGTERM before the connection closes (and they are requeued).
SHUTDOWN_GRACE = 20.0

#: Settings the router cannot change while it runs (a reload changing one is refused).
FIXED_SETTINGS = (*BROKER_SETTINGS, "router.ops", "delivery_log")


#: Bodies larger than this (bytes) are parsed, matched and transformed in a worker thread, smaller ones on the event
#: loop. The hop to a thread and back costs about 30 µs of CPU, as much as parsing and matching a whole 10 KiB
#: webhook against 1,000 routes, and webhook bodies are nearly all under 16 KiB: inline, they cost less. But the
#: worst body for matching (arrays whose elements each hold part of a pattern) costs about 0.25 ms per KiB for each
#: route that reads it, so a 32 KiB one holds the loop some 8 ms per such route; larger ones go where they cannot.
OFFLOAD_BODY_SIZE = 32 * 1024

#: Threads matching large bodies. A thread rather than a process: the compiled routes (closures, indexes) would have
#: to be pickled to every worker on each reload, and each event's body too. Threads share the GIL, but Python hands
#: it over every 5 ms (sys.getswitchinterval), so the event loop keeps answering while one matches; a second thread
#: would only share the same core's worth of Python, each at half speed. Events wait their turn here; the match
#: budget counts a thread's own CPU time, not that wait.
MATCH_THREADS = 1


@dataclass(frozen=True, slots=True)
class RoutingState:
    """The config in force and its compiled routes, replaced as one on reload."""

    config: Config
    routes: RouteTable


class RouterService:
    name = "router"

    def __init__(self, loaded: LoadedConfig) -> None:
        self._state = RoutingState(loaded.config, compile_routes(loaded.config))
        self.names = Names.of(self.config.broker)
        self._reload_lock = asyncio.Lock()
        broker = self.config.broker
        self.publisher = Publisher(
            broker.url, name="hookpipe-router-publish", heartbeat=broker.heartbeat, timeout=PUBLISH_TIMEOUT,
            declare=self._declare_outputs,
        )
        self.consumer = Link(broker.url, name="hookpipe-router-consume", heartbeat=broker.heartbeat,
                             on_open=self._start_consuming)
        self.recorder = recorder_for(self.config, self.publisher)
        self._consumption: Consumption | None = None
        self._lease: Lease | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._order = DeliveryOrder()
        self._matching = ThreadPoolExecutor(MATCH_THREADS, thread_name_prefix="hookpipe-router-match")
        self._ops: web.AppRunner | None = None

    @property
    def config(self) -> Config:
        """The config in force (it changes on reload)."""
        return self._state.config

    @property
    def routes(self) -> RouteTable:
        return self._state.routes

    async def _declare_outputs(self, connection: AbstractConnection) -> None:
        # Every destination's queue exists before the first event is routed to it.
        config = self.config
        async with connection.channel() as channel:
            await declare_ingest_path(channel, self.names)
            if config.router.unrouted:
                await declare_unrouted(channel, self.names)
            for name, destination in config.destinations.items():
                await declare_destination(channel, self.names, name, ordering=destination.ordering)
        await declare_delivery_log(connection, config)

    async def _start_consuming(self, connection: AbstractConnection) -> None:
        # Publish first: consuming while the publisher is down would only fill the retry path.
        await self.publisher.link.wait_ready()
        channel = await connection.channel()
        await declare_ingest_path(channel, self.names)
        await channel.close()
        self._lease = None
        if keeps_order(self.config):
            # Competing routers would publish one destination's deliveries out of order: the holder of the
            # router lease routes, the other replicas wait in line (hookpipe.amqp.lease).
            self._lease = Lease(self.names, self.names.router_lease, gained=lambda: self._consume(connection))
            await self._lease.join(self.consumer, connection)
            return
        await self._consume(connection)

    async def _consume(self, connection: AbstractConnection) -> None:
        if not connection.is_closed:
            self._consumption = await consume(
                self.consumer, connection, self.names.router_queue, self._on_message, prefetch=PREFETCH
            )

    async def start(self) -> None:
        metrics.prime_router(self.config)
        self.publisher.start()
        self.consumer.start()
        self._ops = await start_site(ops_app(self.readiness), self.config.router.ops)
        log.info("router started", extra={"routes": len(self.routes.routes), "ops": self.config.router.ops})

    async def stop(self) -> None:
        if self._lease is not None:
            self._lease.close()
        if self._consumption is not None:
            await self._consumption.cancel()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=SHUTDOWN_GRACE)
        await self.consumer.close()
        await self.publisher.close()
        self._matching.shutdown(wait=False, cancel_futures=True)  # a match under way ends within its budget
        if self._ops is not None:
            await self._ops.cleanup()

    async def readiness(self) -> list[str]:
        return link_problems(self.publisher.link, self.consumer)

    # --- reload ---

    async def reload(self, loaded: LoadedConfig) -> None:
        """Route by a new config from now on; raises ConfigError to refuse it (the running config stays).

        Refused: a change to the broker settings or the ops address, and routes that do not compile. Otherwise
        every destination new to the config gets its queue and binding first (waiting for the broker if it is
        down), then the routing state is swapped in one step.
        """
        async with self._reload_lock:
            old, new = self._state, loaded.config
            problems = changed_settings(old.config, new, FIXED_SETTINGS)
            try:
                routes = compile_routes(new)
            except ConfigError as error:
                problems += error.problems
            if problems:
                raise ConfigError(problems)
            added = [name for name in new.destinations if name not in old.config.destinations]
            unrouted = new.router.unrouted and not old.config.router.unrouted
            if added or unrouted:
                await self._declare_for_reload({name: new.destinations[name].ordering for name in added},
                                               unrouted=unrouted)
            self._state = RoutingState(new, routes)
            if keeps_order(new) != keeps_order(old.config):
                # Routing with or without the router lease is decided when consuming starts: start again.
                self.consumer.reconnect("an in-order (fifo) destination was added or removed")
        metrics.prime_router(new)
        removed = [name for name in old.config.destinations if name not in new.destinations]
        log.info("routes reloaded", extra={
            "routes": len(routes.routes), "destinations_added": added, "destinations_removed": removed,
        })

    async def _declare_for_reload(self, destinations: dict[str, str], *, unrouted: bool) -> None:
        """Declare what a new config adds (`destinations`: name -> ordering), on the publishing connection."""
        async def declare(channel: AbstractChannel) -> None:
            if unrouted:
                await declare_unrouted(channel, self.names)
            for name, ordering in destinations.items():
                await declare_destination(channel, self.names, name, ordering=ordering)

        queues = [f"destinations.{name}" for name in destinations] + (["router.unrouted"] if unrouted else [])
        await declare_for_reload(self.publisher.link, declare, what=f"the queues of {', '.join(queues)}")

    # --- one event ---

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._process(message)
        except Exception as error:
            await _requeue_after(message, error)
        finally:
            self._in_flight.discard(task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        state = self._state  # read once: a reload meanwhile does not change how this event is routed
        try:
            event = decode_event(message)
        except MalformedEvent as error:
            await self._dead_letter(message, RouterDeadLetterReason.MALFORMED, str(error))
            return
        ticket = self._order.take(state.routes.reachable(event))  # before any await: in consumption order
        try:
            matched, deliveries = await self._match(state, event, ticket)
        except UnparsableBody as error:
            await self._dead_letter(message, RouterDeadLetterReason.BAD_JSON, str(error), event)
            return
        except TransformError as error:
            await self._dead_letter(message, RouterDeadLetterReason.TRANSFORM_FAILED, str(error), event)
            return
        except MatchBudgetExceeded as error:
            await self._dead_letter(message, RouterDeadLetterReason.MATCH_BUDGET_EXCEEDED,
                                    f"{error} (body {len(event.body)} bytes)", event)
            return
        if not event.replay:
            for route in matched:
                metrics.labelled(metrics.ROUTE_MATCHES, route).inc()
        if not deliveries:
            await self.recorder.record(_routed(event, Decision.UNMATCHED, matched))
            # A replay that matches nothing now is not kept as unrouted: it was archived when it came in.
            await self._unmatched(message, event, keep=state.config.router.unrouted and not event.replay)
            return
        failed = await self._publish_all(event, deliveries)
        for delay in PUBLISH_RETRY_DELAYS:
            if not failed:
                break
            log.warning("some deliveries were not confirmed; retrying",
                        extra={"event_id": event.id, "destinations": [d.destination for d in failed]})
            await asyncio.sleep(delay)
            failed = await self._publish_all(event, failed)
        if failed:
            _count(event, RouterOutcome.FAILED)
            await self._dead_letter(
                message, RouterDeadLetterReason.PUBLISH_FAILED, ", ".join(d.destination for d in failed), event)
            return
        await self.recorder.record(
            _routed(event, Decision.ROUTED, matched, destinations=[d.destination for d in deliveries]))
        _count(event, RouterOutcome.ROUTED)
        await ack(message)

    async def _match(self, state: RoutingState, event: Event, ticket: int) -> tuple[list[str], list[Delivery]]:
        """The matching routes and the deliveries (RouteTable.match, within the match budget), returned once they
        may be published: no event consumed before this one can still publish to their destinations."""
        seconds = state.config.router.match_budget
        try:
            if len(event.body) <= OFFLOAD_BODY_SIZE:
                matched, deliveries = state.routes.match(event, MatchBudget(seconds))
            else:
                matched, deliveries = await asyncio.get_running_loop().run_in_executor(
                    self._matching, _match_large, state.routes, event, seconds)
            if deliveries:
                await self._order.turn(ticket, [delivery.destination for delivery in deliveries])
            return matched, deliveries
        finally:
            self._order.done(ticket)

    async def _publish_all(self, event: Event, deliveries: list[Delivery]) -> list[Delivery]:
        """Publish every delivery concurrently (confirms pipeline); returns those that failed."""
        publishes = [
            self.publisher.publish(
                _delivery_message(event, delivery), exchange=self.names.deliver, routing_key=delivery.destination,
            )
            for delivery in deliveries
        ]
        if len(publishes) == 1:  # one destination, the usual case: awaited here, without a task of its own
            results: list[BaseException | None] = [await _outcome(publishes[0])]
        else:
            results = await asyncio.gather(*publishes, return_exceptions=True)
        failed = []
        for delivery, result in zip(deliveries, results, strict=True):
            if isinstance(result, PublishFailed):
                failed.append(delivery)
            elif isinstance(result, BaseException):
                raise result
            else:
                metrics.labelled(metrics.ROUTER_DELIVERIES, delivery.destination).inc()
        return failed

    async def _unmatched(self, message: AbstractIncomingMessage, event: Event, *, keep: bool) -> None:
        _count(event, RouterOutcome.UNMATCHED)
        if keep:
            await hand_over(self.publisher, message, encode_event(event), exchange="",
                            routing_key=self.names.unrouted, requeue_delay=PUBLISH_RETRY_DELAYS[0])
            return
        await ack(message)

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: RouterDeadLetterReason, error: str,
                           event: Event | None = None) -> None:
        # Recorded when it is an event the log can name; the dead letter itself is what must be confirmed.
        with contextlib.suppress(PublishFailed):
            if event is not None:
                await self.recorder.record(_routed(event, Decision.DEAD, [], reason=reason))
        dead = dead_letter(message, reason, error=error)
        metrics.ROUTER_DEAD_LETTERS.labels(reason=reason).inc()
        log.error("event dead-lettered", extra={"event_id": message.message_id, "reason": reason, "error": error})
        await hand_over(self.publisher, message, dead, exchange="", routing_key=self.names.router_dead,
                        requeue_delay=PUBLISH_RETRY_DELAYS[0])


async def _requeue_after(message: AbstractIncomingMessage, error: Exception) -> None:
    """Never let one event kill the consumer: requeue it (the delivery limit ends a poison loop)."""
    if isinstance(error, PublishFailed):  # its record in the delivery log was not confirmed: a broker problem
        log.warning("an event's record was not confirmed; requeued",
                    extra={"event_id": message.message_id, "error": str(error)})
        await asyncio.sleep(PUBLISH_RETRY_DELAYS[0])
    else:
        log.error("unexpected error routing an event; requeued", exc_info=error,
                  extra={"event_id": message.message_id})
    await requeue(message)


def keeps_order(config: Config) -> bool:
    """Whether routers take the router lease: one routes at a time when a destination delivers in order."""
    return any(destination.ordering == "fifo" for destination in config.destinations.values())


def _match_large(routes: RouteTable, event: Event, seconds: float) -> tuple[list[str], list[Delivery]]:
    """RouteTable.match in a worker thread, its budget counting from here (its parse included)."""
    budget = MatchBudget(seconds)
    budget.start()
    return routes.match(event, budget)


def _routed(event: Event, decision: Decision, routes: list[str], *, destinations: list[str] | None = None,
            reason: str | None = None) -> Routed:
    """The delivery log's record of what was decided for `event`."""
    return Routed(event_id=event.id, source=event.source, type=event.type, received_at=event.received_at,
                  at=now_ms(), decision=decision, routes=tuple(routes), destinations=tuple(destinations or ()),
                  reason=reason, replay=event.replay, resend=event.resend)


def _count(event: Event, outcome: RouterOutcome) -> None:
    """Replayed events are counted apart, so live traffic's figures stay what they were."""
    counter = metrics.ROUTER_REPLAYED_EVENTS if event.replay else metrics.ROUTER_EVENTS
    metrics.labelled(counter, outcome).inc()


async def _outcome(publish: Awaitable[None]) -> Exception | None:
    """The error a publish raised, or None: gather(return_exceptions=True) for one."""
    try:
        await publish
    except Exception as error:
        return error
    return None


def _delivery_message(event: Event, delivery: Delivery) -> Outgoing:
    """The AMQP message for one delivery: the event with the delivery's body (and content type, if transformed)."""
    if delivery.content_type is not None:
        event = replace(event, content_type=delivery.content_type)
    return encode_event(event, body=delivery.body)
