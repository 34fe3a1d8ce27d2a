"""The admin index's pure rules: delivery and event statuses, page cursors, times, and which stream messages
the indexer reads as unreadable."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from control.admin.index.arrivals import read_log
from control.admin.index.merge import AttemptMark, delivery_status, event_status
from control.admin.index.query import BadCursor, decode_cursor, encode_cursor, iso_time
from hookpipe.delivery_log import Attempt, DeadLettered, encode_batch


def mark(at: int, delivered: bool, offset: int = 0) -> AttemptMark:
    return AttemptMark("e", "d", (at, offset, 0), delivered)


@pytest.mark.parametrize(("latest", "dead", "expected"), [
    (None, None, "pending"),
    (mark(10, True), None, "delivered"),
    (mark(10, False), None, "failing"),
    (None, (5, 0, 0), "dead"),  # dead-lettered without an attempt (expired)
    (mark(10, False), (20, 1, 0), "dead"),
    (mark(30, True), (20, 1, 0), "delivered"),  # a resend after the dead letter
    (mark(20, False, offset=2), (20, 1, 0), "failing"),  # same time: the later place in the log wins
])
def test_the_latest_record_decides_a_delivery(latest: AttemptMark | None, dead: tuple[int, int, int] | None,
                                              expected: str) -> None:
    assert delivery_status(latest, dead) == expected


@pytest.mark.parametrize(("decision", "deliveries", "expected"), [
    (None, [], "received"),
    ("unmatched", [], "unrouted"),
    ("dead", [], "dead"),
    ("dead", ["delivered"], "dead"),
    ("routed", ["delivered", "dead", "failing"], "dead"),
    ("routed", ["delivered", "failing", "pending"], "failing"),
    ("routed", ["delivered", "pending"], "pending"),
    ("routed", ["delivered", "delivered"], "delivered"),
    (None, ["failing"], "failing"),  # an attempt read before the routing decision
    ("unmatched", ["delivered"], "delivered"),  # a replay matched nothing after the event was delivered
])
def test_an_event_is_as_bad_as_its_worst_delivery(decision: str | None, deliveries: list[str], expected: str) -> None:
    assert event_status(decision, deliveries) == expected


def test_a_cursor_gives_back_its_position() -> None:
    for position in [(0, ""), (1_796_000_000_123, "evt_1"), (5, "ünïcødé/+=")]:
        assert decode_cursor(encode_cursor(*position)) == position
        assert "=" not in encode_cursor(*position)


def test_times_are_iso_8601_utc_with_milliseconds() -> None:
    assert iso_time(1_796_000_000_123) == "2026-11-30T00:53:20.123Z"
    assert iso_time(5) == "1970-01-01T00:00:00.005Z"
    assert iso_time(None) is None
    with pytest.raises(BadCursor):
        decode_cursor("%%%")


@pytest.mark.parametrize("body", [
    b"not json", b'{"kind": "attempt"}', b"[1, 2]",
    orjson.dumps([{"kind": "attempt", "event_id": "e", "destination": "d", "attempt": "one", "at": 1,
                   "duration_ms": 1, "delivered": True, "reason": "ok"}]),
    orjson.dumps([{"kind": "dead", "event_id": "e", "destination": "d", "at": "yesterday", "reason": "x",
                   "attempts": 1}]),
    orjson.dumps([{"kind": "routed", "event_id": "e", "source": "s", "type": None, "received_at": 1, "at": 2,
                   "decision": "routed", "routes": [1], "destinations": ["d"]}]),
])
def test_a_log_message_with_wrong_fields_is_unreadable(body: bytes) -> None:
    assert read_log("s", 7, _Message(body)).records == []


def test_a_log_message_keeps_its_records_and_their_earliest_time() -> None:
    records = [Attempt(event_id="e", destination="d", attempt=1, at=20, duration_ms=1, delivered=True, reason="ok"),
               DeadLettered(event_id="", destination="d", at=5, reason="malformed", attempts=0),  # no id: dropped
               DeadLettered(event_id="f", destination="d", at=10, reason="expired", attempts=0)]
    arrival = read_log("s", 7, _Message(encode_batch(records)))
    assert arrival.records == [records[0], records[2]] and arrival.time == 10


class _Message:
    """What read_log reads of a stream message."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers: dict[str, Any] = {}
        self.delivery_tag = 1
