"""Messages as a consumer reads them: a hookpipe.amqp.wire.Outgoing through pamqp's decoder, without a broker."""

from __future__ import annotations

import aio_pika
import aiormq.abc
from pamqp import commands, frame, header

from hookpipe.amqp.wire import Outgoing


def as_delivered(message: Outgoing | aio_pika.Message, *, routing_key: str = "stripe.invoice.paid",
                 exchange: str = "hookpipe.ingested") -> aio_pika.IncomingMessage:
    """Encode the message's content header frame as it is published and decode it as aio-pika delivers it."""
    properties = message.properties
    encoded = frame.marshal(header.ContentHeader(0, len(message.body), properties), 1)  # type: ignore[arg-type]
    _, _, decoded = frame.unmarshal(encoded)
    assert isinstance(decoded, header.ContentHeader)
    delivered = aiormq.abc.DeliveredMessage(
        delivery=commands.Basic.Deliver(consumer_tag="ctag", delivery_tag=1, routing_key=routing_key,
                                        exchange=exchange),
        header=decoded,
        body=message.body,
        channel=None,  # type: ignore[arg-type]
    )
    return aio_pika.IncomingMessage(delivered, no_ack=True)
