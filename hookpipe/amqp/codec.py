"""How an event rides on AMQP: the message body *is* the provider's raw payload, copied and never re-encoded;
the metadata travels in message properties (`message_id`, `content_type`, `type`, `timestamp`) and
`x-hookpipe-*` headers (docs/architecture.md, "What flows"). Every hop reads and writes events through this module.

Every header value is a string, an integer or a boolean: the archive stream keeps those (and floats, byte
arrays, timestamps and void), but a RabbitMQ 3.10 stream silently drops nested tables and arrays, and a decimal
closes the publishing connection. So the kept inbound headers ride as one string of JSON, not as a table.
"""

from __future__ import annotations

from typing import Any

import orjson
from aio_pika.abc import AbstractIncomingMessage

from hookpipe.amqp.wire import Outgoing, outgoing
from hookpipe.event import Event

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
HEADER_RESEND = "x-hookpipe-resend"  # a replay of one event to one destination, asked for by an operator
HEADER_ATTEMPT = "x-hookpipe-attempt"  # deliveries: how many attempts came before this one
HEADER_REQUEUED_AT = "x-hookpipe-requeued-at"  # UTC ms a dead letter was replayed: its max_age starts again


def encode_event(event: Event, *, body: bytes | None = None, attempt: int | None = None) -> Outgoing:
    """A persistent AMQP message carrying the event (optionally with another body, for transforms)."""
    headers: dict[str, Any] = {
        HEADER_SOURCE: event.source,
        HEADER_RECEIVED_AT: event.received_at,
        HEADER_VERIFIED: event.verified,
    }
    if event.headers:
        headers[HEADER_INBOUND] = orjson.dumps(event.headers).decode()
    attempt = event.attempt if attempt is None else attempt
    if attempt:
        headers[HEADER_ATTEMPT] = attempt
    if event.replay:
        headers[HEADER_REPLAY] = True
    if event.replay_route:
        headers[HEADER_REPLAY_ROUTE] = event.replay_route
    if event.replay_destination:
        headers[HEADER_REPLAY_DESTINATION] = event.replay_destination
    if event.resend:
        headers[HEADER_RESEND] = True
    if event.requeued_at:
        headers[HEADER_REQUEUED_AT] = event.requeued_at
    return outgoing(
        event.body if body is None else body,
        message_id=event.id,
        type=event.type,
        content_type=event.content_type,
        timestamp=event.received_at // 1000,
        headers=headers,
    )


def decode_event(message: AbstractIncomingMessage) -> Event:
    """Rebuild the event from an AMQP message; raises MalformedEvent when metadata is missing."""
    headers = message.headers or {}
    source = _text(headers.get(HEADER_SOURCE))
    received_at = headers.get(HEADER_RECEIVED_AT)
    if not message.message_id or not source or not isinstance(received_at, int):
        raise MalformedEvent("message lacks message_id, x-hookpipe-source or x-hookpipe-received-at")
    attempt = headers.get(HEADER_ATTEMPT, 0)
    return Event(
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
        resend=bool(headers.get(HEADER_RESEND, False)),
        requeued_at=requeued_at if isinstance(requeued_at := headers.get(HEADER_REQUEUED_AT), int) else None,
    )


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
