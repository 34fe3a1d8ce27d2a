"""What a batch of stream messages does to the index's rows, and the status rules: pure logic, no database.

The archive and the delivery log are two streams, and the log is written by many routers and deliverers, so an
event's records may arrive in any order: an attempt before the routing decision, both before the archived event.
Every merge here is order-free. The archive's copy of an event is its metadata (the first copy, by archive
offset, when a provider's retry was archived twice; until it comes, the routing decision's). The routing
decision shown is the latest (by its `at`, then its log position); a delivery's status comes from its latest
attempt or dead letter, by the same order. So the rows after a set of messages are the same whatever order the
messages came in, and applying a message twice changes nothing (attempts are kept by their log position).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from control.admin.index.query import DeliveryStatus, EventStatus
from hookpipe.delivery_log import Attempt, DeadLettered, Decision, Routed

#: Where a delivery-log record is: its stream message's offset and its index in that message's records.
Position = tuple[int, int]

#: What orders records about one event: their time, then their place in the log.
Order = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    """The archive's copy of an event, without its body (the index keeps only where to read it)."""

    id: str
    source: str
    type: str | None
    received_at: int  # UTC ms
    content_type: str | None
    size: int  # body bytes
    headers: dict[str, str]
    offset: int  # in the archive stream


#: The columns of `events`, in the order EventRow's fields have them.
EVENT_COLUMNS = ("id", "source", "type", "received_at", "content_type", "size", "headers", "archive_offset",
                 "replay", "decision", "routes", "destinations", "reason", "routed_at", "routed_offset",
                 "routed_index", "status", "seen_at")


@dataclass(slots=True)
class EventRow:
    """One row of `events`. `received_at` is None while only delivery records name the event; `seen_at` is the
    earliest time any record gave it, which retention uses for such rows."""

    id: str
    source: str | None = None
    type: str | None = None
    received_at: int | None = None
    content_type: str | None = None
    size: int | None = None
    headers: str | None = None  # a JSON object, as archived
    archive_offset: int | None = None
    replay: bool = False  # routed or delivered again by a replay or a resend
    decision: str | None = None  # the latest routing decision (hookpipe.delivery_log.Decision)
    routes: str | None = None  # a JSON array
    destinations: str | None = None  # a JSON array
    reason: str | None = None
    routed_at: int | None = None
    routed_offset: int | None = None
    routed_index: int | None = None
    status: str = EventStatus.RECEIVED
    seen_at: int = 0

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, column) for column in EVENT_COLUMNS)


#: The columns of `deliveries`, in the order DeliveryRow's fields have them.
DELIVERY_COLUMNS = ("event_id", "destination", "status", "attempts", "last_at", "received_at", "dead_reason",
                    "dead_at", "dead_attempts", "dead_offset", "dead_index")


@dataclass(slots=True)
class DeliveryRow:
    """One row of `deliveries`: an event to one destination. `received_at` is the event's, copied so a search by
    destination reads this table alone; `dead_*` is the latest dead letter, kept after a resend as history."""

    event_id: str
    destination: str
    status: str = DeliveryStatus.PENDING
    attempts: int = 0
    last_at: int | None = None  # the latest attempt's or dead letter's time
    received_at: int | None = None
    dead_reason: str | None = None
    dead_at: int | None = None
    dead_attempts: int | None = None
    dead_offset: int | None = None
    dead_index: int | None = None

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, column) for column in DELIVERY_COLUMNS)

    @property
    def dead_order(self) -> Order | None:
        if self.dead_at is None or self.dead_offset is None or self.dead_index is None:
            return None
        return self.dead_at, self.dead_offset, self.dead_index


#: The columns of `attempts`, in the order attempt_values gives them.
ATTEMPT_COLUMNS = ("log_offset", "log_index", "event_id", "destination", "attempt", "at", "duration_ms",
                   "delivered", "reason", "status", "error", "response", "replay", "resend")


def attempt_values(record: Attempt, position: Position) -> tuple[object, ...]:
    return (*position, record.event_id, record.destination, record.attempt, record.at, record.duration_ms,
            record.delivered, record.reason, record.status, record.error, record.response, record.replay,
            record.resend)


@dataclass(frozen=True, slots=True)
class AttemptMark:
    """What the status rules need of one stored attempt."""

    event_id: str
    destination: str
    order: Order
    delivered: bool


def delivery_status(latest_attempt: AttemptMark | None, dead: Order | None) -> DeliveryStatus:
    """The latest record decides: a dead letter, else a delivered or failed attempt; none yet is pending."""
    if dead is not None and (latest_attempt is None or dead > latest_attempt.order):
        return DeliveryStatus.DEAD
    if latest_attempt is None:
        return DeliveryStatus.PENDING
    return DeliveryStatus.DELIVERED if latest_attempt.delivered else DeliveryStatus.FAILING


def event_status(decision: str | None, deliveries: Iterable[str]) -> EventStatus:
    """Dead if the router dead-lettered it or any delivery is dead; else failing, pending, delivered as its
    deliveries are (the worst first); with none, unrouted when no route matched, received before any decision."""
    statuses = set(deliveries)
    if decision == Decision.DEAD or DeliveryStatus.DEAD in statuses:
        return EventStatus.DEAD
    for worst in (DeliveryStatus.FAILING, DeliveryStatus.PENDING, DeliveryStatus.DELIVERED):
        if worst in statuses:
            return EventStatus(worst.value)
    if decision is None:
        return EventStatus.RECEIVED
    return EventStatus.UNROUTED


@dataclass(slots=True)
class Merge:
    """The stored rows of the events a batch touches, and the batch applied to them.

    Build it from the rows read in the batch's transaction (`events`, `deliveries`, and the AttemptMarks of every
    attempt of those events), apply each message's contents, then `settle()` for the rows to write.
    """

    events: dict[str, EventRow] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], DeliveryRow] = field(default_factory=dict)
    marks: dict[tuple[str, str], list[AttemptMark]] = field(default_factory=dict)
    known: set[Position] = field(default_factory=set)  # log positions of stored attempts
    new_attempts: list[tuple[object, ...]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, events: Iterable[EventRow], deliveries: Iterable[DeliveryRow],
           marks: Iterable[AttemptMark]) -> Merge:
        merge = cls(events={row.id: row for row in events},
                    deliveries={(row.event_id, row.destination): row for row in deliveries})
        for mark in marks:
            merge.marks.setdefault((mark.event_id, mark.destination), []).append(mark)
            merge.known.add((mark.order[1], mark.order[2]))
        return merge

    def _event(self, event_id: str, seen_at: int) -> EventRow:
        self.touched.add(event_id)
        row = self.events.get(event_id)
        if row is None:
            row = self.events[event_id] = EventRow(id=event_id, seen_at=seen_at)
        row.seen_at = min(row.seen_at, seen_at)
        return row

    def _delivery(self, event_id: str, destination: str) -> DeliveryRow:
        key = (event_id, destination)
        row = self.deliveries.get(key)
        if row is None:
            row = self.deliveries[key] = DeliveryRow(event_id=event_id, destination=destination)
        return row

    def archived(self, event: ArchivedEvent) -> None:
        row = self._event(event.id, event.received_at)
        if row.archive_offset is None or event.offset < row.archive_offset:
            row.archive_offset, row.received_at = event.offset, event.received_at
            row.source, row.type, row.content_type = event.source, event.type, event.content_type
            row.size, row.headers = event.size, orjson.dumps(event.headers).decode()

    def routed(self, record: Routed, position: Position) -> None:
        row = self._event(record.event_id, record.received_at)
        if row.archive_offset is None:  # the archive's copy, when there is one, is the event's metadata
            row.received_at = _earliest(row.received_at, record.received_at)
            row.source, row.type = record.source, record.type
        row.replay = row.replay or record.replay or record.resend
        order = (record.at, *position)
        if row.routed_at is None or order > (row.routed_at, row.routed_offset or 0, row.routed_index or 0):
            row.decision, row.reason, row.routed_at = str(record.decision), record.reason, record.at
            row.routes, row.destinations = _json_list(record.routes), _json_list(record.destinations)
            row.routed_offset, row.routed_index = position
        for destination in record.destinations:
            self._delivery(record.event_id, destination)

    def attempt(self, record: Attempt, position: Position) -> None:
        row = self._event(record.event_id, record.at)
        row.replay = row.replay or record.replay or record.resend
        self._delivery(record.event_id, record.destination)
        if position in self.known:
            return
        self.known.add(position)
        self.new_attempts.append(attempt_values(record, position))
        mark = AttemptMark(record.event_id, record.destination, (record.at, *position), record.delivered)
        self.marks.setdefault((record.event_id, record.destination), []).append(mark)

    def dead(self, record: DeadLettered, position: Position) -> None:
        self._event(record.event_id, record.at)
        row = self._delivery(record.event_id, record.destination)
        order = (record.at, *position)
        if row.dead_order is None or order > row.dead_order:
            row.dead_reason, row.dead_at, row.dead_attempts = record.reason, record.at, record.attempts
            row.dead_offset, row.dead_index = position

    def settle(self) -> tuple[list[EventRow], list[DeliveryRow]]:
        """The touched events and all their deliveries, each status worked out again."""
        deliveries: dict[str, list[DeliveryRow]] = {}
        for row in self.deliveries.values():
            if row.event_id not in self.touched:
                continue
            marks = self.marks.get((row.event_id, row.destination), [])
            latest = max(marks, key=lambda mark: mark.order, default=None)
            row.attempts = len(marks)
            row.status = delivery_status(latest, row.dead_order)
            times = [order[0] for order in (latest.order if latest else None, row.dead_order) if order is not None]
            row.last_at = max(times, default=None)
            row.received_at = self.events[row.event_id].received_at
            deliveries.setdefault(row.event_id, []).append(row)
        events = [self.events[event_id] for event_id in sorted(self.touched)]
        for event in events:
            event.status = event_status(event.decision, (row.status for row in deliveries.get(event.id, [])))
        return events, [row for rows in deliveries.values() for row in rows]


def _earliest(stored: int | None, given: int) -> int:
    return given if stored is None else min(stored, given)


def _json_list(items: Iterable[str]) -> str:
    return orjson.dumps(list(items)).decode()
