"""Dead letters: read them in place, replay them to their destination, purge them (`hookpipe dlq`).

Each destination's dead letters wait in `{prefix}.dead.{destination}`; the router's in `{prefix}.router.dead`,
reachable here as the pseudo-destination `router` (replayed into the router queue, so they are routed again).
A dead letter is the delivery message as it was, plus `x-hookpipe-dead-*` headers saying why
(hookpipe.amqp.deadletter), or, for a message that crashed its consumer too often, RabbitMQ's own `x-death` header
(reason `poison` here).

What a caller may rely on:
- Reading (`peek`) removes nothing: messages are taken unacked, with a prefetch as large as the number read,
  and the channel is closed, so the broker puts every one back. Quorum queues count that as a delivery; dead
  queues have no delivery limit, so it costs nothing.
- Replay and purge are bounded scans: they handle at most as many messages as the queue held when they began,
  so they end even though non-matching messages go back to the tail, and dead letters arriving meanwhile wait.
- A message is acked (removed) only after what replaces it is confirmed: its replay in the destination's
  queue, or its copy at the tail of the dead queue when a filter does not select it. Killing the command at any
  moment therefore loses nothing; it may leave a duplicate (a message replayed, or copied to the tail, whose ack
  never reached the broker), which the receiver drops by its `webhook-id`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from hookpipe.amqp.broker import Publisher, PublishFailed, QueueReader, close_quietly, queue_state, settle
from hookpipe.amqp.codec import HEADER_ATTEMPT, HEADER_RECEIVED_AT, HEADER_REQUEUED_AT, HEADER_SOURCE
from hookpipe.amqp.deadletter import (
    HEADER_AT,
    HEADER_ATTEMPTS,
    HEADER_ERROR,
    HEADER_REASON,
    HEADER_STATUS,
    copy_message,
)
from hookpipe.amqp.topology import Names
from hookpipe.amqp.wire import Outgoing
from hookpipe.config import Config
from hookpipe.event import now_ms
from hookpipe.outcomes import BrokerDeadLetterReason
from hookpipe.ratelimit import TokenBucket

#: The pseudo-destination naming the router's dead letters (a configured destination of that name wins).
ROUTER = "router"

#: Most dead letters read in place per queue: they are all held unacked in memory at once.
PEEK_MAX = 10_000

#: A scan stops early when no message arrives for this long (s): another consumer took the rest.
IDLE_SECONDS = 2.0

#: Messages replayed or purged concurrently (each waits for its own confirm before its ack): the prefetch.
SCAN_WINDOW = 50

#: Headers hookpipe.amqp.deadletter adds; a replay strips them (all start with this).
DEAD_HEADER_PREFIX = "x-hookpipe-dead-"

#: Headers RabbitMQ sets when it dead-letters or redelivers a message; a replay starts without them.
BROKER_HEADERS = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count")

#: RabbitMQ's dead-letter reasons (`x-death`), as our reasons.
BROKER_REASONS = {"delivery_limit": BrokerDeadLetterReason.POISON.value}


class UnknownDestination(ValueError):
    """`--destination` names neither a configured destination nor `router`."""


@dataclass(frozen=True, slots=True)
class DeadQueue:
    """One dead-letter queue and where a replay of its messages goes."""

    destination: str
    queue: str
    replay_exchange: str  # "" is the default exchange (routing by queue name)
    replay_key: str


def dead_queues(config: Config, destination: str | None = None) -> list[DeadQueue]:
    """Every dead queue of the config (each destination's, then the router's), or the one of `destination`.

    A destination's dead letters are replayed through the deliver exchange, keyed by the destination, the path
    the router uses: a destination whose queue is gone makes the mandatory publish return, so the dead letter
    stays where it is. The router's go straight into the router queue (default exchange), never into the
    ingested exchange, which would archive them again.
    """
    names = Names.of(config.broker)
    queues = [DeadQueue(name, names.dead_queue(name), names.deliver, name) for name in config.destinations]
    if ROUTER not in config.destinations:
        queues.append(DeadQueue(ROUTER, names.router_dead, "", names.router_queue))
    if destination is None:
        return queues
    chosen = [queue for queue in queues if queue.destination == destination]
    if not chosen:
        raise UnknownDestination(destination)
    return chosen


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """What `dlq show` and `events show` say about one dead letter. Times are UTC milliseconds."""

    id: str
    destination: str
    reason: str
    error: str
    status: int | None
    attempts: int | None
    dead_at: int | None
    received_at: int | None
    source: str | None
    type: str | None

    @classmethod
    def from_message(cls, message: AbstractIncomingMessage, destination: str) -> DeadLetter:
        headers = message.headers or {}
        death = _first_death(headers)
        broker_reason = _text(death.get("reason")) if death else ""
        reason = _text(headers.get(HEADER_REASON)) or BROKER_REASONS.get(broker_reason, broker_reason) or "unknown"
        dead_at = _int(headers.get(HEADER_AT))
        if dead_at is None and death and isinstance(death.get("time"), datetime):
            dead_at = int(death["time"].timestamp() * 1000)
        return cls(
            id=message.message_id or "",
            destination=destination,
            reason=reason,
            error=_text(headers.get(HEADER_ERROR)),
            status=_int(headers.get(HEADER_STATUS)),
            attempts=_int(headers.get(HEADER_ATTEMPTS)),
            dead_at=dead_at,
            received_at=_int(headers.get(HEADER_RECEIVED_AT)),
            source=_text(headers.get(HEADER_SOURCE)) or None,
            type=message.type or None,
        )

    def document(self, now: int | None = None) -> dict[str, Any]:
        """A JSON object for `--json`, with `age_s`: seconds since it was dead-lettered."""
        now = now_ms() if now is None else now
        age = None if self.dead_at is None else round(max(0, now - self.dead_at) / 1000, 3)
        return {
            "id": self.id, "destination": self.destination, "reason": self.reason, "attempts": self.attempts,
            "status": self.status, "error": self.error, "dead_at": self.dead_at, "age_s": age,
            "received_at": self.received_at, "source": self.source, "type": self.type,
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command acts on: all, or those of one reason and/or one event id."""

    reason: str | None = None
    id: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return (self.reason is None or letter.reason == self.reason) and (self.id is None or letter.id == self.id)

    @property
    def everything(self) -> bool:
        return self.reason is None and self.id is None


@dataclass(slots=True)
class Peek:
    """Dead letters read in place from the head of one queue."""

    queue: DeadQueue
    exists: bool
    depth: int  # ready messages when the read began
    letters: list[DeadLetter]

    @property
    def complete(self) -> bool:
        """Whether every message there at the start was read."""
        return len(self.letters) >= self.depth


@dataclass(slots=True)
class ScanReport:
    """What a replay or purge did to one queue."""

    queue: DeadQueue
    exists: bool = True
    depth: int = 0  # ready messages when the scan began: its bound
    scanned: int = 0
    selected: int = 0  # replayed, or purged
    kept: int = 0  # not selected: copied to the tail, then removed from the head
    failed: str = ""  # why the scan stopped early (a publish that was not confirmed)


async def peek(
    connection: AbstractConnection, queue: DeadQueue, *, limit: int = PEEK_MAX, idle: float = IDLE_SECONDS
) -> Peek:
    """Up to `limit` dead letters from the head of `queue`, all left in place."""
    state = await queue_state(connection, queue.queue)
    if state is None:
        return Peek(queue, exists=False, depth=0, letters=[])
    wanted = min(state.messages, limit)
    letters: list[DeadLetter] = []
    if wanted:
        channel = await connection.channel(publisher_confirms=False)
        try:
            reader = QueueReader(channel, queue.queue, idle=idle, count=wanted)
            await reader.start(prefetch=wanted)  # nothing is acked: the prefetch is how far we can see
            while (message := await reader.next()) is not None:
                letters.append(DeadLetter.from_message(message, queue.destination))
        finally:
            await close_quietly(channel)  # every message read goes back to the queue
    return Peek(queue, exists=True, depth=state.messages, letters=letters)


@dataclass(slots=True)
class Showing:
    """Dead letters read in place from some queues (`dlq show`): every one read, and those a selection keeps."""

    peeks: list[Peek]
    matched: list[DeadLetter]  # the selected ones, in queue order
    limit: int  # how many of them are shown

    @property
    def shown(self) -> list[DeadLetter]:
        return self.matched[: max(0, self.limit)]

    def document(self, now: int | None = None) -> dict[str, Any]:
        """The JSON object of `dlq show --json`: each queue read, how many matched, the letters shown."""
        return {
            "queues": [{"destination": p.queue.destination, "queue": p.queue.queue, "exists": p.exists,
                        "depth": p.depth, "read": len(p.letters)} for p in self.peeks],
            "matched": len(self.matched), "letters": [letter.document(now) for letter in self.shown],
        }


async def show(connection: AbstractConnection, queues: list[DeadQueue], selection: Selection, limit: int) -> Showing:
    """The dead letters of `queues` that `selection` keeps, read in place (nothing is removed), up to `limit` of
    them shown."""
    peeks = [await peek(connection, queue) for queue in queues]
    matched = [letter for found in peeks for letter in found.letters if selection.matches(letter)]
    return Showing(peeks, matched, limit)


def replay_message(message: AbstractIncomingMessage) -> Outgoing:
    """The delivery as the router first published it: dead-letter and broker headers stripped, the attempt
    count reset and its `max_age` counted from now (else an `expired` dead letter would expire again at
    once); id, body, properties and every other header (source, received_at, ...) kept."""
    headers = {
        name: value for name, value in (message.headers or {}).items()
        if not name.startswith(DEAD_HEADER_PREFIX) and not name.startswith(BROKER_HEADERS) and name != HEADER_ATTEMPT
    }
    headers[HEADER_REQUEUED_AT] = now_ms()
    return copy_message(message, headers)


def requeued_message(message: AbstractIncomingMessage) -> Outgoing:
    """The dead letter as it is, for the tail of its queue (the broker's redelivery count aside)."""
    headers = {name: value for name, value in (message.headers or {}).items() if name != "x-delivery-count"}
    return copy_message(message, headers)


#: What a scan does with a selected message before its ack: publish its replay, or nothing (purge).
OnSelected = Callable[[AbstractIncomingMessage], Awaitable[None]]


async def replay(
    publisher: Publisher,
    connection: AbstractConnection,
    queue: DeadQueue,
    selection: Selection,
    *,
    rate: float | None = None,
) -> ScanReport:
    """Send each selected dead letter back to its destination's queue (attempts reset), removing it only once
    that publish is confirmed. `rate`: most replays per second, so a receiver just back up is not flooded."""

    async def publish_replay(message: AbstractIncomingMessage) -> None:
        await publisher.publish(replay_message(message), exchange=queue.replay_exchange, routing_key=queue.replay_key)

    # burst 1: replays are spread evenly at the rate, as the deliverer paces a destination
    limiter = TokenBucket(rate, burst=1) if rate else None
    return await _scan(publisher, connection, queue, selection, publish_replay, limiter=limiter)


async def purge(
    publisher: Publisher, connection: AbstractConnection, queue: DeadQueue, selection: Selection
) -> ScanReport:
    """Remove each selected dead letter (the others are kept, copied to the tail)."""

    async def drop(_: AbstractIncomingMessage) -> None:
        return None

    return await _scan(publisher, connection, queue, selection, drop, limiter=None)


async def _scan(
    publisher: Publisher,
    connection: AbstractConnection,
    queue: DeadQueue,
    selection: Selection,
    on_selected: OnSelected,
    *,
    limiter: TokenBucket | None,
) -> ScanReport:
    report = ScanReport(queue)
    state = await queue_state(connection, queue.queue)
    if state is None:
        report.exists = False
        return report
    report.depth = state.messages
    if not report.depth:
        return report
    channel = await connection.channel(publisher_confirms=False)
    window = asyncio.Semaphore(SCAN_WINDOW)
    tasks: set[asyncio.Task[None]] = set()

    async def handle(message: AbstractIncomingMessage) -> None:
        try:
            letter = DeadLetter.from_message(message, queue.destination)
            if selection.matches(letter):
                if limiter is not None:  # only what is replayed is paced: putting the others back costs nothing
                    await limiter.take()
                await on_selected(message)
                report.selected += 1
            else:
                await publisher.publish(requeued_message(message), exchange="", routing_key=queue.queue)
                report.kept += 1
        except PublishFailed as failure:
            report.failed = report.failed or str(failure)
            await settle(message.nack(requeue=True))
        else:
            await settle(message.ack())
        finally:
            window.release()

    try:
        reader = QueueReader(channel, queue.queue, idle=IDLE_SECONDS, count=report.depth)
        await reader.start(prefetch=min(SCAN_WINDOW, report.depth))
        while not report.failed:
            await window.acquire()
            message = await reader.next()
            if message is None:
                window.release()
                break
            report.scanned += 1
            task = asyncio.create_task(handle(message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
    finally:
        await close_quietly(channel)  # messages delivered past the bound go back untouched
    return report


def _first_death(headers: dict[str, Any]) -> dict[str, Any] | None:
    deaths = headers.get("x-death")
    if isinstance(deaths, list | tuple) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return None


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
