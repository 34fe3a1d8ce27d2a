"""The delivery log's records: what the router decided for each event, how each delivery attempt went, and
which deliveries were dead-lettered.

The router and the deliverer append them to the `{prefix}.attempts` stream (hookpipe.amqp.recorder), many to a
stream message: one message body is a JSON array of records, each an object whose `kind` says which. `hookpipe
admin` reads the stream into its index, so this module is the contract between them: a field is added, never
renamed, and a reader skips kinds it does not know. A record never holds an event's body, a header's value or a
secret: only ids, names, numbers and short excerpts of what a receiver answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

#: Bytes of a receiver's answer kept with a failed attempt (the deliverer reads at most 4 KiB of it).
RESPONSE_EXCERPT_BYTES = 512

#: Characters of an error description kept with an attempt.
ERROR_EXCERPT_CHARS = 300


class RecordKind(StrEnum):
    ROUTED = "routed"  # the router's decision for one event
    ATTEMPT = "attempt"  # one delivery attempt to one destination
    DEAD = "dead"  # a delivery dead-lettered (after its last attempt, or without one: expired, malformed)


class Decision(StrEnum):
    """What the router did with an event."""

    ROUTED = "routed"  # published to `destinations`
    UNMATCHED = "unmatched"  # no route matched
    DEAD = "dead"  # dead-lettered to the router's dead queue (`reason`)


@dataclass(frozen=True, slots=True)
class Routed:
    event_id: str
    source: str
    type: str | None
    received_at: int  # UTC ms, when ingest accepted it
    at: int  # UTC ms, when the router decided
    decision: Decision
    routes: tuple[str, ...] = ()  # the routes that matched
    destinations: tuple[str, ...] = ()  # the destinations it was published to
    reason: str | None = None  # why it was dead-lettered
    replay: bool = False
    resend: bool = False
    kind: RecordKind = field(default=RecordKind.ROUTED, init=False)


@dataclass(frozen=True, slots=True)
class Attempt:
    event_id: str
    destination: str
    attempt: int  # 1 for the first
    at: int  # UTC ms, when the attempt started
    duration_ms: int
    delivered: bool
    reason: str  # hookpipe.outcomes.AttemptReason: ok, http_status, timeout, ...
    status: int | None = None  # the receiver's HTTP status, if it answered
    error: str = ""  # what went wrong, briefly
    response: str = ""  # the start of a failed answer's body
    replay: bool = False
    resend: bool = False
    kind: RecordKind = field(default=RecordKind.ATTEMPT, init=False)


@dataclass(frozen=True, slots=True)
class DeadLettered:
    event_id: str
    destination: str
    at: int  # UTC ms
    reason: str  # hookpipe.outcomes.DeadLetterReason's value
    attempts: int  # attempts made
    kind: RecordKind = field(default=RecordKind.DEAD, init=False)


Record = Routed | Attempt | DeadLettered

_KINDS: dict[str, type[Routed] | type[Attempt] | type[DeadLettered]] = {
    RecordKind.ROUTED: Routed, RecordKind.ATTEMPT: Attempt, RecordKind.DEAD: DeadLettered,
}


class MalformedRecords(ValueError):
    """A stream message that is not a batch of records."""


def excerpt(response: bytes) -> str:
    """The start of a receiver's answer, as text (undecodable bytes replaced)."""
    return response[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")


def short_error(error: str) -> str:
    return error[:ERROR_EXCERPT_CHARS]


def encode_batch(records: Sequence[Record]) -> bytes:
    # orjson writes dataclasses itself, about ten times faster than dataclasses.asdict and a dumps of its dicts.
    return orjson.dumps(list(records))


def decode_batch(body: bytes) -> list[Record]:
    """The records of one stream message, in the order they were appended; kinds this version does not know are
    skipped. Raises MalformedRecords for anything but a JSON array of records."""
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedRecords(f"not JSON: {error}") from None
    if not isinstance(items, list):
        raise MalformedRecords("not a JSON array")
    records: list[Record] = []
    for item in items:
        if not isinstance(item, dict):
            raise MalformedRecords("an item is not an object")
        kind = _KINDS.get(item.get("kind"))  # type: ignore[arg-type]
        if kind is not None:
            records.append(_record(kind, item))
    return records


def _record(kind: type[Routed] | type[Attempt] | type[DeadLettered], item: dict[str, Any]) -> Record:
    fields = {name: value for name, value in item.items() if name != "kind" and name in kind.__dataclass_fields__}
    for name in ("routes", "destinations"):
        if name in fields:
            fields[name] = tuple(fields[name])
    try:
        return kind(**fields)
    except TypeError as error:
        raise MalformedRecords(f"a {item.get('kind')} record: {error}") from None
