"""The event envelope (docs/architecture.md, "What flows"): ids, routing keys, and how an event rides on AMQP."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

import aio_pika
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookpipe.amqp.codec import (
    HEADER_ATTEMPT,
    HEADER_INBOUND,
    HEADER_INBOUND_TABLE,
    HEADER_RECEIVED_AT,
    HEADER_REPLAY,
    HEADER_SOURCE,
    HEADER_VERIFIED,
    MalformedEvent,
    decode_event,
    encode_event,
)
from hookpipe.event import MAX_SHORT_STRING, Event, now_ms, truncate_utf8, uuid7
from tests.support.wire import as_delivered

RECEIVED_AT = 1_700_000_000_123


def make_event(**changes: object) -> Event:
    fields: dict[str, object] = {
        "id": "evt_1NqLzL2eZvKYlo2C",
        "source": "stripe",
        "type": "invoice.paid",
        "received_at": RECEIVED_AT,
        "verified": True,
        "content_type": "application/json",
        "body": b'{"id": "evt_1", "amount": 5.0}\n',
        "headers": {"user-agent": "Stripe/1.0", "x-trace": "abc"},
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


# --- uuid7 ---------------------------------------------------------------------------------------------


def test_uuid7_is_a_canonical_version_7_rfc_variant_uuid() -> None:
    text = uuid7()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
    parsed = uuid.UUID(text)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_uuid7_embeds_the_unix_milliseconds() -> None:
    assert uuid.UUID(uuid7(RECEIVED_AT)).int >> 80 == RECEIVED_AT
    before = now_ms()
    embedded = uuid.UUID(uuid7()).int >> 80
    assert before <= embedded <= now_ms()
    assert abs(embedded - time.time() * 1000) < 5000


def test_uuid7_sorts_by_time() -> None:
    ids = [uuid7(RECEIVED_AT + offset) for offset in range(0, 2000, 7)]
    assert sorted(ids) == ids


def test_uuid7_calls_a_millisecond_apart_are_ordered() -> None:
    ids = []
    for _ in range(5):
        ids.append(uuid7())
        time.sleep(0.002)
    assert sorted(ids) == ids


def test_uuid7_is_unique_within_one_millisecond() -> None:
    ids = {uuid7(RECEIVED_AT) for _ in range(2000)}
    assert len(ids) == 2000


# --- routing key and truncation ------------------------------------------------------------------------


def test_routing_key_is_source_dot_type() -> None:
    assert make_event().routing_key == "stripe.invoice.paid"


def test_routing_key_without_type_is_the_source() -> None:
    assert make_event(type=None).routing_key == "stripe"


def test_routing_key_fits_an_amqp_short_string_without_splitting_a_character() -> None:
    key = make_event(type="é" * 300).routing_key
    encoded = key.encode()
    assert len(encoded) <= MAX_SHORT_STRING
    assert len(encoded) >= MAX_SHORT_STRING - 3
    assert key.startswith("stripe.éé")


def test_truncate_utf8_keeps_short_text() -> None:
    assert truncate_utf8("invoice.paid", 255) == "invoice.paid"
    assert truncate_utf8("x" * 255, 255) == "x" * 255


def test_truncate_utf8_cuts_at_a_byte_limit() -> None:
    assert truncate_utf8("x" * 300, 255) == "x" * 255


@pytest.mark.parametrize("character", ["é", "€", "😀"])
def test_truncate_utf8_never_splits_a_character(character: str) -> None:
    for limit in range(1, 12):
        cut = truncate_utf8("a" + character * 5, limit)
        assert len(cut.encode()) <= limit
        assert ("a" + character * 5).startswith(cut)
        assert len(cut.encode()) > limit - len(character.encode())


# --- AMQP message --------------------------------------------------------------------------------------


def test_encode_event_is_persistent_and_carries_the_metadata_in_properties() -> None:
    event = make_event()
    message = as_delivered(encode_event(event))
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id == event.id
    assert message.type == "invoice.paid"
    assert message.content_type == "application/json"
    assert message.timestamp == datetime.fromtimestamp(RECEIVED_AT // 1000, UTC)


def test_encode_event_body_is_the_raw_payload_byte_for_byte() -> None:
    body = b"\xef\xbb\xbf{ \"a\" : 1 }\r\n\x00\xff"
    assert encode_event(make_event(body=body)).body == body


def test_encode_event_headers_carry_source_received_at_verified_and_inbound_headers() -> None:
    headers = as_delivered(encode_event(make_event(verified=False))).headers
    assert headers == {
        HEADER_SOURCE: "stripe",
        HEADER_RECEIVED_AT: RECEIVED_AT,
        HEADER_VERIFIED: False,
        HEADER_INBOUND: '{"user-agent":"Stripe/1.0","x-trace":"abc"}',
    }


def test_every_header_is_a_string_integer_or_boolean_which_the_archive_stream_keeps() -> None:
    """A RabbitMQ 3.10 stream drops nested tables and arrays from the messages it stores (docs/architecture.md,
    "What flows"): an event read back from the archive must lose nothing."""
    event = make_event(attempt=2, replay=True, replay_route="r", replay_destination="d", requeued_at=RECEIVED_AT)
    message = as_delivered(encode_event(event))
    assert {type(value) for value in message.headers.values()} <= {str, int, bool}
    stored = {name: value for name, value in message.headers.items() if not isinstance(value, dict | list)}
    message.headers.clear()
    message.headers.update(stored)  # what the stream would hand back
    assert decode_event(message) == event


def test_an_event_without_inbound_headers_carries_no_inbound_header() -> None:
    assert HEADER_INBOUND not in as_delivered(encode_event(make_event(headers={}))).headers


def test_an_event_queued_with_the_inbound_headers_as_a_nested_table_still_reads() -> None:
    """Messages published before the headers became JSON are still in queues during an upgrade."""
    headers = as_delivered(encode_event(make_event())).headers
    del headers[HEADER_INBOUND]
    headers[HEADER_INBOUND_TABLE] = {"user-agent": "Stripe/1.0", "x-trace": "abc"}
    legacy = aio_pika.Message(b"{}", headers=headers, message_id="evt_1")
    assert decode_event(as_delivered(legacy)).headers == {"user-agent": "Stripe/1.0", "x-trace": "abc"}


@pytest.mark.parametrize("value", ["not json", '["a", "b"]', '{"a": 1}', '{"a": null}', "", 7],
                         ids=["not-json", "array", "number-value", "null-value", "empty", "not-a-string"])
def test_inbound_headers_that_are_not_a_json_object_of_strings_are_malformed(value: str | int) -> None:
    headers = as_delivered(encode_event(make_event())).headers
    headers[HEADER_INBOUND] = value
    with pytest.raises(MalformedEvent, match=HEADER_INBOUND):
        decode_event(as_delivered(aio_pika.Message(b"{}", headers=headers, message_id="evt_1")))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=30), st.text(max_size=60), max_size=8))
def test_any_inbound_headers_survive_the_wire_unchanged(headers: dict[str, str]) -> None:
    # Quotes, backslashes, control characters and non-ASCII included (hypothesis draws no lone surrogates, which
    # ingest replaces before it builds an event).
    event = make_event(headers=headers)
    assert decode_event(as_delivered(encode_event(event))) == event


def test_encode_event_adds_attempt_and_replay_only_when_set() -> None:
    first = as_delivered(encode_event(make_event())).headers
    assert HEADER_ATTEMPT not in first and HEADER_REPLAY not in first
    later = as_delivered(encode_event(make_event(attempt=3, replay=True))).headers
    assert later[HEADER_ATTEMPT] == 3
    assert later[HEADER_REPLAY] is True
    assert as_delivered(encode_event(make_event(attempt=3), attempt=4)).headers[HEADER_ATTEMPT] == 4


def test_encode_event_can_carry_a_transformed_body() -> None:
    event = make_event()
    message = encode_event(event, body=b'{"amount": 5}')
    assert message.body == b'{"amount": 5}'
    assert event.body != message.body
    assert message.message_id == event.id


def test_encode_event_copies_the_inbound_headers() -> None:
    event = make_event()
    message = encode_event(event)
    event.headers["x-later"] = "changed"
    assert "x-later" not in orjson.loads(as_delivered(message).headers[HEADER_INBOUND])  # type: ignore[arg-type]


def test_untyped_event_has_no_amqp_type() -> None:
    assert as_delivered(encode_event(make_event(type=None))).type is None


@pytest.mark.parametrize(
    "event",
    [
        make_event(),
        make_event(type=None, content_type=None, headers={}, verified=False),
        make_event(attempt=7, replay=True, body=b"\x00\xff not json"),
        make_event(headers={"x-unicode": "héllo ☃", "x-empty": ""}),
    ],
    ids=["typical", "minimal", "retried-replay", "unicode-headers"],
)
def test_event_survives_the_wire_unchanged(event: Event) -> None:
    assert decode_event(as_delivered(encode_event(event))) == event


def test_with_attempt_returns_a_copy() -> None:
    event = make_event()
    later = event.with_attempt(2)
    assert (event.attempt, later.attempt) == (0, 2)
    assert later.id == event.id and later.body is event.body


@pytest.mark.parametrize("missing", [HEADER_SOURCE, HEADER_RECEIVED_AT, "message_id"])
def test_message_without_hookpipe_metadata_is_malformed(missing: str) -> None:
    complete = as_delivered(encode_event(make_event()))
    headers = {name: value for name, value in complete.headers.items() if name != missing}
    message_id = None if missing == "message_id" else complete.message_id
    message = aio_pika.Message(body=complete.body, message_id=message_id, headers=headers)
    with pytest.raises(MalformedEvent):
        decode_event(as_delivered(message))


def test_message_with_a_non_integer_received_at_is_malformed() -> None:
    message = as_delivered(encode_event(make_event()))
    message.headers[HEADER_RECEIVED_AT] = "1700000000123"
    with pytest.raises(MalformedEvent):
        decode_event(message)


def test_message_without_headers_is_malformed() -> None:
    message = aio_pika.Message(body=b"{}", message_id="x")
    with pytest.raises(MalformedEvent):
        decode_event(as_delivered(message))


def test_a_replayed_dead_letter_counts_its_max_age_from_when_it_was_sent_back() -> None:
    event = Event(id="e1", source="demo", type=None, received_at=1_000, verified=True, content_type=None,
                  body=b"", requeued_at=5_000, replay=True, replay_route="r", replay_destination="d")
    assert decode_event(as_delivered(encode_event(event))) == event
    assert event.age_from == 5_000
    assert Event(id="e2", source="demo", type=None, received_at=1_000, verified=True, content_type=None,
                 body=b"").age_from == 1_000
