"""Outgoing AMQP messages, with their properties encoded for the wire in one pass.

Every hookpipe publish goes through `Publisher.publish` with an `Outgoing` built here. aio-pika's `Message` and
pamqp's generic property encoder cost tens of microseconds per event (they convert, validate and dispatch every
field and every header by type); hookpipe publishes a few known shapes, so this module writes the AMQP 0-9-1
content-header property list directly (spec §4.2.6.1, RabbitMQ's field-table types) and hands the bytes to
aiormq. Header values of the common types (str, int, bool, nested dicts) are encoded here, byte for byte as
pamqp encodes them (table keys sorted, the smallest integer type); anything else (the lists and timestamps of a
broker's `x-death`, floats) goes to pamqp's own encoder, so any header a consumed message carried can be copied.

Copying any type is not storing any type: a RabbitMQ 3.10 stream (the archive) drops nested tables and arrays
from a message's headers and closes the connection of a publish carrying a decimal. What reaches the archive is
built by hookpipe/event.py, whose headers are strings, integers and booleans only (docs/architecture.md, "What
flows"); nested tables are encoded here for the copies of consumed messages (dead letters, `hookpipe dlq`).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pamqp import encode as pamqp_encode

#: AMQP delivery mode 2: the broker writes the message to disk. hookpipe publishes nothing transient.
PERSISTENT = 2

# Property flags, in the order the properties follow the flag word (AMQP 0-9-1 basic class).
_CONTENT_TYPE = 1 << 15
_CONTENT_ENCODING = 1 << 14
_HEADERS = 1 << 13
_DELIVERY_MODE = 1 << 12
_PRIORITY = 1 << 11
_CORRELATION_ID = 1 << 10
_MESSAGE_ID = 1 << 7
_TIMESTAMP = 1 << 6
_TYPE = 1 << 5
_APP_ID = 1 << 3

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class EncodedProperties:
    """A message's basic properties, already encoded: what aiormq's publish reads of `pamqp`'s
    `Basic.Properties` (its `message_id`, and `marshal()` when it writes the content header)."""

    __slots__ = ("_encoded", "message_id")

    def __init__(self, message_id: str, encoded: bytes) -> None:
        self.message_id = message_id
        self._encoded = encoded

    def marshal(self) -> bytes:
        return self._encoded


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A persistent message ready to publish: the body as is, and its encoded properties."""

    body: bytes
    properties: EncodedProperties

    @property
    def message_id(self) -> str:
        return self.properties.message_id


def outgoing(
    body: bytes,
    *,
    message_id: str | None,
    headers: dict[str, Any] | None = None,
    content_type: str | None = None,
    content_encoding: str | None = None,
    type: str | None = None,
    timestamp: int | datetime | None = None,
    correlation_id: str | None = None,
    app_id: str | None = None,
    priority: int | None = None,
) -> Outgoing:
    """A persistent message. `timestamp` is Unix seconds (or a datetime, UTC when naive); empty strings and empty header
    tables are left out, as pamqp leaves them out. Raises TypeError or ValueError on a value AMQP cannot carry (a
    short string over 255 bytes, an unknown header type), before anything is sent."""
    if not message_id:
        # Returns are matched to publishes by message_id: one without (a foreign message being dead-lettered)
        # gets a random one, as aiormq would give it.
        message_id = uuid.uuid4().hex
    flags = _DELIVERY_MODE | _MESSAGE_ID
    parts: list[bytes] = []
    if content_type:
        flags |= _CONTENT_TYPE
        parts.append(short_string(content_type))
    if content_encoding:
        flags |= _CONTENT_ENCODING
        parts.append(short_string(content_encoding))
    if headers:
        flags |= _HEADERS
        parts.append(_table(headers))
    parts.append(b"\x02")  # delivery mode: persistent
    if priority is not None:
        flags |= _PRIORITY
        parts.append(_U8.pack(priority))
    if correlation_id:
        flags |= _CORRELATION_ID
        parts.append(short_string(correlation_id))
    parts.append(short_string(message_id))
    if timestamp is not None:
        flags |= _TIMESTAMP
        if isinstance(timestamp, datetime):
            # A naive datetime is UTC, as pamqp reads it.
            aware = timestamp if timestamp.tzinfo is not None else timestamp.replace(tzinfo=UTC)
            timestamp = int(aware.timestamp())
        parts.append(_U64.pack(timestamp))
    if type:
        flags |= _TYPE
        parts.append(short_string(type))
    if app_id:
        flags |= _APP_ID
        parts.append(short_string(app_id))
    return Outgoing(body, EncodedProperties(message_id, _U16.pack(flags) + b"".join(parts)))


def short_string(value: str) -> bytes:
    """An AMQP short string: one length byte, then at most 255 bytes of UTF-8 (ValueError beyond)."""
    data = value.encode()
    if len(data) > 255:
        raise ValueError(f"AMQP short strings hold at most 255 bytes, not {len(data)}")
    return _U8.pack(len(data)) + data


def _table(table: dict[str, Any]) -> bytes:
    parts = []
    for key in sorted(table):
        parts.append(short_string(key))
        parts.append(_value(table[key]))
    data = b"".join(parts)
    return _U32.pack(len(data)) + data


def _value(value: Any) -> bytes:
    kind = value.__class__  # exact types: a bool is an int to isinstance
    if kind is str:
        data = value.encode()
        return b"S" + _U32.pack(len(data)) + data
    if kind is bool:
        return b"t\x01" if value else b"t\x00"
    if kind is int:
        return _integer(value)
    if kind is dict:
        return b"F" + _table(value) if value else b"F\x00\x00\x00\x00"
    return pamqp_encode.encode_table_value(value)


def _integer(value: int) -> bytes:
    """The smallest table integer type that holds `value`, in pamqp's order of preference."""
    if -128 <= value <= 127:
        return b"b" + _I8.pack(value)
    if -32768 <= value <= 32767:
        return b"s" + _I16.pack(value)
    if 0 <= value <= 65535:
        return b"u" + _U16.pack(value)
    if -2147483648 <= value <= 2147483647:
        return b"I" + _I32.pack(value)
    if 0 <= value <= 4294967295:
        return b"i" + _U32.pack(value)
    return b"l" + _I64.pack(value)
