"""The admin index's store, on SQLite and on PostgreSQL (a fresh schema per test): what a batch of stream
messages makes of an event, the status rules, arrival in any order, pages, filters, retention and reset."""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from control.admin.index import BadCursor, EventQuery, Index, open_index
from control.admin.index.merge import ArchivedEvent
from control.admin.index.writes import Batch, CursorsMoved
from hookpipe.delivery_log import Attempt, DeadLettered, Decision, Record, Routed

#: The PostgreSQL server the tests use (trust auth); each test gets a schema of its own there.
POSTGRES_URL = os.environ.get("HOOKPIPE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

ARCHIVE = "hp.archive"
LOG = "hp.attempts"
T0 = 1_796_000_000_000  # 2026-11-30T00:53:20Z, in UTC ms


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a new schema, dropped after the test; skips when PostgreSQL does not answer."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} does not answer: {error}")
    schema = f"hp_index_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite3")
    return str(request.getfixturevalue("postgres_schema"))


@pytest.fixture
async def index(location: str) -> AsyncIterator[Index]:
    """An index, holding the indexer's lock (writes need it)."""
    opened = await open_index(location)
    assert await opened.try_lock()
    yield opened
    await opened.close()


class Streams:
    """Writes to an index what the indexer would: each call one batch, at the next offsets of each stream."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.committed: dict[str, int] = {}
        self.offsets = {ARCHIVE: 0, LOG: 0}

    async def archive(self, *events: ArchivedEvent) -> None:
        batch = Batch(archived=list(events))
        await self._write(batch, ARCHIVE, len(events))

    async def log(self, *messages: list[Record]) -> None:
        """Each argument is one stream message: its records."""
        start = self.offsets[LOG]
        batch = Batch(records=[((start + n, i), record) for n, records in enumerate(messages)
                               for i, record in enumerate(records)])
        await self._write(batch, LOG, len(messages))

    async def _write(self, batch: Batch, stream: str, count: int) -> None:
        self.offsets[stream] += count
        batch.cursors = {stream: self.offsets[stream]}
        await self.index.apply(batch, self.committed)


def archived(event_id: str, at: int = T0, *, source: str = "stripe", type_: str | None = "charge.succeeded",
             offset: int = 0) -> ArchivedEvent:
    return ArchivedEvent(id=event_id, source=source, type=type_, received_at=at, content_type="application/json",
                         size=42, headers={"user-agent": "Stripe/1.0"}, offset=offset)


def routed(event_id: str, *destinations: str, at: int = T0 + 10, source: str = "stripe",
           type_: str | None = "charge.succeeded", received_at: int = T0, decision: Decision = Decision.ROUTED,
           reason: str | None = None, replay: bool = False) -> Routed:
    return Routed(event_id=event_id, source=source, type=type_, received_at=received_at, at=at, decision=decision,
                  routes=("payments",) if destinations else (), destinations=destinations, reason=reason,
                  replay=replay)


def attempt(event_id: str, destination: str, number: int, at: int, *, delivered: bool, resend: bool = False
            ) -> Attempt:
    return Attempt(event_id=event_id, destination=destination, attempt=number, at=at, duration_ms=12,
                   delivered=delivered, reason="ok" if delivered else "http_status", status=200 if delivered else 503,
                   error="" if delivered else "HTTP 503", response="" if delivered else "down", replay=resend,
                   resend=resend)


def dead(event_id: str, destination: str, at: int, attempts: int = 3) -> DeadLettered:
    return DeadLettered(event_id=event_id, destination=destination, at=at, reason="exhausted", attempts=attempts)


async def statuses(index: Index, event_id: str) -> tuple[str, dict[str, str]]:
    document = await index.event(event_id)
    assert document is not None
    return document["status"], {d["destination"]: d["status"] for d in document["deliveries"]}


async def all_pages(index: Index, **filters: Any) -> list[str]:
    """Every id a search gives, page after page."""
    ids: list[str] = []
    cursor = None
    while True:
        page = await index.search(EventQuery(cursor=cursor, **filters))
        ids += [item["id"] for item in page.items]
        if page.next_cursor is None:
            return ids
        assert len(page.items) == filters.get("limit", 50)
        cursor = page.next_cursor


async def test_an_event_reads_back_with_its_routing_deliveries_and_attempts_in_order(index: Index) -> None:
    streams = Streams(index)
    await streams.archive(archived("evt_1"))
    await streams.log([routed("evt_1", "billing", "audit"), attempt("evt_1", "billing", 1, T0 + 20, delivered=False)],
                      [attempt("evt_1", "audit", 1, T0 + 21, delivered=True),
                       attempt("evt_1", "billing", 2, T0 + 1020, delivered=True)])

    page = await index.search(EventQuery())
    assert page.next_cursor is None
    assert page.items == [{
        "id": "evt_1", "source": "stripe", "type": "charge.succeeded", "received_at": "2026-11-30T00:53:20.000Z",
        "status": "delivered", "replay": False,
        "destinations": [{"name": "audit", "status": "delivered", "attempts": 1},
                         {"name": "billing", "status": "delivered", "attempts": 2}],
    }]
    failed = {"attempt": 1, "at": "2026-11-30T00:53:20.020Z", "duration_ms": 12, "delivered": False,
              "reason": "http_status", "status": 503, "error": "HTTP 503", "response": "down", "replay": False,
              "resend": False}
    assert await index.event("evt_1") == {
        "id": "evt_1", "source": "stripe", "type": "charge.succeeded", "received_at": "2026-11-30T00:53:20.000Z",
        "content_type": "application/json", "size": 42, "headers": {"user-agent": "Stripe/1.0"},
        "status": "delivered", "replay": False, "archived": True,
        "routing": {"decision": "routed", "routes": ["payments"], "destinations": ["billing", "audit"],
                    "reason": None, "at": "2026-11-30T00:53:20.010Z"},
        "deliveries": [
            {"destination": "audit", "status": "delivered", "dead": None, "attempts": [
                {**failed, "at": "2026-11-30T00:53:20.021Z", "delivered": True, "reason": "ok", "status": 200,
                 "error": None, "response": None}]},
            {"destination": "billing", "status": "delivered", "dead": None, "attempts": [
                failed, {**failed, "attempt": 2, "at": "2026-11-30T00:53:21.020Z", "delivered": True, "reason": "ok",
                         "status": 200, "error": None, "response": None}]},
        ],
    }
    assert await index.archive_offset("evt_1") == 0
    assert await index.archive_offset("unknown") is None
    assert await index.event("unknown") is None


async def test_status_rules_for_deliveries_and_events(index: Index) -> None:
    streams = Streams(index)
    await streams.archive(*(archived(f"e{n}", T0 + n, offset=n) for n in range(8)))
    await streams.log([
        routed("e1", decision=Decision.UNMATCHED),
        routed("e2", decision=Decision.DEAD, reason="bad_json"),
        routed("e3", "a", "b"),  # both pending
        routed("e4", "a", "b"), attempt("e4", "a", 1, T0 + 100, delivered=True),  # a delivered, b pending
        routed("e5", "a", "b"), attempt("e5", "a", 1, T0 + 100, delivered=False),  # a failing, b pending
        attempt("e5", "b", 1, T0 + 100, delivered=True),
        routed("e6", "a", "b"), attempt("e6", "a", 1, T0 + 100, delivered=True), dead("e6", "b", T0 + 200, 0),
        routed("e7", "a"), attempt("e7", "a", 1, T0 + 100, delivered=False), dead("e7", "a", T0 + 300),
        attempt("e7", "a", 1, T0 + 400, delivered=True, resend=True),  # a resend after the dead letter
    ])
    assert await statuses(index, "e0") == ("received", {})
    assert await statuses(index, "e1") == ("unrouted", {})
    assert await statuses(index, "e2") == ("dead", {})
    assert await statuses(index, "e3") == ("pending", {"a": "pending", "b": "pending"})
    assert await statuses(index, "e4") == ("pending", {"a": "delivered", "b": "pending"})
    assert await statuses(index, "e5") == ("failing", {"a": "failing", "b": "delivered"})
    assert await statuses(index, "e6") == ("dead", {"a": "delivered", "b": "dead"})
    assert await statuses(index, "e7") == ("delivered", {"a": "delivered"})
    document = await index.event("e7")
    assert document is not None and document["replay"] is True
    assert document["deliveries"][0]["dead"] == {"reason": "exhausted", "at": "2026-11-30T00:53:20.300Z",
                                                 "attempts": 3}
    assert [a["resend"] for a in document["deliveries"][0]["attempts"]] == [False, True]


async def test_records_in_any_order_give_the_same_documents(index: Index) -> None:
    """The archive message, the routing decision, the attempts and the dead letter come from different streams and
    replicas: every order of arrival ends in the same rows."""
    messages: list[list[Record] | ArchivedEvent] = [
        archived("evt"), [routed("evt", "a", "b")], [attempt("evt", "a", 1, T0 + 20, delivered=False)],
        [attempt("evt", "a", 2, T0 + 30, delivered=False), dead("evt", "a", T0 + 40)],
        [attempt("evt", "b", 1, T0 + 25, delivered=True)], [attempt("evt", "a", 1, T0 + 50, delivered=True)],
    ]
    orders = [list(range(len(messages))), list(reversed(range(len(messages))))]
    orders += [random.Random(seed).sample(range(len(messages)), len(messages)) for seed in range(3)]
    answers = []
    for order in orders:
        await index.reset()
        streams = Streams(index)
        log_offsets = {}
        for n in order:  # each message keeps its place in the log, whatever order it arrives in
            message = messages[n]
            if isinstance(message, ArchivedEvent):
                await streams.archive(message)
            else:
                streams.offsets[LOG] = log_offsets.setdefault(n, 10 * n)
                await streams.log(message)
        answers.append((await index.event("evt"), await index.search(EventQuery())))
    assert answers[0][0] is not None and answers[0][0]["status"] == "delivered"
    assert all(answer == answers[0] for answer in answers)


async def test_an_attempt_read_twice_is_counted_once(index: Index) -> None:
    message: list[Record] = [routed("evt", "a"), attempt("evt", "a", 1, T0 + 20, delivered=False)]
    positioned = [((0, n), record) for n, record in enumerate(message)]
    await index.apply(Batch(records=positioned, cursors={LOG: 1}), {})
    await index.apply(Batch(records=positioned, cursors={LOG: 1}), {LOG: 1})  # the same message, read again
    page = await index.search(EventQuery())
    assert page.items[0]["destinations"] == [{"name": "a", "status": "failing", "attempts": 1}]
    await index.apply(Batch(records=[((1, 0), message[1])], cursors={LOG: 2}), {LOG: 1})  # another record, alike
    page = await index.search(EventQuery())
    assert page.items[0]["destinations"] == [{"name": "a", "status": "failing", "attempts": 2}]


async def test_a_batch_from_a_stale_cursor_writes_nothing(index: Index) -> None:
    streams = Streams(index)
    await streams.archive(archived("first"))
    with pytest.raises(CursorsMoved):
        await index.apply(Batch(archived=[archived("second")], cursors={ARCHIVE: 2}), {ARCHIVE: 0})
    assert await index.event("second") is None
    assert await index.cursors() == {ARCHIVE: 1}


async def test_pages_give_every_match_once_newest_first_while_events_arrive(index: Index) -> None:
    streams = Streams(index)
    # 90 events over 30 distinct times: ties on received_at are ordered by id
    events = [archived(f"e{n:03d}", T0 + n // 3, source=("stripe", "github")[n % 2], offset=n) for n in range(90)]
    await streams.archive(*events)
    expected = [event.id for event in sorted(events, key=lambda e: (e.received_at, e.id), reverse=True)]
    assert await all_pages(index, limit=7) == expected
    assert await all_pages(index, limit=500) == expected
    assert await all_pages(index, limit=1, source="github") == [i for i in expected if int(i[1:]) % 2]

    first = await index.search(EventQuery(limit=10))
    await streams.archive(archived("newer", T0 + 1000, offset=90))  # arrives between two pages
    second = await index.search(EventQuery(limit=10, cursor=first.next_cursor))
    assert [item["id"] for item in first.items + second.items] == expected[:20]


#: Empty, not base64, and base64 of JSON that is no position: [], ["x", 1], {"a": 1}, [1, 2, 3], [true, "x"].
BAD_CURSORS = ["", "not a cursor", "W10", "WyJ4IiwgMV0", "eyJhIjogMX0", "WzEsMiwzXQ", "W3RydWUsIngiXQ"]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_cursor_the_index_did_not_give_is_refused(index: Index, cursor: str) -> None:
    with pytest.raises(BadCursor):
        await index.search(EventQuery(cursor=cursor))


async def test_filters_by_source_type_destination_status_and_time(index: Index) -> None:
    streams = Streams(index)
    await streams.archive(
        archived("s1", T0 + 1, source="stripe", type_="charge", offset=0),
        archived("s2", T0 + 2, source="stripe", type_="refund", offset=1),
        archived("g1", T0 + 3, source="github", type_="push", offset=2),
        archived("g2", T0 + 4, source="github", type_="push", offset=3),
    )
    await streams.log([
        routed("s1", "billing"), attempt("s1", "billing", 1, T0 + 10, delivered=True),
        routed("s2", "billing", "audit"), attempt("s2", "billing", 1, T0 + 10, delivered=False),
        routed("g1", "audit"), attempt("g1", "audit", 1, T0 + 10, delivered=True),
        routed("g2", decision=Decision.UNMATCHED),
    ])

    async def ids(**filters: Any) -> list[str]:
        return await all_pages(index, **filters)

    assert await ids() == ["g2", "g1", "s2", "s1"]
    assert await ids(source="stripe") == ["s2", "s1"]
    assert await ids(type="push") == ["g2", "g1"]
    assert await ids(destination="audit") == ["g1", "s2"]
    assert await ids(destination="billing", status="failing") == ["s2"]
    assert await ids(destination="audit", status="pending") == ["s2"]
    assert await ids(status="failing") == ["s2"]
    assert await ids(status="unrouted") == ["g2"]
    assert await ids(status="delivered") == ["g1", "s1"]
    assert await ids(since=T0 + 2, until=T0 + 4) == ["g1", "s2"]
    assert await ids(source="stripe", destination="billing", since=T0 + 2) == ["s2"]
    assert await ids(source="github", type="push", status="delivered") == ["g1"]
    assert await ids(destination="nowhere") == []
    assert await ids(since=T0, until=T0 + 5, limit=1) == ["g2", "g1", "s2", "s1"]


async def test_retention_deletes_old_events_with_their_deliveries_and_attempts(index: Index) -> None:
    streams = Streams(index)
    await streams.archive(archived("old", T0, offset=0), archived("new", T0 + 5000, offset=1))
    await streams.log([routed("old", "a"), attempt("old", "a", 1, T0 + 10, delivered=True),
                       routed("new", "a", received_at=T0 + 5000), attempt("new", "a", 1, T0 + 5010, delivered=True),
                       attempt("orphan", "a", 1, T0 + 20, delivered=False)])  # its event is not in the index
    assert await index.delete_expired(T0 + 1000) == 2
    assert await index.event("old") is None and await index.event("orphan") is None
    assert await all_pages(index) == ["new"]
    # the rows are gone, not just hidden: records of the old event read again count from nothing
    await streams.log([attempt("old", "a", 2, T0 + 30, delivered=False)])
    assert (await statuses(index, "old")) == ("failing", {"a": "failing"})
    document = await index.event("old")
    assert document is not None and len(document["deliveries"][0]["attempts"]) == 1


async def test_reset_empties_every_row_and_cursor(index: Index) -> None:
    streams = Streams(index)
    await streams.archive(archived("evt"))
    await streams.log([routed("evt", "a"), attempt("evt", "a", 1, T0 + 10, delivered=True)])
    resets = index.resets
    await index.reset()
    assert index.resets == resets + 1
    assert await index.cursors() == {}
    assert await index.event("evt") is None
    assert (await index.search(EventQuery())).items == []


async def test_unknown_values_are_null_and_no_key_is_missing(index: Index) -> None:
    """An attempt seen before anything else of its event: the document has every key, unknowns null."""
    streams = Streams(index)
    await streams.log([attempt("early", "a", 1, T0, delivered=False)])
    document = await index.event("early")
    assert document is not None
    assert {k: document[k] for k in ("source", "type", "received_at", "content_type", "size", "headers", "routing")} \
        == dict.fromkeys(("source", "type", "received_at", "content_type", "size", "headers", "routing"))
    assert (document["status"], document["archived"], document["replay"]) == ("failing", False, False)
    assert (await index.search(EventQuery())).items == []  # listed once its received_at is known
    await streams.log([routed("early", "a")])
    assert [item["id"] for item in (await index.search(EventQuery())).items] == ["early"]


async def test_text_with_nul_characters_is_stored(index: Index) -> None:
    streams = Streams(index)
    odd = Attempt(event_id="evt", destination="a", attempt=1, at=T0, duration_ms=1, delivered=False,
                  reason="http_status", status=500, error="bad\x00error", response="\x00\x01binary")
    await streams.log([routed("evt", "a"), odd])
    document = await index.event("evt")
    assert document is not None and document["deliveries"][0]["attempts"][0]["error"].startswith("bad")


async def test_a_shared_postgresql_index_is_written_by_one_connection_at_a_time(postgres_schema: str) -> None:
    first, second = await open_index(postgres_schema), await open_index(postgres_schema)
    try:
        assert first.shared and await first.try_lock()
        assert not await second.try_lock()
        with pytest.raises(CursorsMoved):  # no lock, no writes
            await second.apply(Batch(archived=[archived("evt")], cursors={ARCHIVE: 1}), {})
        await first.close()
        assert await second.try_lock() and await second.holds_lock()
        await second.apply(Batch(archived=[archived("evt")], cursors={ARCHIVE: 1}), {})
    finally:
        await second.close()


def test_every_combination_of_filters_builds_a_valid_query() -> None:
    """EventQuery takes every combination of its filters; limits and statuses outside their sets are refused."""
    for fields in itertools.product([None, "x"], repeat=3):
        EventQuery(source=fields[0], type=fields[1], destination=fields[2])
    EventQuery(status="received")
    EventQuery(destination="a", status="dead")
    for bad in ({"limit": 0}, {"limit": 501}, {"status": "nope"}, {"destination": "a", "status": "received"}):
        with pytest.raises(ValueError):
            EventQuery(**bad)
