"""The control exchange as a deliverer reads it (deliverer.control): which messages count, what an inquiry needs to
be answered, and what the answer says. Anyone who can publish to the exchange may send anything: the rest is
ignored."""

from __future__ import annotations

import orjson

from deliverer.control import Action, Command, ControlListener, Inquiry, read_message
from hookpipe.amqp.topology import Names
from hookpipe.runtime import metrics

REPLY = "amq.rabbitmq.reply-to.g1h2AA5yZXBseUAxAAAAAA=="


def body(**fields: object) -> bytes:
    return orjson.dumps(fields)


def test_a_command_names_a_known_destination_and_pause_or_resume() -> None:
    assert read_message(body(action="pause", destination="d"), {"d"}) == Command(Action.PAUSE, "d")
    assert read_message(body(action="resume", destination="d"), {"d"}) == Command(Action.RESUME, "d")


def test_malformed_unknown_and_other_commands_are_ignored() -> None:
    for ignored in (b"not json", b"", b"[1]", b'"pause"', b"null", body(action="pause"),
                    body(action="pause", destination="nope"), body(action="purge", destination="d"),
                    body(action=["pause"], destination="d"), body(action="pause", destination=["d"]),
                    body(destination="d")):
        assert read_message(ignored, {"d"}, reply_to=REPLY, correlation_id="c") is None, ignored


def test_an_inquiry_is_answered_only_to_a_reply_address_with_a_correlation_id() -> None:
    inquiry = body(action="status")
    assert read_message(inquiry, {"d"}, reply_to=REPLY, correlation_id="c1") == Inquiry(REPLY, "c1")
    assert read_message(inquiry, set(), reply_to="amq.gen-JzTY20BRgKO", correlation_id="c1") == Inquiry(
        "amq.gen-JzTY20BRgKO", "c1")


def test_an_inquiry_naming_a_queue_of_the_pipeline_or_no_correlation_id_is_ignored() -> None:
    inquiry = body(action="status")
    for reply_to, correlation_id in (
        (None, "c"), ("", "c"), ("hookpipe.deliver.d", "c"), ("hookpipe.router", "c"),  # named queues: refused
        (REPLY, None), (REPLY, ""), (REPLY, "x" * 129),
    ):
        assert read_message(inquiry, {"d"}, reply_to=reply_to, correlation_id=correlation_id) is None, reply_to


def test_the_answer_names_the_replica_and_adds_the_process_dead_letters_to_each_destination() -> None:
    status = {"destinations": {"d": {"breaker": "closed", "in_flight": 2}, "e": {"breaker": "open"}}}
    metrics.DEAD_LETTERS.labels(destination="d", reason="http_status").inc(3)
    listener = ControlListener(Names("test"), destinations={"d", "e"}, act=_nothing, status=lambda: status)
    answer = listener.answer()
    assert answer["replica"] == listener.replica and answer["replica"].startswith(answer["process"])
    assert answer["destinations"]["d"]["in_flight"] == 2
    assert answer["destinations"]["d"]["dead_lettered"]["http_status"] >= 3
    assert answer["destinations"]["e"]["breaker"] == "open"


def test_two_replicas_in_one_process_have_ids_of_their_own() -> None:
    first, second = (ControlListener(Names("test"), destinations=set(), act=_nothing) for _ in range(2))
    assert first.replica != second.replica
    assert first.answer() == {"replica": first.replica, "process": first.answer()["process"], "destinations": {}}


async def _nothing(_: Command) -> None:
    return None
