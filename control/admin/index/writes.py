"""Writing the index: a batch of stream messages with its cursors in one transaction, retention, reset.

Blocking functions of a Database, called from the Index's worker thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from control.admin.index.database import Database
from control.admin.index.merge import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    ArchivedEvent,
    AttemptMark,
    DeliveryRow,
    EventRow,
    Merge,
    Position,
)
from hookpipe.delivery_log import Attempt, DeadLettered, Record, Routed

#: Ids per `IN (...)` list: well under SQLite's and PostgreSQL's limits on parameters.
IDS_PER_QUERY = 500

#: Events retention deletes per transaction, so a large deletion never holds the index for long.
RETENTION_CHUNK = 2000

#: The tables, children first (the order retention and reset empty them in).
TABLES = ("attempts", "deliveries", "events", "cursors")


class CursorsMoved(Exception):
    """The stored cursors are not where this indexer left them: the index was reset, or another indexer wrote."""


@dataclass(slots=True)
class Batch:
    """Messages of both streams to index together: the archived events, the delivery-log records with their log
    positions, and per stream the offset to read next once they are in."""

    archived: list[ArchivedEvent] = field(default_factory=list)
    records: list[tuple[Position, Record]] = field(default_factory=list)
    cursors: dict[str, int] = field(default_factory=dict)

    def event_ids(self) -> set[str]:
        return {event.id for event in self.archived} | {record.event_id for _, record in self.records}


def _upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")


UPSERT_EVENT = _upsert("events", EVENT_COLUMNS, ("id",))
UPSERT_DELIVERY = _upsert("deliveries", DELIVERY_COLUMNS, ("event_id", "destination"))
UPSERT_CURSOR = _upsert("cursors", ("stream", "next_offset"), ("stream",))
INSERT_ATTEMPT = (f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in ATTEMPT_COLUMNS)}) ON CONFLICT (log_offset, log_index) DO NOTHING")


def chunks(items: Sequence[Any], size: int = IDS_PER_QUERY) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def marks(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def read_cursors(database: Database) -> dict[str, int]:
    return {stream: int(offset) for stream, offset in database.execute("SELECT stream, next_offset FROM cursors")}


def event_row(values: Sequence[Any]) -> EventRow:
    row = EventRow(*values)
    row.replay = bool(row.replay)  # SQLite gives 0 or 1
    return row


def _load(database: Database, event_ids: Iterable[str]) -> Merge:
    """The stored rows of these events, and what the status rules need of their attempts."""
    events: list[EventRow] = []
    deliveries: list[DeliveryRow] = []
    attempts: list[AttemptMark] = []
    for ids in chunks(sorted(event_ids)):
        where = f"IN ({marks(len(ids))})"
        events += [event_row(values) for values in
                   database.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id {where}", ids)]
        deliveries += [DeliveryRow(*values) for values in database.execute(
            f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM deliveries WHERE event_id {where}", ids)]
        attempts += [
            AttemptMark(event_id, destination, (at, offset, index), bool(delivered))
            for event_id, destination, at, offset, index, delivered in database.execute(
                "SELECT event_id, destination, at, log_offset, log_index, delivered FROM attempts "
                f"WHERE event_id {where}", ids)
        ]
    return Merge.of(events, deliveries, attempts)


def apply_batch(database: Database, batch: Batch, committed: dict[str, int]) -> Counter[str]:
    """Write `batch` and its cursors in one transaction, if this connection still holds the indexer's lock and the
    stored cursors of its streams are still `committed` (else CursorsMoved, and nothing is written); then
    `committed` takes the new cursors. Returns
    the records written by kind (archived, routed, attempt, dead)."""
    written: Counter[str] = Counter()
    if not database.holds_lock():  # PostgreSQL reconnected since: another replica may be indexing now
        raise CursorsMoved("the indexer's lock went with its database connection")
    with database.transaction():
        stored = read_cursors(database)
        if any(stored.get(stream) != committed.get(stream) for stream in batch.cursors):
            raise CursorsMoved(f"stored cursors {stored}, expected {committed}")
        merge = _load(database, batch.event_ids())
        for event in batch.archived:
            merge.archived(event)
            written["archived"] += 1
        for position, record in batch.records:
            if isinstance(record, Routed):
                merge.routed(record, position)
            elif isinstance(record, Attempt):
                merge.attempt(record, position)
            elif isinstance(record, DeadLettered):
                merge.dead(record, position)
            written[record.kind.value] += 1
        events, deliveries = merge.settle()
        database.executemany(UPSERT_EVENT, [row.values() for row in events])
        database.executemany(UPSERT_DELIVERY, [row.values() for row in deliveries])
        database.executemany(INSERT_ATTEMPT, merge.new_attempts)
        database.executemany(UPSERT_CURSOR, sorted(batch.cursors.items()))
    committed.update(batch.cursors)
    return written


def cursors_are(database: Database, committed: dict[str, int]) -> bool:
    """Whether the stored cursors are still `committed` (checked from the worker thread, in order with batches)."""
    stored = read_cursors(database)
    return all(stored.get(stream) == offset for stream, offset in committed.items()) and stored.keys() <= \
        committed.keys()


def delete_expired(database: Database, cutoff: int) -> int:
    """Delete up to RETENTION_CHUNK events received before `cutoff` (UTC ms), with their deliveries and attempts,
    in one transaction; events known only from delivery records count from when a record first named them.
    Returns how many events went: less than RETENTION_CHUNK means none is left."""
    with database.transaction():
        ids = [row[0] for row in database.execute(
            "SELECT id FROM events WHERE received_at < ? ORDER BY received_at LIMIT ?", (cutoff, RETENTION_CHUNK))]
        if len(ids) < RETENTION_CHUNK:
            ids += [row[0] for row in database.execute(
                "SELECT id FROM events WHERE received_at IS NULL AND seen_at < ? LIMIT ?",
                (cutoff, RETENTION_CHUNK - len(ids)))]
        for chunk in chunks(ids):
            for table, column in (("attempts", "event_id"), ("deliveries", "event_id"), ("events", "id")):
                database.execute(f"DELETE FROM {table} WHERE {column} IN ({marks(len(chunk))})", chunk)
    return len(ids)


def reset(database: Database) -> None:
    """Empty every table, cursors included: the indexer then reads both streams from their start again."""
    with database.transaction():
        if database.postgres:  # waits for a batch in progress (its locks), and is instant on millions of rows
            database.execute(f"TRUNCATE {', '.join(TABLES)}")
        else:
            for table in TABLES:
                database.execute(f"DELETE FROM {table}")
