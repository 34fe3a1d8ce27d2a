"""Asking every deliverer replica over the broker (`hookpipe status`, `hookpipe dlq list`).

The CLI publishes `{"action": "status"}` to the control exchange with RabbitMQ's direct reply-to as its reply
address and a fresh correlation id (deliverer.control answers). Every running replica hears it and answers
once, from memory. Answers are collected until every replica has answered, or ANSWER_DEADLINE has passed. The
replicas are counted as the consumers of the deliverers' roll-call queue (`{prefix}.replicas.deliverer`, which
every replica consumes once its control queue is bound, so every replica counted hears the inquiry); without
that queue the CLI waits the deadline out. When no queue is bound to the control exchange (the mandatory
publish returns), no deliverer runs and nothing is awaited.

Answers are read as hostile input: one over MAX_ANSWER_BYTES, not JSON, of the wrong shape or with another
correlation id is dropped; a field of the wrong type reads as unknown; strings are cut; destinations the config
does not name are left out; at most MAX_REPLICAS answers are kept. A replica that does not answer in time is
simply missing from the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from deliverer.control import Action
from hookpipe.amqp.broker import close_quietly, queue_state
from hookpipe.amqp.topology import Names, declare_control
from hookpipe.config import Config

#: Longest wait for the replicas' answers (s): they answer from memory, so a replica that takes longer is
#: treated as not answering.
ANSWER_DEADLINE = 2.0

#: RabbitMQ's direct reply-to: answers come straight to this channel's consumer, no queue to declare or delete.
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"

#: Largest answer read (bytes); one destination's state is a few hundred bytes.
MAX_ANSWER_BYTES = 1024 * 1024

#: Most replicas' answers kept from one inquiry.
MAX_REPLICAS = 256

#: Longest replica id, reason, event id and error text kept from an answer (characters).
MAX_ID_CHARS = 255
MAX_ERROR_CHARS = 2000

#: Most dead-letter reasons kept per destination (hookpipe has a closed set of about a dozen).
MAX_REASONS = 64

#: Seconds the inquiry's publish may take, from call to confirm.
PUBLISH_TIMEOUT = 5.0

BREAKER_STATES = ("closed", "open", "half_open")


@dataclass(frozen=True, slots=True)
class ReplicaAnswer:
    """One replica's answer: its id, its process (`host:pid`: counters are per process) and, per configured
    destination, its state (the keys of DelivererService.status(), `lease` when it says, and `dead_lettered`)."""

    replica: str
    process: str
    destinations: dict[str, dict[str, Any]]


@dataclass(slots=True)
class Answers:
    """What an inquiry brought back: the replicas that answered in time, first come first; `heard`, whether
    some deliverer had a queue on the control exchange (False: none runs); `running`, the replicas counted on
    the roll-call queue (None: no such queue)."""

    replicas: list[ReplicaAnswer] = field(default_factory=list)
    heard: bool = False
    running: int | None = None

    @property
    def complete(self) -> bool:
        """Every replica running answered: none runs, or as many answered as were counted (a count of 0 while
        some deliverer hears the exchange is no count: a roll-call queue left by deliverers that did not take
        part)."""
        return not self.heard or (bool(self.running) and len(self.replicas) >= (self.running or 0))


async def ask_deliverers(connection: AbstractConnection, config: Config, *,
                         deadline: float = ANSWER_DEADLINE) -> Answers:
    """Every running deliverer replica's status that arrives within `deadline` seconds."""
    names = Names.of(config.broker)
    answers = Answers()
    correlation_id = uuid.uuid4().hex
    done = asyncio.Event()
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    try:

        async def on_answer(message: AbstractIncomingMessage) -> None:
            answer = read_answer(message.body, config.destinations) \
                if message.correlation_id == correlation_id and len(answers.replicas) < MAX_REPLICAS else None
            if answer is not None and all(known.replica != answer.replica for known in answers.replicas):
                answers.replicas.append(answer)
            if answers.complete or len(answers.replicas) >= MAX_REPLICAS:
                done.set()

        replies = await channel.get_queue(DIRECT_REPLY_TO, ensure=False)
        await replies.consume(on_answer, no_ack=True)  # direct reply-to: consumed no-ack, before publishing
        exchange = await declare_control(channel, names)
        inquiry = aio_pika.Message(orjson.dumps({"action": Action.STATUS}), content_type="application/json",
                                   reply_to=DIRECT_REPLY_TO, correlation_id=correlation_id)
        try:
            await exchange.publish(inquiry, routing_key="", mandatory=True, timeout=PUBLISH_TIMEOUT)
        except aio_pika.exceptions.PublishError:  # returned: no deliverer has a queue on the exchange
            return answers
        answers.heard = True
        roll_call = await queue_state(connection, names.roll_call("deliverer"))
        answers.running = None if roll_call is None else roll_call.consumers
        if answers.complete:
            done.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), deadline)
        return answers
    finally:
        await close_quietly(channel)


def read_answer(body: bytes, destinations: Collection[str]) -> ReplicaAnswer | None:
    """A replica's answer, its destinations limited to `destinations`; None to drop it."""
    if len(body) > MAX_ANSWER_BYTES:
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("replica"), str) or not document["replica"]:
        return None
    replica = document["replica"][:MAX_ID_CHARS]
    process = document.get("process")
    return read_replica_status(document, replica=replica,
                               process=process[:MAX_ID_CHARS] if isinstance(process, str) else replica,
                               destinations=destinations)


def read_replica_status(document: Any, *, replica: str, process: str,
                        destinations: Collection[str]) -> ReplicaAnswer | None:
    """A replica's `{"destinations": {...}}` (an answer, or a deliverer's /status), each field checked."""
    states = document.get("destinations") if isinstance(document, dict) else None
    if not isinstance(states, dict):
        return None
    return ReplicaAnswer(replica, process, {
        name: read_destination(state) for name, state in states.items()
        if name in destinations and isinstance(state, dict)
    })


def read_destination(state: dict[str, Any]) -> dict[str, Any]:
    """One destination's state as a replica gave it: a field of the wrong type is None (unknown)."""
    breaker = state.get("breaker")
    return {
        "breaker": breaker if breaker in BREAKER_STATES else None,
        "consecutive_failures": _count(state.get("consecutive_failures")),
        "paused": _flag(state.get("paused")),
        "consuming": _flag(state.get("consuming")),
        "lease": _flag(state.get("lease")),
        "in_flight": _count(state.get("in_flight")),
        "last_error": _last_error(state.get("last_error")),
        "dead_lettered": _reasons(state.get("dead_lettered")),
    }


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _last_error(error: Any) -> dict[str, Any] | None:
    if not isinstance(error, dict) or _count(error.get("at")) is None:
        return None
    status = error.get("status")
    return {
        "reason": _text(error.get("reason"), MAX_ID_CHARS) or "",
        "status": status if isinstance(status, int) and not isinstance(status, bool) else None,
        "error": _text(error.get("error"), MAX_ERROR_CHARS),
        "at": error["at"],
        "event_id": _text(error.get("event_id"), MAX_ID_CHARS),
    }


def _reasons(counts: Any) -> dict[str, int] | None:
    if not isinstance(counts, dict):
        return None
    kept = {str(reason)[:MAX_ID_CHARS]: count for reason, count in counts.items() if _count(count) is not None}
    return dict(sorted(kept.items())[:MAX_REASONS])
