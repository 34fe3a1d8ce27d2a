"""`hookpipe replay`: send archived events through the current rules again (docs/architecture.md, "Replay").

The archive is a stream bound to the ingested exchange. Replay reads it from a timestamp offset, which RabbitMQ
rounds down to a chunk boundary, so each event's `x-hookpipe-received-at` is checked here against the window
[since, until]. The events kept are published to the router's queue through the default exchange, never back
into the ingested exchange, so a replay is never archived again. They carry `x-hookpipe-replay`, and the
router and deliverer count them apart; `--route` and `--destination` ride along as headers the router honours.

The command ends at `until` (by default, when it started): at the first event received past it (plus the
ingest publish deadline, since events are appended in confirm order, not receipt order), or once the stream
has nothing more to give for IDLE_SECONDS. Every publish is confirmed before the summary counts it; a publish
that still fails after its retries stops the replay with a non-zero exit, and the summary says how far it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from control.common import connect
from control.table import NONE, format_table, format_time
from hookpipe.amqp.broker import Publisher, PublishFailed, QueueReader, close_quietly, queue_state
from hookpipe.amqp.codec import HEADER_RECEIVED_AT, MalformedEvent, decode_event, encode_event
from hookpipe.amqp.topology import Names
from hookpipe.config import Config, units
from hookpipe.event import Event
from hookpipe.ratelimit import TokenBucket
from router.rules import RouteTable, UnparsableBody, compile_routes
from router.transform import TransformError

#: Stream messages the broker sends ahead of what has been processed.
PREFETCH = 500

#: Publishes awaiting their confirm at once.
PUBLISH_WINDOW = 200

#: Attempts per publish before the replay stops (a broker outage outlasting them fails the command).
PUBLISH_ATTEMPTS = 3

#: Seconds without a new stream message after which the archive counts as read to its end.
IDLE_SECONDS = 3.0

#: Events a dry run lists by default (the counts cover them all).
DRY_RUN_LISTED = 100


class ReplayError(Exception):
    """The replay cannot start (bad options, no archive) or could not finish."""


def parse_moment(text: str, now: datetime) -> datetime:
    """RFC 3339 (`2026-11-27T08:00:00Z`, a zone required), or a duration back from `now` (`2h`, `30m`, `1d`)."""
    try:
        return units.parse_moment(text, now)
    except ValueError as error:
        raise ReplayError(str(error)) from None


@dataclass(frozen=True)
class ReplayOptions:
    since: datetime
    until: datetime
    source: str | None = None
    type: str | None = None
    id: str | None = None
    route: str | None = None
    destination: str | None = None
    dry_run: bool = False
    rate: float | None = None  # events published per second
    listed: int = DRY_RUN_LISTED  # matching events a dry run lists, the first ones read


@dataclass(frozen=True)
class ListedEvent:
    """An event a dry run would replay, and the destinations the current rules would deliver it to."""

    id: str
    source: str
    type: str | None
    received_at: int  # UTC ms
    destinations: tuple[str, ...]


@dataclass
class ReplaySummary:
    read: int = 0  # archived events received within the window
    matched: int = 0  # of those, events that pass the filters and match the (restricted) current rules
    published: int = 0  # of those, confirmed on the router's queue
    skipped: int = 0  # not events, or bodies a route's filter or transform cannot read
    failed: int = 0  # publishes that failed for good
    last_published_at: int | None = None  # received_at (ms) of the newest event confirmed
    window: tuple[int, int] = (0, 0)  # [since, until] in UTC ms
    reached: int = 0  # received_at (ms) of the last archived event read: how far through the window
    listed: list[ListedEvent] = field(default_factory=list)  # a dry run's first matching events

    def line(self, dry_run: bool) -> str:
        published = "0 (dry run)" if dry_run else str(self.published)
        text = f"read {self.read}, matched {self.matched}, published {published}"
        if self.skipped:
            text += f", skipped {self.skipped} unreadable"
        if self.failed:
            text += f", FAILED {self.failed}"
        return text


def render_listing(summary: ReplaySummary) -> list[str]:
    """A dry run's listed events as a table, then how many more matched (nothing when none is listed)."""
    if not summary.listed:
        return []
    lines = format_table(["ID", "SOURCE", "TYPE", "RECEIVED AT", "DESTINATIONS"], [
        [event.id, event.source, NONE if event.type is None else event.type, format_time(event.received_at),
         ", ".join(event.destinations)]
        for event in summary.listed
    ])
    more = summary.matched - len(summary.listed)
    if more > 0:
        lines.append(f"... and {more} more (--list N lists more)")
    return lines


def check_options(config: Config, options: ReplayOptions) -> None:
    if config.archive is None:
        raise ReplayError("the config has `archive: off`: there is nothing to replay")
    routes = [route.name for route in config.routes]
    if options.route is not None and options.route not in routes:
        raise ReplayError(_unknown("route", options.route, routes, "destination", config.destinations))
    if options.destination is not None and options.destination not in config.destinations:
        raise ReplayError(_unknown("destination", options.destination, config.destinations, "route", routes))
    if options.since >= options.until:
        raise ReplayError("--since must be before --until")
    if options.listed < 0:
        raise ReplayError("--list must be 0 or more")


def _unknown(kind: str, name: str, known: Iterable[str], other_kind: str, others: Iterable[str]) -> str:
    """`unknown route 'billing'; routes: a, b (billing is a destination: use --destination billing)`: the names
    the option takes, and the other option when the name is one of its own (routes and destinations mix up)."""
    text = f"unknown {kind} '{name}'; {kind}s: {', '.join(known) or 'none'}"
    if name in others:
        text += f" ({name} is a {other_kind}: use --{other_kind} {name})"
    return text


class Replay:
    """One replay run. `progress(summary)` is called as it goes (the CLI draws its progress bar with it)."""

    def __init__(
        self, config: Config, options: ReplayOptions, progress: Callable[[ReplaySummary], None] | None = None
    ) -> None:
        check_options(config, options)
        self.config = config
        self.options = options
        self.names = Names.of(config.broker)
        self.routes: RouteTable = compile_routes(config)
        self.summary = ReplaySummary(window=(_ms(options.since), _ms(options.until)))
        self._progress = progress or (lambda _: None)
        self._limiter = TokenBucket(options.rate, burst=1) if options.rate else None
        self._window = asyncio.Semaphore(PUBLISH_WINDOW)
        self._pending: set[asyncio.Task[None]] = set()
        self._failed = asyncio.Event()
        # Events reach the stream in confirm order: one received before `until` may follow one received after.
        self._stop_after_ms = _ms(options.until) + int(config.ingest.publish_timeout * 1000)

    async def run(
        self, *, publisher: Publisher | None = None, connection: AbstractConnection | None = None
    ) -> ReplaySummary:
        """Read the window and publish what it selects; the summary once every publish is confirmed. With
        `publisher` and `connection` (a running service's own, such as hookpipe admin's), the archive is read
        and the events published through them, and both are left open; without, the replay opens its own."""
        own = publisher is None
        if publisher is None:
            publisher = Publisher(self.config.broker.url, name="hookpipe-replay",
                                  heartbeat=self.config.broker.heartbeat, timeout=10.0)
            if not self.options.dry_run:
                publisher.start()
                if not await publisher.link.wait_ready(15):
                    await publisher.close()
                    raise ReplayError("cannot reach the broker to publish")
        try:
            if connection is not None:
                await self._read(connection, publisher)
            else:
                async with await connect(self.config) as opened:
                    await self._read(opened, publisher)
            if self._pending:
                await asyncio.gather(*self._pending)
        finally:
            if own:
                await publisher.close()
        self._progress(self.summary)
        if self.summary.failed:
            raise ReplayError(f"{self.summary.failed} events could not be published")
        return self.summary

    async def _read(self, connection: AbstractConnection, publisher: Publisher) -> None:
        if await queue_state(connection, self.names.archive) is None:
            raise ReplayError(f"no archive stream '{self.names.archive}' on the broker yet")
        channel = await connection.channel()
        try:
            reader = QueueReader(channel, self.names.archive, idle=IDLE_SECONDS)
            # The offset is a timestamp: the stream starts at the chunk holding it, at most a little earlier.
            await reader.start(PREFETCH, {"x-stream-offset": self.options.since})
            while not self._failed.is_set():
                message = await reader.next()
                if message is None:
                    return  # read to the end of the archive
                if not await self._take(message, publisher):
                    return
        finally:
            await close_quietly(channel)  # ends the stream consumer: on a shared connection it would read on

    async def _take(self, message: AbstractIncomingMessage, publisher: Publisher) -> bool:
        """Handle one stream message; False once past the window's end."""
        await message.ack()  # a stream ack only grants credit: the archive keeps the message
        received_at = (message.headers or {}).get(HEADER_RECEIVED_AT)
        if not isinstance(received_at, int):
            self.summary.skipped += 1
            return True
        if received_at > self._stop_after_ms:
            return False
        if not _ms(self.options.since) <= received_at <= _ms(self.options.until):
            return True
        self.summary.read += 1
        self.summary.reached = max(self.summary.reached, received_at)
        selected = self._selected(message)
        if selected is not None:
            event, destinations = selected
            self.summary.matched += 1
            if not self.options.dry_run:
                await self._publish_soon(publisher, event)
            elif len(self.summary.listed) < self.options.listed:
                self.summary.listed.append(
                    ListedEvent(event.id, event.source, event.type, event.received_at, destinations))
        if self.summary.read % 100 == 0:
            self._progress(self.summary)
        return True

    def _selected(self, message: AbstractIncomingMessage) -> tuple[Event, tuple[str, ...]] | None:
        """The replay event and its destinations, if the archived message passes the filters and the current
        rules route it."""
        options = self.options
        try:
            event = decode_event(message)
        except MalformedEvent:
            self.summary.skipped += 1
            return None
        if (options.source is not None and event.source != options.source) or (
            options.type is not None and event.type != options.type) or (
            options.id is not None and event.id != options.id):
            return None
        event = replace(event, replay=True, replay_route=options.route, replay_destination=options.destination)
        try:
            _, deliveries = self.routes.match(event)
        except (UnparsableBody, TransformError):
            self.summary.skipped += 1
            return None
        return (event, tuple(delivery.destination for delivery in deliveries)) if deliveries else None

    async def _publish_soon(self, publisher: Publisher, event: Event) -> None:
        if self._limiter is not None:
            await self._limiter.take()
        await self._window.acquire()
        task = asyncio.create_task(self._publish(publisher, event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, publisher: Publisher, event: Event) -> None:
        try:
            for attempt in range(1, PUBLISH_ATTEMPTS + 1):
                try:
                    await publisher.publish(encode_event(event), exchange="", routing_key=self.names.router_queue)
                except PublishFailed:
                    if attempt == PUBLISH_ATTEMPTS:
                        self.summary.failed += 1
                        self._failed.set()
                        return
                    await asyncio.sleep(attempt)
                    continue
                self.summary.published += 1
                last = self.summary.last_published_at
                self.summary.last_published_at = max(last or 0, event.received_at)
                return
        finally:
            self._window.release()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class ProgressLine:
    """A progress bar on a terminal: how far through the time window the archive has been read, and the counts
    so far (nothing when stderr is not a terminal)."""

    WIDTH = 30

    def __init__(self, stream=sys.stderr) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream
        self.enabled = stream.isatty()
        self._last = 0.0

    def __call__(self, summary: ReplaySummary) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.2:
            return
        self._last = now
        self.stream.write(f"\r{render_progress(summary, self.WIDTH)}   ")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            with contextlib.suppress(Exception):
                self.stream.write("\n")


def render_progress(summary: ReplaySummary, width: int) -> str:
    since, until = summary.window
    done = 0.0 if until <= since or not summary.reached else min(1.0, (summary.reached - since) / (until - since))
    filled = round(done * width)
    return (f"replay [{'#' * filled}{'.' * (width - filled)}] {done:4.0%}  read {summary.read}  "
            f"matched {summary.matched}  published {summary.published}")
