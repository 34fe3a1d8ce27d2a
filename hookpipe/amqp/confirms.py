"""Publishing with confirms on one channel, pipelined: many publishes in flight, their frames written together.

aiormq's `basic_publish` marshals each publish through pamqp's generic frame encoder and queues it for its own
socket write (at most ten queued), under the channel lock and two async context managers. At a few thousand
events/s that overhead is as large as ingest's own work. This module keeps aiormq's connection, channel and
confirm bookkeeping (delivery tags, the returns matched by message_id, futures rejected when the channel closes)
and replaces only the send: a publish takes its delivery tag and confirm future synchronously, appends its three
frames (method, content header, body) to a batch, and one flush per event-loop turn hands the whole batch to
aiormq's writer as a single write. The broker confirms each publish as before; nothing is considered sent until
its confirm arrives.

It relies on aiormq 7's channel attributes (`delivery_tag`, `confirmations`, `message_id_delivery_tag`,
`write_queue`, `max_content_size`); pyproject.toml pins the major version and tests/integration/test_confirms.py
covers every path against a real broker.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import aiormq
import aiormq.abc
import aiormq.exceptions

from hookpipe.amqp.wire import Outgoing, short_string

_FRAME_METHOD, _FRAME_HEADER, _FRAME_BODY = 1, 2, 3
_FRAME_END = b"\xce"
_BASIC_PUBLISH = struct.pack(">HHH", 60, 40, 0)  # class basic, method publish, reserved ticket
_FRAME_START = struct.Struct(">BHI")
_CONTENT_HEADER_START = struct.Struct(">HHQ")  # class basic, weight 0, body size
_MANDATORY = b"\x01"


class ChannelGone(Exception):
    """The channel closed before or while a publish was on its way; the publish may or may not have arrived."""


class ConfirmedChannel:
    """Publishes on `channel` (an aiormq channel opened with publisher confirms and on_return_raises), which
    must publish through nothing else: the delivery tags are counted here."""

    def __init__(self, channel: aiormq.Channel) -> None:
        self.channel = channel
        self._batch: list[bytes] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def is_closed(self) -> bool:
        return self.channel.is_closed

    def close(self) -> None:
        """Stop flushing (the channel is being replaced or closed); publishes still waiting fail with it."""
        if self._flusher is not None:
            self._flusher.cancel()

    async def publish(self, message: Outgoing, *, exchange: str, routing_key: str) -> None:
        """Publish `message` (mandatory) and wait for its confirm. Raises aiormq's PublishError when it is
        returned, DeliveryError when nacked, ChannelGone when the channel closes first. The caller bounds the
        wait (asyncio.timeout); a publish given up on may still be delivered."""
        confirmation = self._send(message, exchange, routing_key)
        try:
            await confirmation
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if confirmation.cancelled() and (task is None or not task.cancelling()):
                raise ChannelGone("the channel closed before the confirm") from None
            raise
        except (aiormq.exceptions.PublishError, aiormq.exceptions.DeliveryError):
            raise
        except Exception as error:  # the channel or connection closed: aiormq rejects every pending confirm
            raise ChannelGone(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__) from None

    def _send(self, message: Outgoing, exchange: str, routing_key: str) -> asyncio.Future[Any]:
        channel = self.channel
        if channel.is_closed:
            raise ChannelGone("the channel is closed")
        # Encoded before the delivery tag is taken: a publish that cannot be encoded must not use up a tag, or
        # every later confirm would be matched to the wrong publish.
        frames = self._frames(message, exchange, routing_key)
        channel.delivery_tag += 1
        tag = channel.delivery_tag
        message_id = message.properties.message_id
        confirmation = channel.create_future()
        channel.confirmations[tag] = confirmation
        channel.message_id_delivery_tag[message_id] = tag

        def forget_message_id(_: asyncio.Future[Any]) -> None:
            if channel.message_id_delivery_tag.get(message_id) == tag:
                del channel.message_id_delivery_tag[message_id]

        confirmation.add_done_callback(forget_message_id)
        self._batch += frames
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return confirmation

    def _frames(self, message: Outgoing, exchange: str, routing_key: str) -> list[bytes]:
        """The publish's method, content header and body frames, as pieces the flush joins once."""
        number = self.channel.number
        method = _BASIC_PUBLISH + short_string(exchange) + short_string(routing_key) + _MANDATORY
        body = message.body
        header = _CONTENT_HEADER_START.pack(60, 0, len(body)) + message.properties.marshal()
        parts = [_FRAME_START.pack(_FRAME_METHOD, number, len(method)), method, _FRAME_END,
                 _FRAME_START.pack(_FRAME_HEADER, number, len(header)), header, _FRAME_END]
        size = self.channel.max_content_size  # the negotiated frame_max, less the frame's own bytes
        for start in range(0, len(body), size):
            chunk = body[start:start + size]
            parts += (_FRAME_START.pack(_FRAME_BODY, number, len(chunk)), chunk, _FRAME_END)
        return parts

    async def _flush(self) -> None:
        """Runs one loop turn after the first publish of a batch, so every publish made meanwhile joins it; keeps
        flushing until no batch is left (a full write queue makes later publishes gather behind it)."""
        try:
            while self._batch:
                payload = b"".join(self._batch)
                self._batch.clear()
                if self.channel.is_closed:  # the futures were rejected with the close; never write to a dead channel
                    return
                await self.channel.write_queue.put(aiormq.abc.ChannelFrame(payload=payload, should_close=False))
        finally:
            self._flusher = None
            self._batch.clear()

