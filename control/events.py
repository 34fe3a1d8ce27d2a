"""`hookpipe events show ID`: where an event is: when it was archived, where and why it was dead-lettered.

The archive stream is read from `since` (default: its first message) to its end. A stream has no end a
consumer is told of, so the read stops at the first message received after the command started (everything
older has been seen), or when no message has come for ARCHIVE_IDLE_SECONDS (nothing newer was ingested).
Each dead queue (every destination's and the router's) is read in place, bounded by its depth at the start
(control.dlq.peek: nothing is removed). Events waiting in a destination's queue or a retry rung are not looked
for: reading them would take them from the deliverer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractConnection

from control.dlq import DeadLetter, dead_queues, peek
from control.table import NONE, format_age, format_time
from hookpipe.amqp.broker import QueueReader, queue_state
from hookpipe.amqp.codec import HEADER_RECEIVED_AT, HEADER_REPLAY, HEADER_SOURCE
from hookpipe.amqp.topology import Names
from hookpipe.config import Config
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
        with contextlib.suppress(Exception):
            await channel.close()
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


async def locate(connection: AbstractConnection, config: Config, event_id: str, *, since: str | None = None
                 ) -> dict[str, Any]:
    """The `--json` document of `events show`."""
    archive = await search_archive(connection, config, event_id, since=since)
    dead = await search_dead_letters(connection, config, event_id)
    now = now_ms()
    return {
        "id": event_id,
        "found": bool(archive.copies or dead.letters),
        "archive": {"enabled": archive.enabled, "exists": archive.exists, "since": archive.since,
                    "read": archive.read, "copies": [copy.document() for copy in archive.copies]},
        "dead_letters": {"queues": dead.queues, "letters": [letter.document(now) for letter in dead.letters]},
    }


def render_location(document: dict[str, Any]) -> str:
    lines = [f"event {document['id']}"]
    archive = document["archive"]
    if not archive["exists"]:
        state = "off in the config" if not archive["enabled"] else "stream missing"
        lines.append(f"  archive: not searched ({state})")
    elif not archive["copies"]:
        lines.append(f"  archive: not found ({archive['read']} messages read from {archive['since']})")
    for copy in archive["copies"]:
        replay = ", a replay" if copy["replay"] else ""
        lines.append(f"  archived {format_time(copy['received_at'])}: source {copy['source']}, "
                     f"type {copy['type'] or NONE}, {copy['content_type'] or 'no content type'}, "
                     f"{copy['bytes']} bytes{replay}")
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
