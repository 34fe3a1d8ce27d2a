"""The event envelope: one webhook as the provider sent it, and how it rides on AMQP.

The AMQP message body *is* the provider's raw payload, copied and never re-encoded; the metadata travels in
message properties (`message_id`, `content_type`, `type`, `timestamp`) and `x-hookpipe-*` headers
(docs/architecture.md, "What flows"). Every hop reads and writes events through this module only.

Every header value is a string, an integer or a boolean: the archive stream keeps those (and floats, byte
arrays, timestamps and void), but a RabbitMQ 3.10 stream silently drops nested tables and arrays, and a decimal
closes the publishing connection. So the kept inbound headers ride as one string of JSON, not as a table.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from aio_pika.abc import AbstractIncomingMessage

from hookpipe.wire import Outgoing, outgoing

HEADER_SOURCE = "x-hookpipe-source"
HEADER_RECEIVED_AT = "x-hookpipe-received-at"  # UTC milliseconds; the AMQP timestamp has whole seconds only
HEADER_VERIFIED = "x-hookpipe-verified"
#: The kept inbound HTTP headers: a JSON object of lower-case names to strings, left out when there are none.
HEADER_INBOUND = "x-hookpipe-headers-json"
#: The same as a nested table, as written before: read still (messages already in queues), never written again.
HEADER_INBOUND_TABLE = "x-hookpipe-headers"
HEADER_REPLAY = "x-hookpipe-replay"
HEADER_REPLAY_ROUTE = "x-hookpipe-replay-route"  # a replay evaluates only this route
HEADER_REPLAY_DESTINATION = "x-hookpipe-replay-destination"  # a replay keeps only deliveries to this destination
HEADER_ATTEMPT = "x-hookpipe-attempt"  # deliveries: how many attempts came before this one
HEADER_REQUEUED_AT = "x-hookpipe-requeued-at"  # UTC ms a dead letter was replayed: its max_age starts again

#: AMQP short strings (message_id, type, routing keys) hold at most 255 bytes.
MAX_SHORT_STRING = 255


@dataclass(slots=True)
class Event:
    """One webhook. `body` is byte-for-byte what the provider sent; `received_at` is UTC milliseconds."""

    id: str
    source: str
    type: str | None
    received_at: int
    verified: bool
    content_type: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 0
    replay: bool = False
    replay_route: str | None = None
    replay_destination: str | None = None
    requeued_at: int | None = None

    @property
    def age_from(self) -> int:
        """UTC ms a delivery's `max_age` counts from: when received, or when `hookpipe dlq replay` sent it back."""
        return max(self.received_at, self.requeued_at or 0)

    @property
    def routing_key(self) -> str:
        """`{source}.{type}` on the ingested topic exchange (just `{source}` when the type is unknown)."""
        key = f"{self.source}.{self.type}" if self.type else self.source
        return truncate_utf8(key, MAX_SHORT_STRING)

    def to_message(self, *, body: bytes | None = None, attempt: int | None = None) -> Outgoing:
        """A persistent AMQP message carrying this event (optionally with another body, for transforms)."""
        headers: dict[str, Any] = {
            HEADER_SOURCE: self.source,
            HEADER_RECEIVED_AT: self.received_at,
            HEADER_VERIFIED: self.verified,
        }
        if self.headers:
            headers[HEADER_INBOUND] = orjson.dumps(self.headers).decode()
        attempt = self.attempt if attempt is None else attempt
        if attempt:
            headers[HEADER_ATTEMPT] = attempt
        if self.replay:
            headers[HEADER_REPLAY] = True
        if self.replay_route:
            headers[HEADER_REPLAY_ROUTE] = self.replay_route
        if self.replay_destination:
            headers[HEADER_REPLAY_DESTINATION] = self.replay_destination
        if self.requeued_at:
            headers[HEADER_REQUEUED_AT] = self.requeued_at
        return outgoing(
            self.body if body is None else body,
            message_id=self.id,
            type=self.type,
            content_type=self.content_type,
            timestamp=self.received_at // 1000,
            headers=headers,
        )

    @classmethod
    def from_message(cls, message: AbstractIncomingMessage) -> Event:
        """Rebuild the event from an AMQP message; raises MalformedEvent when metadata is missing."""
        headers = message.headers or {}
        source = _text(headers.get(HEADER_SOURCE))
        received_at = headers.get(HEADER_RECEIVED_AT)
        if not message.message_id or not source or not isinstance(received_at, int):
            raise MalformedEvent("message lacks message_id, x-hookpipe-source or x-hookpipe-received-at")
        attempt = headers.get(HEADER_ATTEMPT, 0)
        return cls(
            id=message.message_id,
            source=source,
            type=message.type or None,
            received_at=received_at,
            verified=bool(headers.get(HEADER_VERIFIED, False)),
            content_type=message.content_type or None,
            body=message.body,
            headers=_inbound(headers),
            attempt=attempt if isinstance(attempt, int) else 0,
            replay=bool(headers.get(HEADER_REPLAY, False)),
            replay_route=_text(headers.get(HEADER_REPLAY_ROUTE)) or None,
            replay_destination=_text(headers.get(HEADER_REPLAY_DESTINATION)) or None,
            requeued_at=requeued_at if isinstance(requeued_at := headers.get(HEADER_REQUEUED_AT), int) else None,
        )

    def with_attempt(self, attempt: int) -> Event:
        return replace(self, attempt=attempt)


class MalformedEvent(ValueError):
    """An AMQP message that is not a hookpipe event (published by hand, or by another tool)."""


def _inbound(headers: dict[str, Any]) -> dict[str, str]:
    """The kept inbound headers: from their JSON string, else from the nested table older messages carry."""
    encoded = headers.get(HEADER_INBOUND)
    if encoded is None:
        table = headers.get(HEADER_INBOUND_TABLE)
        return {str(k): _text(v) for k, v in table.items()} if isinstance(table, dict) else {}
    try:
        inbound = orjson.loads(encoded) if isinstance(encoded, str | bytes) else None
    except orjson.JSONDecodeError:
        inbound = None
    if not isinstance(inbound, dict) or not all(isinstance(value, str) for value in inbound.values()):
        raise MalformedEvent(f"{HEADER_INBOUND} is not a JSON object of strings")
    return inbound


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def uuid7(timestamp_ms: int | None = None) -> str:
    """A time-ordered UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    ms = now_ms() if timestamp_ms is None else timestamp_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | rand & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=value))
