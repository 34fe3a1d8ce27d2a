"""deliverer: consume every `hookpipe.deliver.{destination}` queue and deliver each event over HTTP.

The deliverer's guarantee (docs/architecture.md, "Guarantees and how each hop keeps them"): a delivery is acked only
after success, or after its retry or dead-letter message is confirmed. A failed attempt goes to a retry rung (a queue
whose TTL sends it back to the destination's queue) as deliverer.retry decides, or to `hookpipe.dead.{destination}` with
its reason.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from typing import Any

import orjson
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage, AbstractQueue

from deliverer.circuit import Breaker, BreakerState
from deliverer.retry import Decision, decide
from deliverer.sender import AttemptResult, Sender
from deliverer.sessions import SessionPool
from hookpipe import metrics
from hookpipe.broker import (
    Consumption,
    Link,
    Publisher,
    PublishFailed,
    ack,
    consume,
    describe,
    hand_over,
    link_problems,
    queue_exists,
    requeue,
)
from hookpipe.config import ConfigError, DestinationConfig, LoadedConfig
from hookpipe.deadletter import dead_letter
from hookpipe.event import Event, MalformedEvent, now_ms
from hookpipe.ops import ops_app, start_site
from hookpipe.reload import BROKER_SETTINGS, changed_settings
from hookpipe.topology import (
    BREAKER_PARK_SECONDS,
    Names,
    configured_rungs,
    declare_control,
    declare_destination,
    declare_retry_rung,
    rung_for,
)

log = logging.getLogger("deliverer")

#: Deadline for publishing a dead letter, from call to confirm (s).
PUBLISH_TIMEOUT = 10.0

#: Wait before requeueing a delivery whose dead letter could not be published (s), so a broker problem is
#: not turned into a hot loop.
REQUEUE_DELAY = 1.0

#: Longest retry delay (s) an in-order delivery waits in place, holding the line's head; a longer one gives the
#: message back to the queue and consumes again after the delay. Well under the 5-minute unacked bound.
FIFO_WAIT_IN_PLACE = 60.0

#: Seconds in-flight deliveries get to finish on SIGTERM before the connection closes (and they are requeued).
SHUTDOWN_GRACE = 20.0

#: Settings the deliverer holds for its whole run (a reload changing one is refused: restart to apply it).
FIXED_SETTINGS = (*BROKER_SETTINGS, "deliverer.ops")

#: Seconds a reload waits for the broker before refusing the new config (it needs to declare what is new).
RELOAD_CONNECT_TIMEOUT = 10.0


#: Seconds of deliveries at the destination's rate that may wait unacked in the deliverer: bounded memory, and
#: far below RabbitMQ's consumer_timeout (30 min) and our own 5-minute bound on an unacked delivery.
PREFETCH_SECONDS = 60


def prefetch(destination: DestinationConfig) -> int:
    """Unacked deliveries per destination: its concurrency, but no more than a minute at its rate limit; one
    for an in-order (fifo) destination."""
    if destination.ordering == "fifo":
        return 1
    if destination.rate_limit is None:
        return destination.concurrency
    return max(1, min(destination.concurrency, math.floor(destination.rate_limit * PREFETCH_SECONDS)))


class DelivererService:
    name = "deliverer"

    def __init__(self, loaded: LoadedConfig) -> None:
        self.config = loaded.config
        self.names = Names(self.config.broker.prefix)
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
        self._declared_rungs: set[int] = set()
        self.breakers = {name: _new_breaker(d) for name, d in self.config.destinations.items()}
        self._consumptions: dict[str, Consumption] = {}
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._fifo_attempts: dict[str, tuple[str, int]] = {}  # destination -> (head event id, attempts made)
        self.paused = self._paused_in_config()
        self._reload_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._ops: object = None
        # For the ops listener's /status (hookpipe status): attempts running, and the last failure, per destination.
        self._attempts_running: collections.Counter[str] = collections.Counter()
        self._last_errors: dict[str, dict[str, Any]] = {}

    def _paused_in_config(self) -> set[str]:
        return {name for name, destination in self.config.destinations.items() if destination.paused}

    async def _declare(self, connection: AbstractConnection) -> None:
        destinations = {name: destination.ordering for name, destination in self.config.destinations.items()}
        await self._declare_on(connection, destinations, self.rungs)
        self._declared_rungs = set(self.rungs)

    async def _declare_on(self, connection: AbstractConnection, destinations: Mapping[str, str],
                          rungs: list[int]) -> None:
        """Declare `destinations` (name -> ordering) and retry `rungs` on one channel of `connection`."""
        async with connection.channel() as channel:
            for name, ordering in destinations.items():
                await declare_destination(channel, self.names, name, ordering=ordering)
            for ms in rungs:
                await declare_retry_rung(channel, self.names, ms)

    async def _start_consuming(self, connection: AbstractConnection) -> None:
        await self.publisher.link.wait_ready()
        await self._declare(connection)
        self._consumptions = {}
        commands = await self._bind_commands(connection)
        # Commands sent from now on wait in that queue; pauses made before are read from their flags. Both are
        # absolute (pause, resume), so reading the flags first and then the queued commands in order ends in the
        # state of the last command, whichever came first.
        self.paused = self._paused_in_config() | await self._flagged_paused(connection)
        await commands.consume(self._on_command, no_ack=True)
        for name in self.senders:
            metrics.DESTINATION_PAUSED.labels(destination=name).set(int(name in self.paused))
            metrics.BREAKER_STATE.labels(destination=name).set(self.breakers[name].state.value)
            if name in self.paused:
                log.info("destination paused; not consuming", extra={"destination": name})
                continue
            if self.breakers[name].state is BreakerState.CLOSED:
                await self._consume(name, connection, prefetch(self.senders[name].config))
            else:  # open, or a probe lost with the old connection: wait for the next probe
                self.breakers[name].state = BreakerState.OPEN
                self._schedule_probe(name)

    # --- reload ---

    async def reload(self, loaded: LoadedConfig) -> None:
        """Deliver by a new config from the next delivery on; raises ConfigError to refuse it.

        A destination new to the config gets its queues and retry rungs declared, then is consumed (unless
        paused); a removed one stops being consumed (its queue and the events in it stay); a changed one gets a
        new sender (URL, signing, headers, timeouts, rate limit), its breaker anew if the breaker settings
        changed, and a new consumer if its prefetch changed. Attempts already running finish with the settings
        they started with. Refused: broker settings, the ops address, and a destination's `ordering` (its queue
        was declared for it: docs/operations.md says how to switch).
        """
        async with self._reload_lock:
            old, new = self.config, loaded.config
            problems = changed_settings(old, new, FIXED_SETTINGS)
            problems += [f"destinations.{name}.ordering: cannot change on reload; drain and remove the "
                         "destination, delete its queues, then add it back (docs/operations.md)"
                         for name, destination in new.destinations.items()
                         if name in old.destinations and old.destinations[name].ordering != destination.ordering]
            if problems:
                raise ConfigError(problems)
            added = [name for name in new.destinations if name not in old.destinations]
            removed = [name for name in old.destinations if name not in new.destinations]
            changed = [name for name in new.destinations
                       if name in old.destinations and old.destinations[name] != new.destinations[name]]
            rungs = configured_rungs(new)
            await self._declare_for_reload({name: new.destinations[name].ordering for name in added},
                                           [ms for ms in rungs if ms not in self._declared_rungs])
            for name in removed:
                await self._forget(name)
            self.config = new
            self.rungs = rungs
            for name in added + changed:
                await self._apply_destination(name, old.destinations.get(name), new.destinations[name])
        metrics.prime_deliverer(new)
        log.info("destinations reloaded", extra={"added": added, "removed": removed, "changed": changed})

    async def _declare_for_reload(self, destinations: dict[str, str], rungs: list[int]) -> None:
        """Declare what the new config adds, on the publishing connection; a broker that is away or refuses
        refuses the reload (the running config stays, and the next change or SIGHUP tries again)."""
        if not destinations and not rungs:
            return
        if not await self.publisher.link.wait_ready(RELOAD_CONNECT_TIMEOUT):
            raise ConfigError(["broker: not connected, so what the new config adds cannot be declared; "
                               "send SIGHUP to retry"])
        connection = self.publisher.link.connection
        try:
            assert connection is not None
            await self._declare_on(connection, destinations, rungs)
        except Exception as error:
            raise ConfigError([f"broker: cannot declare what the new config adds: {describe(error)}"]) from None
        self._declared_rungs.update(rungs)

    async def _forget(self, name: str) -> None:
        """Stop consuming a destination the config no longer has (attempts running on it finish)."""
        self._cancel_probe(name)
        await self._stop_consuming(name)
        del self.senders[name]
        self.paused.discard(name)

    async def _apply_destination(self, name: str, before: DestinationConfig | None,
                                 after: DestinationConfig) -> None:
        """Take a destination's new (or first) settings: sender, breaker, pause and consumer."""
        sender = Sender(name, after, self.sessions)
        await sender.start()
        self.senders[name] = sender
        restart_consumer = before is not None and prefetch(before) != prefetch(after)
        if before is None or before.breaker != after.breaker:
            self._cancel_probe(name)
            self.breakers[name] = _new_breaker(after)
            metrics.BREAKER_STATE.labels(destination=name).set(BreakerState.CLOSED.value)
            restart_consumer = before is not None  # a probe's prefetch-1 consumer must not outlive its breaker
        connection = self.consumer.connection
        paused_before = name in self.paused
        flagged = connection is not None and await self._flagged(connection, name)
        if after.paused or flagged:
            if not paused_before:
                await self.pause(name)
            return
        if paused_before:
            await self.resume(name)
            return
        metrics.DESTINATION_PAUSED.labels(destination=name).set(0)
        if restart_consumer:
            await self._stop_consuming(name)  # attempts running on the old consumer finish and are acked there
        if self.breakers[name].state is BreakerState.CLOSED:
            await self._consume(name, connection, prefetch(after))
        else:
            self._schedule_probe(name)

    # --- operator commands: hookpipe destination pause|resume ---

    async def _bind_commands(self, connection: AbstractConnection) -> AbstractQueue:
        """An exclusive queue on the control exchange: every running deliverer hears every command."""
        channel = await connection.channel()
        exchange = await declare_control(channel, self.names)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        return queue

    async def _flagged_paused(self, connection: AbstractConnection) -> set[str]:
        """Destinations an operator paused (`hookpipe destination pause`) and has not resumed."""
        return {name for name in self.senders if await self._flagged(connection, name)}

    async def _flagged(self, connection: AbstractConnection, name: str) -> bool:
        return await queue_exists(connection, self.names.pause_flag(name))

    async def _on_command(self, message: AbstractIncomingMessage) -> None:
        try:
            command = orjson.loads(message.body)
            action, name = command["action"], command["destination"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignored a malformed control message")
            return
        if name not in self.senders or action not in ("pause", "resume"):
            log.warning("ignored a control message", extra={"action": str(action), "destination": str(name)})
            return
        if action == "pause":
            await self.pause(name)
        else:
            await self.resume(name)

    async def pause(self, name: str) -> None:
        """Stop delivering to `name`: its events wait in its queue until resume. The pause outlives a restart
        through its flag queue, which `hookpipe destination pause` declares."""
        self.paused.add(name)
        metrics.DESTINATION_PAUSED.labels(destination=name).set(1)
        self._cancel_probe(name)
        await self._stop_consuming(name)
        log.warning("destination paused by an operator", extra={"destination": name})

    async def resume(self, name: str) -> None:
        if name not in self.paused:
            return
        self.paused.discard(name)
        metrics.DESTINATION_PAUSED.labels(destination=name).set(0)
        log.warning("destination resumed by an operator", extra={"destination": name})
        if self.breakers[name].state is BreakerState.CLOSED:
            await self._consume(name, self.consumer.connection, prefetch(self.senders[name].config))
        else:  # the breaker was open (or probing) when paused: probe again before delivering
            self.breakers[name].state = BreakerState.OPEN
            self._schedule_probe(name)

    async def _consume(self, name: str, connection: AbstractConnection | None, count: int) -> None:
        if connection is None or name in self.paused or name in self._consumptions or name not in self.senders:
            return  # not connected (the next connection's set-up consumes), paused, consuming, or removed
        self._consumptions[name] = await consume(
            self.consumer, connection, self.names.deliver_queue(name), self._handler(name),
            prefetch=count,
        )

    async def _stop_consuming(self, name: str) -> None:
        """Cancel the destination's consumer; its channel closes once attempts still running on it are done."""
        consumption = self._consumptions.pop(name, None)
        if consumption is None:
            return
        await consumption.cancel()
        grace = self.senders[name].config.timeout + 5
        self._spawn(self._close_later(consumption, grace))

    @staticmethod
    async def _close_later(consumption: Consumption, delay: float) -> None:
        await asyncio.sleep(delay)
        await consumption.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- the circuit breaker ---

    async def _breaker_opened(self, name: str, result: AttemptResult) -> None:
        breaker = self.breakers[name]
        metrics.BREAKER_STATE.labels(destination=name).set(breaker.state.value)
        log.warning("circuit breaker open: deliveries wait in the queue", extra={
            "destination": name, "failures": breaker.consecutive_failures, "cooldown_s": breaker.cooldown,
            "reason": result.reason, "status": result.status,
        })
        await self._stop_consuming(name)
        self._schedule_probe(name)

    async def _breaker_closed(self, name: str) -> None:
        metrics.BREAKER_STATE.labels(destination=name).set(BreakerState.CLOSED.value)
        log.info("circuit breaker closed: deliveries resume", extra={"destination": name})
        await self._stop_consuming(name)  # the probe's prefetch-1 consumer
        await self._consume(name, self.consumer.connection, prefetch(self.senders[name].config))

    def _cancel_probe(self, name: str) -> None:
        probe = self._probes.pop(name, None)
        if probe is not None:
            probe.cancel()

    def _schedule_probe(self, name: str) -> None:
        previous = self._probes.get(name)
        if previous is not None and not previous.done():
            return
        self._probes[name] = asyncio.create_task(self._probe_later(name))

    async def _probe_later(self, name: str) -> None:
        breaker = self.breakers[name]
        await asyncio.sleep(breaker.probe_in())
        if breaker.state is not BreakerState.OPEN or name in self.paused:
            return  # closed meanwhile, or paused (resume schedules a probe again)
        breaker.start_probe()
        metrics.BREAKER_STATE.labels(destination=name).set(breaker.state.value)
        log.info("circuit breaker half-open: one probe delivery", extra={"destination": name})
        await self._consume(name, self.consumer.connection, 1)

    def _handler(self, name: str):  # type: ignore[no-untyped-def]
        async def handle(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._in_flight.add(task)
            try:
                # Looked up per delivery: after a reload the next delivery goes by the destination's new settings.
                await self._deliver(self.senders[name], message)
            except Exception:
                log.exception("unexpected error delivering; requeued",
                              extra={"event_id": message.message_id, "destination": name})
                await asyncio.sleep(REQUEUE_DELAY)
                await requeue(message)
            finally:
                self._in_flight.discard(task)

        return handle

    async def start(self) -> None:
        metrics.prime_deliverer(self.config)
        for sender in self.senders.values():
            await sender.start()
        self.publisher.start()
        self.consumer.start()
        self._ops = await start_site(ops_app(self.readiness, self.status), self.config.deliverer.ops)
        log.info("deliverer started", extra={"destinations": list(self.senders), "ops": self.config.deliverer.ops})

    async def stop(self) -> None:
        for probe in self._probes.values():
            probe.cancel()
        for consumption in self._consumptions.values():
            await consumption.cancel()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=SHUTDOWN_GRACE)
        await self.consumer.close()
        await self.publisher.close()
        await self.sessions.close()
        for task in list(self._background):
            task.cancel()
        if self._ops is not None:
            await self._ops.cleanup()  # type: ignore[attr-defined]

    async def readiness(self) -> list[str]:
        return link_problems(self.publisher.link, self.consumer)

    def status(self) -> dict[str, Any]:
        """Per destination: breaker state, paused, consuming, attempts in flight, last failed attempt (its time
        in UTC ms). Served on the ops listener's /status for `hookpipe status`."""
        return {"destinations": {
            name: {
                "breaker": self.breakers[name].state.name.lower(),
                "consecutive_failures": self.breakers[name].consecutive_failures,
                "paused": name in self.paused,
                "consuming": name in self._consumptions,
                "in_flight": self._attempts_running[name],
                "last_error": self._last_errors.get(name),
            }
            for name in self.senders
        }}

    async def _deliver(self, sender: Sender, message: AbstractIncomingMessage) -> None:
        try:
            event = Event.from_message(message)
        except MalformedEvent as error:
            await self._dead_letter(sender, message, AttemptResult(False, "malformed", error=str(error)), 0)
            return
        if sender.config.ordering == "fifo":
            await self._deliver_in_order(sender, message, event)
            return
        attempt = event.attempt + 1
        breaker = self.breakers[sender.name]
        if breaker.state is BreakerState.OPEN:
            # Prefetched before the breaker opened: park it without an attempt (a nack would count towards
            # the queue's delivery limit); it comes back to the queue and waits there.
            parked = AttemptResult(False, "breaker_open")
            await self._retry(sender, message, event, rung_for(BREAKER_PARK_SECONDS), parked)
            return
        if _expired(sender, event):
            await self._dead_letter(sender, message, AttemptResult(False, "expired"), event.attempt)
            return
        result = await self._attempt(sender, event, attempt)
        if result.delivered:
            probing = breaker.state is not BreakerState.CLOSED
            breaker.record_success()
            if probing:
                await self._breaker_closed(sender.name)
            await ack(message)
            return
        if breaker.record_failure():
            await self._breaker_opened(sender.name, result)
        decision = self._next_step(sender, event, attempt, result)
        if decision.retry_ms is None:
            await self._dead_letter(sender, message, replace(result, reason=decision.reason), attempt, result.reason)
            return
        await self._retry(sender, message, event.with_attempt(attempt), decision.retry_ms, result)

    def _next_step(self, sender: Sender, event: Event, attempt: int, result: AttemptResult) -> Decision:
        """After failed attempt `attempt`: which retry rung, or dead-letter why (deliverer.retry.decide)."""
        return decide(
            attempt=attempt, status=result.status, failure=result.reason, retry_after=result.retry_after,
            age=(now_ms() - event.age_from) / 1000, destination=sender.config, rungs=self.rungs,
        )

    async def _attempt(self, sender: Sender, event: Event, attempt: int) -> AttemptResult:
        """One attempt, paced by the destination's rate limit, counted in the metrics."""
        gauge = metrics.labelled(metrics.DELIVERIES_IN_FLIGHT, sender.name)
        gauge.inc()
        self._attempts_running[sender.name] += 1
        started = time.perf_counter()
        try:
            if sender.limiter is not None:
                await sender.limiter.take()
            result = await sender.send(event, attempt)
        finally:
            gauge.dec()
            self._attempts_running[sender.name] -= 1
        metrics.labelled(metrics.DELIVERY_ATTEMPT_SECONDS, sender.name).observe(time.perf_counter() - started)
        outcome = "delivered" if result.delivered else "failed"
        if not result.delivered:
            self._last_errors[sender.name] = {
                "reason": result.reason, "status": result.status, "error": result.error, "at": now_ms(),
                "event_id": event.id,
            }
        if event.replay:  # counted apart; its end-to-end time is hours of archive, not latency
            metrics.labelled(metrics.REPLAYED_DELIVERY_ATTEMPTS, sender.name, outcome).inc()
            return result
        metrics.labelled(metrics.DELIVERY_ATTEMPTS, sender.name, outcome, result.status_class).inc()
        if result.delivered:
            latency = max(0.0, (now_ms() - event.received_at) / 1000)
            metrics.labelled(metrics.END_TO_END_SECONDS, sender.name).observe(latency)
            log.debug("delivered", extra={"event_id": event.id, "destination": sender.name, "status": result.status})
        return result

    # --- ordering: fifo ---

    async def _deliver_in_order(self, sender: Sender, message: AbstractIncomingMessage, event: Event) -> None:
        """One delivery at a time (prefetch 1, single active consumer), in queue order.

        A failure waits in place while its retry delay is short (at most FIFO_WAIT_IN_PLACE); a longer wait
        gives the message back by closing the consumer's channel (never a nack) and consumes again after the
        delay, so the head of the line stays the head. The attempts made are remembered in memory for the
        head message: a deliverer restart starts its schedule again.
        """
        name = sender.name
        held_id, held_attempts = self._fifo_attempts.pop(name, (None, 0))
        attempt = held_attempts + 1 if held_id == event.id else event.attempt + 1
        while True:
            if _expired(sender, event):
                await self._dead_letter(sender, message, AttemptResult(False, "expired"), attempt - 1)
                return
            result = await self._attempt(sender, event, attempt)
            if result.delivered:
                await ack(message)
                return
            decision = self._next_step(sender, event, attempt, result)
            if decision.retry_ms is None:
                await self._dead_letter(sender, message, replace(result, reason=decision.reason), attempt,
                                        result.reason)
                return
            delay = decision.retry_ms / 1000
            metrics.RETRIES_SCHEDULED.labels(destination=name).inc()
            log.info("in-order delivery failed; the line waits", extra={
                "event_id": event.id, "destination": name, "attempt": attempt, "delay_ms": decision.retry_ms,
                "in_place": delay <= FIFO_WAIT_IN_PLACE, "reason": result.reason, "status": result.status,
            })
            if delay > FIFO_WAIT_IN_PLACE:
                self._fifo_attempts[name] = (event.id, attempt)
                await self._give_back_and_wait(name, delay)
                return
            await asyncio.sleep(delay)
            attempt += 1

    async def _give_back_and_wait(self, name: str, delay: float) -> None:
        consumption = self._consumptions.pop(name, None)
        if consumption is not None:
            await consumption.cancel()
            await consumption.close()  # the unacked head message returns to the queue
        self._spawn(self._consume_after(name, delay))

    async def _consume_after(self, name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._consume(name, self.consumer.connection, 1)

    async def _retry(
        self, sender: Sender, message: AbstractIncomingMessage, event: Event, ms: int, result: AttemptResult
    ) -> None:
        """Publish the event to its retry rung (declared first if a Retry-After asked for a new one), then ack."""
        if ms not in self._declared_rungs:
            try:
                await self._declare_rung(ms)
            except PublishFailed:
                await asyncio.sleep(REQUEUE_DELAY)
                await requeue(message)
                return
        if not await hand_over(self.publisher, message, event.to_message(), exchange=self.names.retry(ms),
                               routing_key=sender.name, requeue_delay=REQUEUE_DELAY):
            # Rungs may be gone (`hookpipe topology prune` removes empty ones): declare each again on its next
            # use (jitter may pick another rung next time, and a declaration is idempotent and cheap).
            self._declared_rungs.clear()
            return
        metrics.RETRIES_SCHEDULED.labels(destination=sender.name).inc()
        log.info("delivery failed; retry scheduled", extra={
            "event_id": event.id, "destination": sender.name, "attempt": event.attempt, "delay_ms": ms,
            "reason": result.reason, "status": result.status, "error": result.error,
        })

    async def _declare_rung(self, ms: int) -> None:
        connection = self.publisher.link.connection
        if connection is None:
            raise PublishFailed("disconnected")
        async with connection.channel() as channel:
            await declare_retry_rung(channel, self.names, ms)
        self._declared_rungs.add(ms)

    async def _dead_letter(
        self, sender: Sender, message: AbstractIncomingMessage, result: AttemptResult, attempts: int,
        last_failure: str = "",
    ) -> None:
        log.warning("delivery failed; dead-lettered", extra={
            "event_id": message.message_id, "destination": sender.name, "reason": result.reason,
            "last_failure": last_failure, "status": result.status, "error": result.error, "attempts": attempts,
        })
        if result.status == 410:
            metrics.DELIVERY_GONE.labels(destination=sender.name).inc()
            log.error("destination answered 410 Gone: it wants no more deliveries; check its URL",
                      extra={"destination": sender.name})
        dead = dead_letter(message, result.reason, error=result.error, status=result.status,
                           response=result.response, attempts=attempts)
        if await hand_over(self.publisher, message, dead, exchange="", routing_key=self.names.dead_queue(sender.name),
                           requeue_delay=REQUEUE_DELAY):
            metrics.DEAD_LETTERS.labels(destination=sender.name, reason=result.reason).inc()


def _new_breaker(destination: DestinationConfig) -> Breaker:
    settings = destination.breaker
    return Breaker(failures=settings.failures, cooldown=settings.cooldown, max_cooldown=settings.max_cooldown)


def _expired(sender: Sender, event: Event) -> bool:
    """Whether the event is older than its destination's `retry.max_age` (dead letter `expired`)."""
    return now_ms() - event.age_from > sender.config.retry.max_age * 1000
