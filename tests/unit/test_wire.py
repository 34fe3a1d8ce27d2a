"""hookpipe.amqp.wire: outgoing properties are encoded exactly as pamqp encodes them, and read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pamqp import commands

from hookpipe.amqp.wire import outgoing
from tests.support.wire import as_delivered

short_text = st.text(max_size=40).filter(lambda text: len(text.encode()) <= 255)
keys = st.text(min_size=1, max_size=20)
plain_values = st.one_of(st.text(max_size=60), st.booleans(), st.integers(-(2**63), 2**63 - 1))
# What a consumed message may carry besides (a broker's x-death): encoded by pamqp's own fallback.
other_values = st.one_of(
    st.none(), st.floats(allow_nan=False, width=32),
    st.lists(st.text(max_size=10), max_size=3),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        lambda moment: moment.replace(microsecond=0)),
)
tables = st.recursive(
    st.dictionaries(keys, st.one_of(plain_values, other_values), max_size=6),
    lambda inner: st.dictionaries(keys, st.one_of(plain_values, inner), max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    message_id=short_text.filter(bool),
    headers=st.one_of(st.none(), tables.filter(bool)),
    content_type=st.one_of(st.none(), short_text),
    content_encoding=st.one_of(st.none(), short_text),
    type_=st.one_of(st.none(), short_text),
    timestamp=st.one_of(st.none(), st.integers(0, 4_102_444_800)),  # up to 2100
    correlation_id=st.one_of(st.none(), short_text),
    app_id=st.one_of(st.none(), short_text),
    priority=st.one_of(st.none(), st.integers(0, 9)),
)
def test_properties_are_encoded_byte_for_byte_as_pamqp_encodes_them(
    message_id: str, headers: dict[str, Any] | None, content_type: str | None, content_encoding: str | None,
    type_: str | None, timestamp: int | None, correlation_id: str | None, app_id: str | None, priority: int | None,
) -> None:
    ours = outgoing(b"body", message_id=message_id, headers=headers, content_type=content_type,
                    content_encoding=content_encoding, type=type_, timestamp=timestamp,
                    correlation_id=correlation_id, app_id=app_id, priority=priority)
    theirs = commands.Basic.Properties(
        message_id=message_id, headers=headers, content_type=content_type, content_encoding=content_encoding,
        message_type=type_, timestamp=None if timestamp is None else datetime.fromtimestamp(timestamp, UTC),
        correlation_id=correlation_id, app_id=app_id, priority=priority, delivery_mode=2,
    )
    assert ours.properties.marshal() == theirs.marshal()


def test_a_message_reads_back_as_it_was_built() -> None:
    headers = {"x-hookpipe-source": "stripe", "x-hookpipe-received-at": 1_700_000_000_123,
               "x-hookpipe-verified": True, "x-hookpipe-headers": {"user-agent": "Stripe/1.0", "x-empty": ""},
               "x-hookpipe-dead-response": bytearray(b"\x00oops")}
    message = as_delivered(outgoing(b"\x00\xff raw", message_id="evt_1", headers=headers, type="invoice.paid",
                                    content_type="application/json", timestamp=1_700_000_000))
    assert message.body == b"\x00\xff raw"
    assert (message.message_id, message.type, message.content_type) == ("evt_1", "invoice.paid", "application/json")
    assert message.delivery_mode == 2
    assert message.timestamp == datetime.fromtimestamp(1_700_000_000, UTC)
    assert message.headers == headers


def test_a_naive_timestamp_is_utc_and_a_missing_message_id_gets_a_random_one() -> None:
    naive = datetime(2026, 11, 27, 10, 0, 0)
    message = as_delivered(outgoing(b"", message_id=None, timestamp=naive))
    assert message.timestamp == naive.replace(tzinfo=UTC)
    assert message.message_id and len(message.message_id) == 32


@pytest.mark.parametrize("field", ["message_id", "type", "content_type"])
def test_a_short_string_over_255_bytes_is_refused_before_anything_is_sent(field: str) -> None:
    fields: dict[str, Any] = {"message_id": "evt_1", field: "é" * 128}
    with pytest.raises(ValueError, match="255 bytes"):
        outgoing(b"", **fields)


def test_a_header_of_a_type_amqp_cannot_carry_is_refused() -> None:
    with pytest.raises(TypeError):
        outgoing(b"", message_id="evt_1", headers={"x-object": object()})
