"""Dead letters: the original message, untouched, plus why it died, as `x-hookpipe-dead-*` headers.

Router and deliverer both build them here, so `hookpipe dlq` reads one format.
"""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from hookpipe.amqp.wire import Outgoing, outgoing
from hookpipe.event import now_ms
from hookpipe.outcomes import DeadLetterReason, RouterDeadLetterReason

HEADER_REASON = "x-hookpipe-dead-reason"
HEADER_ERROR = "x-hookpipe-dead-error"
HEADER_STATUS = "x-hookpipe-dead-status"
HEADER_RESPONSE = "x-hookpipe-dead-response"  # the first 4 KiB of the last response body
HEADER_ATTEMPTS = "x-hookpipe-dead-attempts"
HEADER_AT = "x-hookpipe-dead-at"  # UTC milliseconds

#: Bytes of a failed response body kept with a dead letter.
RESPONSE_EXCERPT = 4096


def dead_letter(
    message: AbstractIncomingMessage,
    reason: RouterDeadLetterReason | DeadLetterReason,
    *,
    error: str = "",
    status: int | None = None,
    response: bytes = b"",
    attempts: int | None = None,
) -> Outgoing:
    """A persistent copy of `message` carrying the reason it was dead-lettered."""
    headers: dict[str, Any] = dict(message.headers or {})
    headers[HEADER_REASON] = reason.value  # a plain str: hookpipe.amqp.wire encodes exact types only
    headers[HEADER_AT] = now_ms()
    if error:
        headers[HEADER_ERROR] = error[:1000]
    if status is not None:
        headers[HEADER_STATUS] = status
    if response:
        headers[HEADER_RESPONSE] = bytearray(response[:RESPONSE_EXCERPT])  # AMQP byte array (table type x)
    if attempts is not None:
        headers[HEADER_ATTEMPTS] = attempts
    return copy_message(message, headers)


def copy_message(message: AbstractIncomingMessage, headers: dict[str, Any]) -> Outgoing:
    """A persistent copy of `message` with these `headers`: its body and every property a publisher may set.
    Dead letters are built with it, and `hookpipe dlq` copies them back with it, so nothing is lost either way."""
    # user_id is left out: the broker refuses a publish whose user_id is not the publishing user.
    return outgoing(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
        priority=message.priority,
    )
