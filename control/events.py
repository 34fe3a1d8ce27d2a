"""`hookpipe events show ID`: what happened to an event: when it was received, how it was routed, every delivery
attempt, and where and why it was dead-lettered.

The delivery-log index that `hookpipe admin` keeps (`admin.index`) answers first when it can be read from here (a
PostgreSQL URL, or a SQLite file that exists): the event, its routing decision and every attempt per destination, as
of the last record indexed. When the index does not know the event as archived, the archive stream is read from
`since` (default: its first message) to its end. A stream has no end a consumer is told of, so the read stops at the
first message received after the command started (everything older has been seen), or when no message has come for
ARCHIVE_IDLE_SECONDS (nothing newer was ingested). Each dead queue (every destination's and the router's) is read in
place, bounded by its depth at the start (control.dlq.peek: nothing is removed). Events waiting in a destination's
queue or a retry rung are not looked for: reading them would take them from the deliverer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aio_pika.abc import AbstractConnection

from control.admin.index import open_index
from control.dlq import DeadLetter, dead_queues, peek
from control.table import NONE, clip, format_age, format_table, format_time
from hookpipe.amqp.broker import QueueReader, close_quietly, queue_state
from hookpipe.amqp.codec import HEADER_RECEIVED_AT, HEADER_REPLAY, HEADER_SOURCE
from hookpipe.amqp.topology import Names
from hookpipe.config import Config, redact_url
from hookpipe.config.units import parse_moment
from hookpipe.event import now_ms

#: The archive read ends when no message has come for this long (s).
ARCHIVE_IDLE_SECONDS = 2.0

#: Archive messages in flight to the reader (a stream consumer needs a prefetch; each is acked once read).
ARCHIVE_PREFETCH = 500

#: Exit status of `events show` when the event is in neither the archive nor a dead queue.
EXIT_NOT_FOUND = 3


def stream_offset(since: str | None, now: datetime | None = None) -> str | datetime:
    """`x-stream-offset` for `--since`: `first` (the default), an ISO 8601 time (UTC unless it says otherwise),
    or a duration such as `2h` meaning that long ago. Raises ValueError for anything else."""
    if since in (None, "", "first"):
        return "first"
    assert since is not None
    try:
        return parse_moment(since, now or datetime.now(UTC), naive_is_utc=True)
    except ValueError:
        raise ValueError("--since takes first, a time such as 2026-11-27T06:00:00Z, or a duration such as 2h") from None


@dataclass(frozen=True, slots=True)
class ArchivedCopy:
    """One copy of the event in the archive (a provider's retry that dedup let through is a second copy)."""

    received_at: int | None
    source: str | None
    type: str | None
    content_type: str | None
    size: int
    replay: bool

    def document(self) -> dict[str, Any]:
        return {"received_at": self.received_at, "source": self.source, "type": self.type,
                "content_type": self.content_type, "bytes": self.size, "replay": self.replay}


@dataclass(slots=True)
class ArchiveSearch:
    enabled: bool
    exists: bool = False
    since: str = "first"
    read: int = 0
    copies: list[ArchivedCopy] = field(default_factory=list)


async def search_archive(
    connection: AbstractConnection, config: Config, event_id: str, *, since: str | None = None,
    idle: float = ARCHIVE_IDLE_SECONDS,
) -> ArchiveSearch:
    offset = stream_offset(since)
    search = ArchiveSearch(enabled=config.archive is not None,
                           since=offset if isinstance(offset, str) else format_time(int(offset.timestamp() * 1000)))
    stream = Names.of(config.broker).archive
    if await queue_state(connection, stream) is None:
        return search
    search.exists = True
    started = now_ms()
    channel = await connection.channel(publisher_confirms=False)
    try:
        reader = QueueReader(channel, stream, idle=idle)
        await reader.start(ARCHIVE_PREFETCH, {"x-stream-offset": offset})
        while (message := await reader.next()) is not None:
            search.read += 1
            await message.ack()  # on a stream an ack only grants credit for more
            headers = message.headers or {}
            received_at = headers.get(HEADER_RECEIVED_AT)
            if message.message_id == event_id:
                search.copies.append(ArchivedCopy(
                    received_at=received_at if isinstance(received_at, int) else None,
                    source=str(headers[HEADER_SOURCE]) if HEADER_SOURCE in headers else None,
                    type=message.type or None, content_type=message.content_type or None,
                    size=len(message.body), replay=bool(headers.get(HEADER_REPLAY, False)),
                ))
            if isinstance(received_at, int) and received_at > started:
                break  # ingested after we began: everything before it has been read
    finally:
        await close_quietly(channel)
    return search


@dataclass(slots=True)
class DeadSearch:
    queues: list[dict[str, Any]] = field(default_factory=list)  # per dead queue: depth, read
    letters: list[DeadLetter] = field(default_factory=list)


async def search_dead_letters(connection: AbstractConnection, config: Config, event_id: str) -> DeadSearch:
    search = DeadSearch()
    for queue in dead_queues(config):
        found = await peek(connection, queue)
        search.queues.append({"destination": queue.destination, "queue": queue.queue, "exists": found.exists,
                              "depth": found.depth, "read": len(found.letters)})
        search.letters += [letter for letter in found.letters if letter.id == event_id]
    return search


def index_location(config: Config) -> str | None:
    """The delivery-log index this config names, if it can be read from here."""
    location = config.admin.index
    if location.startswith(("postgresql://", "postgres://")):
        return location
    return location if Path(location).is_file() else None


async def search_index(config: Config, event_id: str) -> dict[str, Any]:
    """The index's document of the event (None when it does not know it), and which index answered."""
    location = index_location(config)
    if location is None:
        return {"index": None, "event": None}
    index = await open_index(location)
    try:
        return {"index": redact_url(location), "event": await index.event(event_id)}
    finally:
        await index.close()


async def locate(connection: AbstractConnection, config: Config, event_id: str, *, since: str | None = None
                 ) -> dict[str, Any]:
    """The `--json` document of `events show`."""
    logged = await search_index(config, event_id)
    if logged["event"] is not None and logged["event"]["archived"]:
        archive = ArchiveSearch(enabled=config.archive is not None)  # the index has it: no need to read the stream
    else:
        archive = await search_archive(connection, config, event_id, since=since)
    dead = await search_dead_letters(connection, config, event_id)
    now = now_ms()
    return {
        "id": event_id,
        "found": bool(archive.copies or dead.letters or logged["event"]),
        "delivery_log": logged,
        "archive": {"enabled": archive.enabled, "exists": archive.exists, "since": archive.since,
                    "read": archive.read, "copies": [copy.document() for copy in archive.copies]},
        "dead_letters": {"queues": dead.queues, "letters": [letter.document(now) for letter in dead.letters]},
    }


def render_location(document: dict[str, Any]) -> str:
    """Received (from the index, else the archive), routed and attempted (the index), dead-lettered (the queues)."""
    lines = [f"event {document['id']}"]
    logged = document["delivery_log"]
    if logged["event"] is None or not document["archive"]["exists"]:
        lines += _render_archive(document["archive"], indexed=logged["event"] is not None)
    lines += render_delivery_log(logged)
    dead = document["dead_letters"]
    read = sum(queue["read"] for queue in dead["queues"])
    if not dead["letters"]:
        lines.append(f"  dead letters: none ({len(dead['queues'])} dead queues, {read} messages read)")
    for letter in dead["letters"]:
        attempts = NONE if letter["attempts"] is None else letter["attempts"]
        status = NONE if letter["status"] is None else letter["status"]
        lines.append(
            f"  dead-lettered for {letter['destination']} {format_time(letter['dead_at'])} "
            f"({format_age(letter['age_s'])} ago): {letter['reason']}, attempts {attempts}, last status {status}"
            + (f", error: {letter['error']}" if letter["error"] else "")
        )
    incomplete = [q for q in dead["queues"] if q["read"] < q["depth"]]
    for queue in incomplete:
        lines.append(f"  (only {queue['read']} of {queue['depth']} dead letters of {queue['destination']} read)")
    if not document["found"]:
        lines.append("  not found")
    return "\n".join(lines)


def _render_archive(archive: dict[str, Any], *, indexed: bool) -> list[str]:
    if indexed and not archive["exists"]:
        return []  # the index knew the event as archived: the stream was not read
    if not archive["exists"]:
        state = "off in the config" if not archive["enabled"] else "stream missing"
        return [f"  archive: not searched ({state})"]
    if not archive["copies"]:
        return [f"  archive: not found ({archive['read']} messages read from {archive['since']})"]
    return [f"  archived {format_time(copy['received_at'])}: source {copy['source']}, type {copy['type'] or NONE}, "
            f"{copy['content_type'] or 'no content type'}, {copy['bytes']} bytes"
            + (", a replay" if copy["replay"] else "") for copy in archive["copies"]]


def render_delivery_log(logged: dict[str, Any]) -> list[str]:
    """The index's account of the event: received, routed, and every attempt per destination."""
    if logged["index"] is None:
        return ["  delivery log: no index to read here (hookpipe admin keeps one: admin.index)"]
    event = logged["event"]
    if event is None:
        return [f"  delivery log: not in the index ({logged['index']})"]
    lines = [f"  received {event['received_at']}: source {event['source']}, type {event['type'] or NONE}, "
             f"{event['content_type'] or 'no content type'}, {event['size'] if event['size'] is not None else NONE}"
             f" bytes; status {event['status']}"]
    routing = event["routing"]
    if routing is None:
        lines.append("  routing: not decided yet")
    elif routing["decision"] == "routed":
        lines.append(f"  routed {routing['at']} by {', '.join(routing['routes'])} to "
                     f"{', '.join(routing['destinations'])}")
    else:
        lines.append(f"  routing: {routing['decision']}" + (f" ({routing['reason']})" if routing["reason"] else ""))
    for delivery in event["deliveries"]:
        lines.append(f"  {delivery['destination']}: {delivery['status']}, {len(delivery['attempts'])} attempts")
        rows = [[attempt["attempt"], attempt["at"], NONE if attempt["status"] is None else attempt["status"],
                 attempt["reason"], f"{attempt['duration_ms']} ms",
                 ("resend " if attempt["resend"] else "replay " if attempt["replay"] else "")
                 + clip(attempt["error"] or attempt["response"] or "", 60)]
                for attempt in delivery["attempts"]]
        if rows:
            lines += ["    " + line for line in format_table(
                ["attempt", "at", "status", "reason", "took", "note"], rows)]
        if delivery["dead"] is not None:
            lines.append(f"    dead-lettered {delivery['dead']['at']}: {delivery['dead']['reason']}")
    return lines
