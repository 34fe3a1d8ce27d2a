"""Reading the index: searches (keyset pages, newest first) and one event's whole story, as JSON-ready documents.

Blocking functions of a Database, called from the Index's worker thread. Documents give every key always, with
null for what the index does not know, and times as ISO 8601 UTC strings with milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from control.admin.index.database import Database
from control.admin.index.merge import DELIVERY_COLUMNS, EVENT_COLUMNS, DeliveryRow
from control.admin.index.query import EventQuery, Page, decode_cursor, encode_cursor, iso_time
from control.admin.index.writes import event_row, marks

#: What an attempt document holds, in the order of the columns read.
ATTEMPT_FIELDS = ("attempt", "at", "duration_ms", "delivered", "reason", "status", "error", "response", "replay",
                  "resend")


def _filters(query: EventQuery) -> tuple[str, list[Any]]:
    """The FROM, WHERE and ORDER BY clauses of `query` and their parameters. The order is (received_at, id) of
    `deliveries` when a destination is asked for (so one index of it is walked), else of `events`."""
    conditions: list[str] = []
    params: list[Any] = []
    if query.destination is None:
        source = "events e"
        order = ("e.received_at", "e.id")
        for column, value in (("source", query.source), ("type", query.type), ("status", query.status)):
            if value is not None:
                conditions.append(f"e.{column} = ?")
                params.append(value)
    else:
        source = "deliveries d JOIN events e ON e.id = d.event_id"
        order = ("d.received_at", "d.event_id")
        conditions.append("d.destination = ?")
        params.append(query.destination)
        for column, value in (("d.status", query.status), ("e.source", query.source), ("e.type", query.type)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
    conditions.append(f"{order[0]} IS NOT NULL")  # events known only from delivery records are not listed yet
    if query.since is not None:
        conditions.append(f"{order[0]} >= ?")
        params.append(query.since)
    position = decode_cursor(query.cursor) if query.cursor is not None else None
    # One upper bound, the stricter: two would leave the planner to start from the looser one.
    if position is not None and (query.until is None or position[0] < query.until):
        conditions.append(f"({order[0]}, {order[1]}) < (?, ?)")
        params += position
    elif query.until is not None:
        conditions.append(f"{order[0]} < ?")
        params.append(query.until)
    where = " AND ".join(conditions)
    return f"{source} WHERE {where} ORDER BY {order[0]} DESC, {order[1]} DESC", params


def search(database: Database, query: EventQuery) -> Page:
    """A page of matching events, newest first (BadCursor for a cursor this index did not hand out)."""
    body, params = _filters(query)
    rows = database.execute(
        f"SELECT e.id, e.source, e.type, e.received_at, e.status, e.replay FROM {body} LIMIT ?",
        (*params, query.limit + 1))
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    destinations = _destinations(database, [row[0] for row in rows])
    items = [
        {"id": event_id, "source": source, "type": type_, "received_at": iso_time(received_at), "status": status,
         "replay": bool(replay), "destinations": destinations.get(event_id, [])}
        for event_id, source, type_, received_at, status, replay in rows
    ]
    next_cursor = encode_cursor(rows[-1][3], rows[-1][0]) if more else None
    return Page(items=items, next_cursor=next_cursor)


def _destinations(database: Database, event_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    if not event_ids:
        return found
    for event_id, name, status, attempts in database.execute(
        "SELECT event_id, destination, status, attempts FROM deliveries "
        f"WHERE event_id IN ({marks(len(event_ids))}) ORDER BY destination", event_ids,
    ):
        found.setdefault(event_id, []).append({"name": name, "status": status, "attempts": int(attempts)})
    return found


def archive_offset(database: Database, event_id: str) -> int | None:
    rows = database.execute("SELECT archive_offset FROM events WHERE id = ?", (event_id,))
    return None if not rows or rows[0][0] is None else int(rows[0][0])


def event_document(database: Database, event_id: str) -> dict[str, Any] | None:
    """Everything the index knows of one event; None if it knows nothing. Deliveries by destination name, each
    with its attempts in the order they happened (by `at`, then place in the log)."""
    rows = database.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id = ?", (event_id,))
    if not rows:
        return None
    event = event_row(rows[0])
    deliveries = [DeliveryRow(*values) for values in database.execute(
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM deliveries WHERE event_id = ? ORDER BY destination", (event_id,))]
    attempts: dict[str, list[dict[str, Any]]] = {}
    for destination, *values in database.execute(
        f"SELECT destination, {', '.join(ATTEMPT_FIELDS)} FROM attempts WHERE event_id = ? "
        "ORDER BY at, log_offset, log_index", (event_id,),
    ):
        attempts.setdefault(destination, []).append(_attempt(values))
    routing = None
    if event.decision is not None:
        routing = {"decision": event.decision, "routes": _json(event.routes) or [],
                   "destinations": _json(event.destinations) or [], "reason": event.reason,
                   "at": iso_time(event.routed_at)}
    return {
        "id": event.id, "source": event.source, "type": event.type, "received_at": iso_time(event.received_at),
        "content_type": event.content_type, "size": event.size, "headers": _json(event.headers),
        "status": event.status, "replay": event.replay, "archived": event.archive_offset is not None,
        "routing": routing,
        "deliveries": [
            {"destination": row.destination, "status": row.status, "attempts": attempts.get(row.destination, []),
             "dead": None if row.dead_at is None else
             {"reason": row.dead_reason, "at": iso_time(row.dead_at), "attempts": row.dead_attempts}}
            for row in deliveries
        ],
    }


def _attempt(values: Sequence[Any]) -> dict[str, Any]:
    """An attempt record as a document: times in ISO 8601, an empty error or response as null."""
    attempt = dict(zip(ATTEMPT_FIELDS, values, strict=True))
    attempt["at"] = iso_time(attempt["at"])
    for flag in ("delivered", "replay", "resend"):
        attempt[flag] = bool(attempt[flag])
    for text in ("error", "response"):
        attempt[text] = attempt[text] or None
    return attempt


def _json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)
