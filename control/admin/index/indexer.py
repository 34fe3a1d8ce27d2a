"""The indexer: reads the archive and the delivery log into the index, from where it stopped, forever.

One loop: take the lock (PostgreSQL: one replica indexes, the others wait and take over when it dies), wait for
the broker, open a consumer per stream at its stored cursor, then take batches of arrivals (up to
BATCH_MESSAGES messages or BATCH_SECONDS) and write each with its cursors in one transaction. A restart, a
broker reconnect or a reset starts that session again from the stored cursors, so nothing is skipped and
nothing counted twice. Beside it, retention deletes what the streams no longer hold, and a watch notices a
reset, a lost lock and the lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aio_pika.abc import AbstractConnection

from control.admin.index.arrivals import Arrival, Inbox, batch_of, read_archive, read_log
from control.admin.index.index import Index
from control.admin.index.streams import Reader, StreamFeed, stream_tail
from control.admin.index.writes import Batch, CursorsMoved
from hookpipe.amqp.broker import Link, describe, queue_state
from hookpipe.amqp.recorder import declare_delivery_log
from hookpipe.amqp.topology import Names
from hookpipe.config import Config
from hookpipe.event import now_ms
from hookpipe.runtime import metrics

log = logging.getLogger("hookpipe.admin.index")

#: Most stream messages written in one transaction.
BATCH_MESSAGES = 500

#: Most delivery-log records in one transaction (a message holds up to 500), so a backlog is written in
#: transactions of bounded size and searches wait at most one of them.
BATCH_RECORDS = 5000

#: Seconds a batch waits for more messages after its first: how stale the index may be when traffic is light.
BATCH_SECONDS = 0.2

#: Seconds between two tries for the lock while another replica indexes (PostgreSQL).
LOCK_RETRY_SECONDS = 3.0

#: Seconds between the checks for a reset and a lost lock, and between updates of the lag gauge.
WATCH_SECONDS = 1.0

#: Seconds between two looks for a configured stream that does not exist yet (the archive before ingest first
#: ran): each look is a passive declare, which RabbitMQ answers by closing a channel and logging it.
MISSING_STREAM_SECONDS = 30.0

#: Seconds between two retention runs (the first runs when indexing starts).
RETENTION_SECONDS = 300.0

#: Seconds before trying again after an error (database or broker) stopped a session.
RETRY_SECONDS = 2.0

#: Seconds between two looks at the stored cursors while caught_up waits.
CAUGHT_UP_POLL = 0.05


class Restart(Exception):
    """The session must start again from the stored cursors (reset, reconnect, a stream appeared or vanished)."""


class Indexer:
    """Keeps `index` up to date with the archive (`config.archive`) and the delivery log (`config.delivery_log`)
    of `config.broker`, over the connection `link` keeps (started here if it was not)."""

    def __init__(self, index: Index, config: Config, link: Link) -> None:
        self.index = index
        self.config = config
        self.link = link
        names = Names.of(config.broker)
        self.streams: dict[str, Reader] = {}  # stream name -> how to read its messages
        if config.archive is not None:
            self.streams[names.archive] = read_archive
        if config.delivery_log is not None:
            self.streams[names.delivery_log] = read_log
        retention = config.delivery_log or config.archive
        #: Events received longer ago than this are deleted (s); None keeps everything.
        self.max_age: float | None = retention.max_age if retention is not None else None
        self._inbox = Inbox()
        self._writing_since: int | None = None  # when the oldest message of the batch being written was written

    @property
    def lag(self) -> float:
        """Seconds since the oldest message received but not yet written was written; 0 when none waits."""
        times = [t for t in (self._writing_since, self._inbox.oldest()) if t is not None]
        return max(0.0, (now_ms() - min(times)) / 1000) if times else 0.0

    async def run(self) -> None:
        """Index until cancelled. Errors (the database or the broker away) are logged and retried."""
        self.link.start()
        try:
            while True:
                try:
                    await self._hold_lock()
                    await self._index_while_locked()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning("the index stopped reading; starting again", extra={"error": describe(error)})
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            metrics.ADMIN_INDEX_ACTIVE.set(0)
            metrics.ADMIN_INDEX_LAG.set(0)
            with contextlib.suppress(Exception):  # let another replica take over at once
                await self.index.unlock()

    async def _hold_lock(self) -> None:
        waiting = False
        while not await self.index.try_lock():
            if not waiting:
                log.info("another hookpipe admin indexes the streams; taking over when it stops")
                waiting = True
            await asyncio.sleep(LOCK_RETRY_SECONDS)
        metrics.ADMIN_INDEX_ACTIVE.set(1)

    async def _index_while_locked(self) -> None:
        try:
            while await self.index.holds_lock():
                await self.link.wait_ready()
                connection = self.link.connection
                if connection is None:
                    continue
                try:
                    await self._session(connection)
                except (Restart, CursorsMoved) as reason:
                    log.info("the index reads the streams again from its cursors", extra={"reason": str(reason)})
        finally:
            metrics.ADMIN_INDEX_ACTIVE.set(0)

    async def _session(self, connection: AbstractConnection) -> None:
        """Read the streams on `connection` from the stored cursors until something makes it stop (raised)."""
        committed = await self.index.cursors()
        self._inbox = Inbox()
        lost = asyncio.Event()
        reasons: list[str] = []

        def on_lost(reason: str) -> None:
            reasons.append(reason)
            lost.set()

        def on_close(*_: Any) -> None:
            on_lost("connection closed")

        connection.close_callbacks.add(on_close)
        feeds: dict[str, StreamFeed] = {}
        try:
            await declare_delivery_log(connection, self.config)  # as the router and the deliverer do
            feeds = await self._open_feeds(connection, committed, on_lost)
            await _first_to_end([self._write_batches(feeds, committed), self._watch(connection, feeds, committed),
                                 self._expire(), self._until(lost, reasons)])
        finally:
            connection.close_callbacks.discard(on_close)
            for feed in feeds.values():
                await feed.close()
            self._writing_since = None

    async def _open_feeds(self, connection: AbstractConnection, committed: dict[str, int],
                          on_lost: Callable[[str], None]) -> dict[str, StreamFeed]:
        """A feed for each configured stream that exists (the watch restarts the session when another appears)."""
        feeds = {}
        for stream, read in self.streams.items():
            if await queue_state(connection, stream) is None:
                continue
            feed = StreamFeed(connection, stream, committed.get(stream), read, self._inbox, on_lost)
            await feed.start()
            feeds[stream] = feed
        return feeds

    async def _write_batches(self, feeds: dict[str, StreamFeed], committed: dict[str, int]) -> None:
        while True:
            arrivals = await self._inbox.take(messages=BATCH_MESSAGES, records=BATCH_RECORDS, window=BATCH_SECONDS)
            self._writing_since = min(arrival.time for arrival in arrivals)
            started = time.perf_counter()
            written = await self._write(arrivals, committed)
            metrics.ADMIN_INDEX_LAST_BATCH_SECONDS.set(time.perf_counter() - started)
            for kind, count in written.items():
                metrics.ADMIN_INDEX_RECORDS.labels(kind=kind).inc(count)
            self._writing_since = None
            metrics.ADMIN_INDEX_LAG.set(self.lag)
            last: dict[str, Arrival] = {arrival.stream: arrival for arrival in arrivals}
            for stream, arrival in last.items():
                await feeds[stream].acknowledge(arrival.tag)

    async def _write(self, arrivals: list[Arrival], committed: dict[str, int]) -> dict[str, int]:
        """Write the arrivals in one transaction. If that fails, each alone: one that still fails while an
        empty write of its cursor succeeds is a message the index cannot hold, and is skipped as unreadable."""
        try:
            return await self.index.apply(batch_of(arrivals), committed)
        except CursorsMoved:
            raise
        except Exception as error:
            if len(arrivals) == 1:
                return await self._skip(arrivals[0], committed, error)
        written: dict[str, int] = {}
        for arrival in arrivals:
            for kind, count in (await self._write([arrival], committed)).items():
                written[kind] = written.get(kind, 0) + count
        return written

    async def _skip(self, arrival: Arrival, committed: dict[str, int], error: Exception) -> dict[str, int]:
        # The message alone failed; if its cursor alone cannot be written either, the database is at fault: raise.
        await self.index.apply(Batch(cursors={arrival.stream: arrival.offset + 1}), committed)
        kind = "archive" if arrival.event is not None else "delivery_log"
        metrics.ADMIN_INDEX_MALFORMED.labels(stream=kind).inc()
        log.error("skipped a stream message the index cannot write",
                  extra={"stream": arrival.stream, "offset": arrival.offset, "error": describe(error)})
        return {}

    async def _watch(self, connection: AbstractConnection, feeds: dict[str, StreamFeed],
                     committed: dict[str, int]) -> None:
        resets = self.index.resets
        missing_checked = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            metrics.ADMIN_INDEX_LAG.set(self.lag)
            if self.index.resets != resets:
                raise Restart("the index was reset")
            if not await self.index.holds_lock():
                raise Restart("the lock was lost with the database connection")
            if not await self.index.cursors_are(committed):
                raise Restart("the stored cursors moved (reset by another replica)")
            if time.monotonic() - missing_checked < MISSING_STREAM_SECONDS:
                continue
            missing_checked = time.monotonic()
            for stream in self.streams.keys() - feeds.keys():
                if await queue_state(connection, stream) is not None:
                    raise Restart(f"stream {stream} appeared")

    async def _expire(self) -> None:
        while True:
            if self.max_age is not None:
                deleted = await self.index.delete_expired(now_ms() - int(self.max_age * 1000))
                if deleted:
                    log.info("retention deleted old events from the index", extra={"events": deleted})
            await self.index.optimize()
            await asyncio.sleep(RETENTION_SECONDS)

    @staticmethod
    async def _until(lost: asyncio.Event, reasons: list[str]) -> None:
        await lost.wait()
        raise Restart(reasons[0] if reasons else "lost")

    async def caught_up(self, timeout: float) -> bool:
        """True once everything in the streams when called is in the index (whichever replica wrote it); False
        if that takes more than `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not await self.link.wait_ready(max(0.0, deadline - loop.time())):
                return False
            try:
                tails = await self._tails(self.link.connection)
                break
            except Exception:  # the connection went as we asked: ask again on the next one
                if loop.time() >= deadline:
                    return False
                await asyncio.sleep(CAUGHT_UP_POLL)
        while True:
            cursors = await self.index.cursors()
            if all(cursors.get(stream, 0) > tail for stream, tail in tails.items()):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(CAUGHT_UP_POLL)

    async def _tails(self, connection: AbstractConnection | None) -> dict[str, int]:
        if connection is None:
            raise ConnectionError("not connected")
        found = await asyncio.gather(*(stream_tail(connection, stream) for stream in self.streams))
        return {stream: tail for stream, tail in zip(self.streams, found, strict=True) if tail is not None}


async def _first_to_end(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    """Run them together until one ends; cancel the others, then raise what ended it (if it raised)."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
