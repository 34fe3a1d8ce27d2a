"""The admin index's Indexer against the real broker: archived events and delivery-log records published to the
streams of a test prefix become the index's documents; a restart counts nothing twice; a reset (or a deleted
SQLite file) indexes the streams again into the same answers; replicas sharing PostgreSQL index one at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from control.admin.index import EventQuery, Index, Indexer, open_index, read_archived
from hookpipe.amqp.broker import Link, Publisher
from hookpipe.amqp.codec import encode_event
from hookpipe.amqp.topology import Names, declare_all
from hookpipe.amqp.wire import outgoing
from hookpipe.config import Config
from hookpipe.delivery_log import Attempt, DeadLettered, Decision, Record, Routed, encode_batch
from hookpipe.event import Event, now_ms
from tests.support.broker import AMQP_URL, connect
from tests.support.pipeline import load, pipeline_config
from tests.unit.test_index_store import postgres_schema  # noqa: F401  (a fixture)

pytestmark = pytest.mark.integration

#: Seconds an indexer gets to read what was published.
CATCH_UP = 20.0

#: When the test's events were received: a minute ago, well inside the streams' retention (1 day).
T0 = now_ms() - 60_000


@pytest.fixture
async def config(prefix: str, topology_cleanup: Any) -> Config:
    """A config whose archive and delivery log streams exist (under the test's prefix)."""
    raw = pipeline_config(prefix, "http://127.0.0.1:9/", archive={"max_age": "1d"}, delivery_log={"max_age": "1d"})
    topology_cleanup(raw)
    loaded = load(raw).config
    connection = await connect()
    async with connection:
        await declare_all(await connection.channel(), loaded)
    return loaded


@pytest.fixture
async def publish(config: Config) -> AsyncIterator[Any]:
    """publish(events=[...], records=[[...], ...], raw={stream: [bytes]}): confirmed, in that order."""
    publisher = Publisher(AMQP_URL, name="test-index-publisher", heartbeat=2, timeout=10)
    publisher.start()
    assert await publisher.link.wait_ready(15)
    names = Names.of(config.broker)

    async def send(*, events: list[Event] = (), records: list[list[Record]] = (),  # type: ignore[assignment]
                   raw: dict[str, list[bytes]] | None = None) -> None:
        for records_of_message in records:
            message = outgoing(encode_batch(records_of_message), message_id=None, content_type="application/json")
            await publisher.publish(message, exchange="", routing_key=names.delivery_log)
        for event in events:
            await publisher.publish(encode_event(event), exchange="", routing_key=names.archive)
        for stream, bodies in (raw or {}).items():
            for body in bodies:
                await publisher.publish(outgoing(body, message_id=None), exchange="", routing_key=stream)

    yield send
    await publisher.close()


class Running:
    """An Indexer running in the test's loop on a link of its own."""

    def __init__(self, index: Index, config: Config) -> None:
        self.link = Link(AMQP_URL, name="test-indexer", heartbeat=2)
        self.indexer = Indexer(index, config, self.link)
        self.task = asyncio.create_task(self.indexer.run())

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.link.close()


def event(event_id: str, at: int, body: bytes = b'{"amount": 100}') -> Event:
    return Event(id=event_id, source="stripe", type="charge.succeeded", received_at=at, verified=True,
                 content_type="application/json", body=body, headers={"user-agent": "Stripe/1.0"})


def attempt(event_id: str, number: int, at: int, *, delivered: bool, resend: bool = False) -> Attempt:
    return Attempt(event_id=event_id, destination="billing", attempt=number, at=at, duration_ms=30,
                   delivered=delivered, reason="ok" if delivered else "http_status",
                   status=200 if delivered else 502, error="" if delivered else "HTTP 502", replay=resend,
                   resend=resend)


def routed(event_id: str, at: int, decision: Decision = Decision.ROUTED) -> Routed:
    destinations = ("billing",) if decision == Decision.ROUTED else ()
    return Routed(event_id=event_id, source="stripe", type="charge.succeeded", received_at=at, at=at + 5,
                  decision=decision, routes=("payments",) if destinations else (), destinations=destinations)


def malformed(stream: str) -> float:
    return REGISTRY.get_sample_value("hookpipe_admin_index_malformed_messages_total", {"stream": stream}) or 0.0


def delete_sqlite_files(location: str) -> None:
    """The index's file, and its -wal and -shm beside it."""
    for suffix in ("", "-wal", "-shm"):
        Path(location + suffix).unlink(missing_ok=True)


async def answers(index: Index) -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
    """Every search item (pages of 2) and every event document: what a rebuild must give back the same."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await index.search(EventQuery(limit=2, cursor=cursor))
        items += page.items
        if (cursor := page.next_cursor) is None:
            break
    return items, [await index.event(item["id"]) for item in items]


async def test_the_indexer_reads_both_streams_restarts_without_counting_twice_and_rebuilds_alike(
    config: Config, publish: Any, tmp_path: Path,
) -> None:
    names = Names.of(config.broker)
    unreadable = {stream: malformed(stream) for stream in ("archive", "delivery_log")}
    # The log first: records of events the archive has not shown yet, and a message that is no batch of records.
    await publish(records=[[routed("e1", T0), attempt("e1", 1, T0 + 10, delivered=False)],
                           [routed("e2", T0 + 1, Decision.UNMATCHED)]],
                  raw={names.delivery_log: [b"not a batch"], names.archive: [b"not an event"]})
    await publish(events=[event("e1", T0), event("e2", T0 + 1)],
                  records=[[attempt("e1", 2, T0 + 1000, delivered=True)]])

    location = str(tmp_path / "index.sqlite3")
    index = await open_index(location)
    running = Running(index, config)
    try:
        assert await running.indexer.caught_up(CATCH_UP)
        page = await index.search(EventQuery())
        assert [(i["id"], i["status"], i["destinations"]) for i in page.items] == [
            ("e2", "unrouted", []), ("e1", "delivered", [{"name": "billing", "status": "delivered", "attempts": 2}])]
        document = await index.event("e1")
        assert document is not None
        assert (document["archived"], document["size"], document["headers"]) == (True, 15, {"user-agent": "Stripe/1.0"})
        attempts = document["deliveries"][0]["attempts"]
        assert [(a["attempt"], a["delivered"]) for a in attempts] == [(1, False), (2, True)]
        assert {s: malformed(s) - unreadable[s] for s in unreadable} == {"archive": 1, "delivery_log": 1}
        assert running.indexer.lag == 0

        # Stopped and started again: only what came since is added.
        await running.stop()
        await publish(records=[[attempt("e1", 1, T0 + 5000, delivered=False, resend=True)],
                               [DeadLettered(event_id="e1", destination="billing", at=T0 + 5001, reason="exhausted",
                                             attempts=1)]])
        running = Running(index, config)
        assert await running.indexer.caught_up(CATCH_UP)
        page = await index.search(EventQuery(destination="billing"))
        assert page.items[0]["destinations"] == [{"name": "billing", "status": "dead", "attempts": 3}]
        assert page.items[0]["status"] == "dead" and page.items[0]["replay"] is True
        before = await answers(index)

        await index.reset()  # rebuilt from the streams while the indexer runs
        assert await running.indexer.caught_up(CATCH_UP)
        assert await answers(index) == before

        await running.stop()
        await index.close()
        delete_sqlite_files(location)
        index = await open_index(location)
        running = Running(index, config)
        assert await running.indexer.caught_up(CATCH_UP)
        assert await answers(index) == before

        offset = await index.archive_offset("e1")
        assert offset is not None
        connection = await connect()
        async with connection:
            archived = await read_archived(connection, names, offset, "e1")
            assert archived is not None and archived.body == b'{"amount": 100}' and archived.received_at == T0
            assert await read_archived(connection, names, offset, "e2") is None
    finally:
        await running.stop()
        await index.close()


async def test_replicas_sharing_postgresql_index_one_at_a_time_and_take_over(
    config: Config, publish: Any, postgres_schema: str,  # noqa: F811
) -> None:
    first, second = await open_index(postgres_schema), await open_index(postgres_schema)
    await publish(events=[event("e1", T0)], records=[[routed("e1", T0)]])
    holder = Running(first, config)
    standby: Running | None = None
    try:
        assert await holder.indexer.caught_up(CATCH_UP)
        standby = Running(second, config)
        await publish(records=[[attempt("e1", 1, T0 + 10, delivered=True)]])
        assert await standby.indexer.caught_up(CATCH_UP)  # written by the holder: one index for both
        assert await first.holds_lock() and not await second.holds_lock()

        await holder.stop()
        await first.close()  # its connection, and so its lock, goes
        await publish(events=[event("e2", T0 + 1)], records=[[routed("e2", T0 + 1)]])
        assert await standby.indexer.caught_up(CATCH_UP)
        assert await second.holds_lock()
        page = await second.search(EventQuery())
        assert [(i["id"], i["status"]) for i in page.items] == [("e2", "pending"), ("e1", "delivered")]
        assert page.items[1]["destinations"] == [{"name": "billing", "status": "delivered", "attempts": 1}]
    finally:
        await holder.stop()
        if standby is not None:
            await standby.stop()
        with contextlib.suppress(Exception):
            await first.close()
        await second.close()


async def test_the_indexer_reads_on_after_the_broker_connection_drops(
    config: Config, publish: Any, tmp_path: Path,
) -> None:
    index = await open_index(str(tmp_path / "index.sqlite3"))
    running = Running(index, config)
    try:
        await publish(events=[event("e1", T0)], records=[[routed("e1", T0)]])
        assert await running.indexer.caught_up(CATCH_UP)
        running.link.reconnect("test: the connection drops")
        await publish(records=[[attempt("e1", 1, T0 + 10, delivered=True)]])
        assert await running.indexer.caught_up(CATCH_UP)
        page = await index.search(EventQuery())
        assert page.items[0]["destinations"] == [{"name": "billing", "status": "delivered", "attempts": 1}]
    finally:
        await running.stop()
        await index.close()
