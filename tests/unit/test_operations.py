"""The pure parts of the operations commands: reading dead letters, what a replay carries, tables, offsets and
metric samples."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from control.dlq import DeadLetter, Selection, UnknownDestination, dead_queues, replay_message, requeued_message
from control.events import stream_offset
from control.ops_client import ops_base_url, parse_samples
from control.table import clip, format_age, format_table, format_time
from hookpipe.config import parse_config
from hookpipe.event import now_ms
from tests.support.wire import as_delivered


def incoming(headers: dict, message_id: str = "evt-1", **properties: object) -> SimpleNamespace:
    fields = {"body": b'{"a": 1}', "content_type": "application/json", "content_encoding": None,
              "correlation_id": None, "timestamp": datetime(2026, 11, 27, tzinfo=UTC), "type": "invoice.paid",
              "app_id": None, "priority": None, "user_id": "guest"}
    return SimpleNamespace(headers=headers, message_id=message_id, **(fields | properties))


DEAD_HEADERS = {
    "x-hookpipe-source": "stripe", "x-hookpipe-received-at": 1_700_000_000_000, "x-hookpipe-verified": True,
    "x-hookpipe-headers": {"x-github-event": "push"}, "x-hookpipe-attempt": 2,
    "x-hookpipe-dead-reason": "exhausted", "x-hookpipe-dead-error": "HTTP 500", "x-hookpipe-dead-status": 500,
    "x-hookpipe-dead-attempts": 3, "x-hookpipe-dead-at": 1_700_000_060_000,
    "x-hookpipe-dead-response": bytearray(b"oops"), "x-delivery-count": 4,
}


def test_a_dead_letter_reads_its_reason_attempts_status_and_times():
    letter = DeadLetter.from_message(incoming(DEAD_HEADERS), "billing")  # type: ignore[arg-type]
    assert letter == DeadLetter(id="evt-1", destination="billing", reason="exhausted", error="HTTP 500", status=500,
                                attempts=3, dead_at=1_700_000_060_000, received_at=1_700_000_000_000,
                                source="stripe", type="invoice.paid")
    assert letter.document(now=1_700_000_070_000)["age_s"] == 10.0


def test_a_message_rabbitmq_dead_lettered_for_its_delivery_limit_reads_as_poison():
    died = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    headers = {"x-hookpipe-source": "demo", "x-death": [{"reason": "delivery_limit", "time": died, "count": 1}]}
    letter = DeadLetter.from_message(incoming(headers), "router")  # type: ignore[arg-type]
    assert (letter.reason, letter.dead_at, letter.attempts) == ("poison", int(died.timestamp() * 1000), None)


def test_a_replay_strips_dead_letter_and_broker_headers_and_resets_the_attempt_but_keeps_the_rest():
    headers = DEAD_HEADERS | {"x-death": [{"reason": "delivery_limit"}], "x-first-death-reason": "delivery_limit"}
    before = now_ms()
    message = as_delivered(replay_message(incoming(headers)))  # type: ignore[arg-type]
    requeued_at = message.headers.pop("x-hookpipe-requeued-at")
    assert message.headers == {
        "x-hookpipe-source": "stripe", "x-hookpipe-received-at": 1_700_000_000_000, "x-hookpipe-verified": True,
        "x-hookpipe-headers": {"x-github-event": "push"},
    }
    assert before <= requeued_at <= now_ms()  # its max_age counts from now
    assert (message.body, message.message_id, message.type, message.content_type) == (
        b'{"a": 1}', "evt-1", "invoice.paid", "application/json")
    assert message.delivery_mode.value == 2 and message.user_id is None


def test_a_kept_dead_letter_goes_back_unchanged_but_for_the_broker_redelivery_count():
    message = as_delivered(requeued_message(incoming(DEAD_HEADERS)))  # type: ignore[arg-type]
    assert message.headers == {k: v for k, v in DEAD_HEADERS.items() if k != "x-delivery-count"}


def test_selection_by_reason_and_id():
    letter = DeadLetter("e1", "d", "expired", "", None, None, None, None, None, None)
    assert Selection().matches(letter) and Selection().everything
    assert Selection(reason="expired").matches(letter) and not Selection(reason="exhausted").matches(letter)
    assert Selection(id="e1").matches(letter) and not Selection(reason="expired", id="e2").matches(letter)


def test_dead_queues_cover_every_destination_and_the_router():
    config = parse_config({"broker": {"prefix": "hp"}, "destinations": {
        "billing": {"url": "https://b.example.com/", "signing": {"scheme": "none"}},
        "audit": {"url": "https://a.example.com/", "signing": {"scheme": "none"}}}}, environ={}).config
    queues = {q.destination: (q.queue, q.replay_exchange, q.replay_key) for q in dead_queues(config)}
    assert queues == {"billing": ("hp.dead.billing", "hp.deliver", "billing"),
                      "audit": ("hp.dead.audit", "hp.deliver", "audit"),
                      "router": ("hp.router.dead", "", "hp.router")}
    assert [q.destination for q in dead_queues(config, "audit")] == ["audit"]
    with pytest.raises(UnknownDestination):
        dead_queues(config, "nope")


def test_tables_align_columns_two_spaces_apart():
    assert format_table(["A", "LONGER"], [["wide cell", "x"], ["b", "yy"]]) == [
        "A          LONGER", "wide cell  x", "b          yy"]


def test_ages_times_and_clipping():
    assert [format_age(s) for s in (None, 5, 90, 7200, 200000)] == ["-", "5s", "1m", "2h", "2d"]
    assert format_time(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert clip("a  b\nc", 10) == "a b c" and clip("abcdefghijkl", 5) == "abcd…"


def test_since_reads_first_a_time_or_a_duration_ago():
    now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert stream_offset(None) == "first" and stream_offset("first") == "first"
    assert stream_offset("2h", now) == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    assert stream_offset("2026-11-27T06:30:00Z") == datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    assert stream_offset("2026-11-27T06:30:00") == datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since"):
        stream_offset("yesterday")


def test_metric_samples_are_summed_by_label():
    samples = parse_samples(
        '# TYPE hookpipe_dead_letters_total counter\n'
        'hookpipe_dead_letters_total{destination="a",reason="expired"} 2.0\n'
        'hookpipe_dead_letters_total{destination="a",reason="exhausted"} 3.0\n'
        'hookpipe_dead_letters_total{destination="b",reason="expired"} 5.0\n'
    )
    assert samples.by("hookpipe_dead_letters_total", "reason", destination="a") == {"expired": 2.0, "exhausted": 3.0}
    assert samples.get("hookpipe_dead_letters_total", reason="expired") == 7.0
    assert samples.get("hookpipe_missing_total") == 0


def test_a_wildcard_ops_listener_is_reached_on_loopback():
    assert ops_base_url("0.0.0.0:9103") == "http://127.0.0.1:9103"
    assert ops_base_url("127.0.0.2:9103") == "http://127.0.0.2:9103"


def test_status_rates_come_from_two_samples_and_a_counter_reset_gives_none():
    from control.status import Sample, WatchedQueue, _queue_row, _rate
    from hookpipe.amqp.broker import QueueState

    first = Sample(at=10.0, queues={"q": QueueState(100, 1)}, metrics={})
    last = Sample(at=12.0, queues={"q": QueueState(60, 1)}, metrics={})
    assert _rate(first, last, 5.0, 25.0) == 10.0
    assert _rate(first, last, 25.0, 5.0) is None  # the service restarted between the samples
    assert _rate(first, first, 5.0, 5.0) is None  # one sample: no rate
    row = _queue_row(WatchedQueue("q", "deliver", "d", ("q",)), first, last)
    assert (row["messages"], row["consumers"], row["change_per_s"]) == (60, 1, -20.0)


def test_status_table_marks_what_a_silent_service_would_have_said_as_unknown():
    from control.status import render_status

    document = {
        "prefix": "hp", "at": 1_000_000, "interval_s": None,
        "broker": {"url": "amqp://guest:***@127.0.0.1:5672/", "reachable": True, "error": None},
        "services": {"deliverer": {"ops": "127.0.0.1:9103", "reachable": False, "ready": None, "problems": [],
                                   "rate": "attempts_per_s", "per_s": None}},
        "queues": [{"name": "hp.deliver.billing", "messages": 7, "consumers": 0, "change_per_s": None}],
        "deliverers": {"asked": "broker", "replicas": [], "running": None, "all_answered": False, "deadline_s": 2.0},
        "destinations": {"billing": {"messages": 7, "breaker": None, "paused": None, "dead_letters": 2,
                                     "delivered_per_s": None, "failed_per_s": None, "last_error": None,
                                     "in_flight": None, "delivered_by": [], "replicas": {}}},
    }
    lines = render_status(document).splitlines()
    assert lines[0].endswith("no rates (--interval 0)")
    assert lines[1].startswith("no deliverer replica answered within 2s;")
    assert lines[4].split() == ["deliverer", "127.0.0.1:9103", "down", "unknown"]
    assert lines[-1].split() == ["billing", "7", "unknown", "unknown", "2", "-", "-", "unknown", "unknown", "-"]
