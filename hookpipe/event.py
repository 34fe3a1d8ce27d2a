"""The event: one webhook as the provider sent it, its raw body untouched, plus its metadata.

Plain data with no transport attached; hookpipe.amqp.codec carries it to and from AMQP messages.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field, replace

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
    resend: bool = False  # an operator's resend of one delivery (`POST /api/v1/events/{id}/resend`); a replay too
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

    def with_attempt(self, attempt: int) -> Event:
        return replace(self, attempt=attempt)


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
