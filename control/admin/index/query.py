"""What a search of the index asks for and what it answers: EventQuery, Page, the statuses, the page cursor.

A page cursor is opaque to callers: it names the last event of a page (its `received_at` and id), and the next
page holds the events after it in the order of the search (newest first). It carries no filter, so a cursor
used with the same filters gives every matching event exactly once across pages, however many events arrive
meanwhile (they are newer, so they sort before the cursor).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

#: Most events one page may hold.
MAX_LIMIT = 500


class EventStatus(StrEnum):
    """Where an event stands, from its routing decision and its deliveries (control.admin.index.merge)."""

    RECEIVED = "received"  # archived, no routing decision recorded yet
    UNROUTED = "unrouted"  # no route matched
    DEAD = "dead"  # the router dead-lettered it, or a delivery is dead
    FAILING = "failing"  # a delivery's latest attempt failed
    PENDING = "pending"  # a delivery has had no attempt yet
    DELIVERED = "delivered"  # every delivery delivered


class DeliveryStatus(StrEnum):
    """Where one delivery (an event to one destination) stands: its latest record decides."""

    PENDING = "pending"  # routed there, no attempt yet
    DELIVERED = "delivered"  # the latest record is a delivered attempt
    FAILING = "failing"  # the latest record is a failed attempt
    DEAD = "dead"  # the latest record is a dead letter


class BadCursor(ValueError):
    """A page cursor this index did not hand out (garbled, truncated, or from something else)."""


@dataclass(frozen=True)
class EventQuery:
    """A search: every field optional, all given ones must hold. Times are UTC milliseconds, `since` inclusive and
    `until` exclusive, on the event's `received_at`. `status` is the event's status, or with `destination` that
    destination's delivery status. `cursor` is a Page's `next_cursor`. Raises ValueError for a `limit` outside
    1..MAX_LIMIT or a status that is not one (an event status, or a delivery status with `destination`)."""

    source: str | None = None
    type: str | None = None
    destination: str | None = None
    status: str | None = None
    since: int | None = None
    until: int | None = None
    cursor: str | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.status is None:
            return
        known = DeliveryStatus if self.destination is not None else EventStatus
        if self.status not in set(known):
            kind = "a delivery" if self.destination is not None else "an event"
            raise ValueError(f"status {self.status!r} is not {kind} status: one of {', '.join(known)}")


@dataclass(frozen=True)
class Page:
    """One page of a search, newest first; `next_cursor` is None on the last page."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(received_at: int, event_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([received_at, event_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(received_at, id) of the event a page ended with; BadCursor for anything encode_cursor did not make."""
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
        raise BadCursor("not a page cursor") from None
    match position:
        case [int() as received_at, str() as event_id] if not isinstance(received_at, bool):
            return received_at, event_id
    raise BadCursor("not a page cursor")


def iso_time(ms: int | None) -> str | None:
    """UTC milliseconds as ISO 8601 with milliseconds and a Z: `2026-12-04T06:50:00.123Z` (None stays None)."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
