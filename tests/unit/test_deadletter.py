"""A dead letter is the original message, untouched, plus why it died: every property a publisher may set
survives into the dead queue and back out of it (hookpipe dlq replays with the same copy)."""

from __future__ import annotations

import aio_pika

from control.dlq import requeued_message
from hookpipe.amqp.deadletter import HEADER_REASON, dead_letter
from hookpipe.outcomes import DeadLetterReason
from tests.support.wire import as_delivered

PROPERTIES = {
    "content_type": "application/xml",
    "content_encoding": "identity",
    "message_id": "evt_1",
    "correlation_id": "corr-7",
    "type": "invoice.paid",
    "app_id": "partner-app",
    "priority": 3,
}


def original() -> aio_pika.IncomingMessage:
    return as_delivered(aio_pika.Message(b"<invoice/>", headers={"x-hookpipe-source": "stripe"}, **PROPERTIES))


def test_a_dead_letter_keeps_the_body_every_property_and_the_headers_and_adds_its_reason() -> None:
    dead = as_delivered(dead_letter(original(), DeadLetterReason.EXHAUSTED, error="HTTP 500"))

    assert dead.body == b"<invoice/>"
    assert {name: getattr(dead, name) for name in PROPERTIES} == PROPERTIES
    assert dead.headers["x-hookpipe-source"] == "stripe"
    assert dead.headers[HEADER_REASON] == "exhausted"


def test_a_dead_letter_put_back_in_its_queue_is_the_same_message() -> None:
    dead = as_delivered(dead_letter(original(), DeadLetterReason.EXPIRED))

    again = as_delivered(requeued_message(dead))

    assert again.body == dead.body
    assert {name: getattr(again, name) for name in PROPERTIES} == PROPERTIES
    assert again.headers == dead.headers
