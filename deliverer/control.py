"""The control exchange as a deliverer hears it: operators' messages to every running deliverer replica.

`{prefix}.control` is a fanout exchange; each replica reads it through an exclusive queue of its own, so every
replica hears every message. A message is a JSON object:
- `{"action": "pause"|"resume", "destination": NAME}` (`hookpipe destination pause|resume`): deliverer.pause
  acts on it;
- `{"action": "status"}` with the AMQP properties `reply_to` and `correlation_id` (`hookpipe status`, `hookpipe
  dlq list`): the replica answers `{"replica": ID, "process": HOST:PID, "destinations": {...}}` to `reply_to`
  with the same correlation id. `destinations` is DelivererService.status()'s, each with `dead_lettered`, this
  process's dead letters by reason since it started.
Anything else is ignored with a warning: publishing to the exchange earns no more than these messages do.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from hookpipe.amqp.topology import Names, declare_control
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")

#: Reply addresses an inquiry may name: RabbitMQ's direct reply-to and server-named (exclusive) queues. Any other
#: is ignored, so a message on the control exchange cannot make the deliverers publish into a named queue (a
#: destination's, the router's).
REPLY_TO_PREFIXES = ("amq.rabbitmq.reply-to", "amq.gen-")

#: Longest correlation id answered (characters; an AMQP short string holds 255 bytes).
MAX_CORRELATION_ID = 128

#: Seconds an answer's publish may take; an answer is best effort (the asker has a deadline of its own).
ANSWER_TIMEOUT = 5.0


class Action(StrEnum):
    """A control message's `action`."""

    PAUSE = "pause"
    RESUME = "resume"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class Command:
    """Pause or resume one destination."""

    action: Action
    destination: str


@dataclass(frozen=True, slots=True)
class Inquiry:
    """An operator asks every replica for its status; the answer goes to `reply_to`."""

    reply_to: str
    correlation_id: str


def read_message(body: bytes, destinations: Collection[str], *, reply_to: str | None = None,
                 correlation_id: str | None = None) -> Command | Inquiry | None:
    """What a control message asks (`reply_to` and `correlation_id` are its AMQP properties); None, and a
    warning, for one to ignore: not JSON, an unknown action or destination, an inquiry without a usable reply
    address or correlation id."""
    try:
        fields = orjson.loads(body)
        action = fields["action"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("ignored a malformed control message")
        return None
    if action == Action.STATUS:
        if not (isinstance(reply_to, str) and reply_to.startswith(REPLY_TO_PREFIXES)
                and isinstance(correlation_id, str) and 0 < len(correlation_id) <= MAX_CORRELATION_ID):
            log.warning("ignored a status inquiry without a usable reply address or correlation id")
            return None
        return Inquiry(reply_to, correlation_id)
    name = fields.get("destination") if isinstance(fields, dict) else None
    if action not in (Action.PAUSE, Action.RESUME) or not isinstance(name, str) or name not in destinations:
        log.warning("ignored a control message", extra={"action": str(action)[:40], "destination": str(name)[:200]})
        return None
    return Command(Action(action), name)


_instances = itertools.count(1)


def new_replica_id() -> str:
    """`host:pid`, stable for the process's life; a second deliverer in one process (tests) gets `host:pid/2`."""
    n = next(_instances)
    return process_id() + ("" if n == 1 else f"/{n}")


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_lettered() -> dict[str, dict[str, int]]:
    """This process's dead letters since it started, by destination and reason (its metrics counter)."""
    counts: dict[str, dict[str, int]] = {}
    for family in metrics.DEAD_LETTERS.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                reasons = counts.setdefault(sample.labels["destination"], {})
                reasons[sample.labels["reason"]] = int(sample.value)
    return counts


class ControlListener:
    """One replica's queue on the control exchange: commands go to `act`, inquiries are answered.

    Parameters: `names` the topology's; `destinations` the configured destination names (read per message, so
    a reload's are the ones known); `act(command)` carries out a pause or resume; `status()` this replica's
    view of its destinations (DelivererService.status(): `{"destinations": {...}}`), None to answer with none.
    """

    def __init__(self, names: Names, *, destinations: Collection[str], act: Callable[[Command], Awaitable[None]],
                 status: Callable[[], dict[str, Any]] | None = None) -> None:
        self._names = names
        self._destinations = destinations
        self._act = act
        self._status = status
        self._connection: AbstractConnection | None = None
        self._answers: AbstractChannel | None = None
        self.replica = new_replica_id()

    async def bind(self, connection: AbstractConnection) -> AbstractQueue:
        """An exclusive queue on the control exchange, bound; messages wait in it until `consume`."""
        self._connection, self._answers = connection, None
        channel = await connection.channel()
        exchange = await declare_control(channel, self._names)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        return queue

    async def consume(self, queue: AbstractQueue) -> None:
        await queue.consume(self._on_message, no_ack=True)

    def answer(self) -> dict[str, Any]:
        """What this replica answers an inquiry with."""
        destinations = dict(self._status().get("destinations", {})) if self._status is not None else {}
        counts = dead_lettered()
        return {"replica": self.replica, "process": process_id(), "destinations": {
            name: {**state, "dead_lettered": counts.get(name, {})} for name, state in destinations.items()}}

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        request = read_message(message.body, self._destinations, reply_to=message.reply_to,
                               correlation_id=message.correlation_id)
        if isinstance(request, Command):
            await self._act(request)
        elif isinstance(request, Inquiry):
            await self._reply(request)

    async def _reply(self, inquiry: Inquiry) -> None:
        """Answer on a channel apart from the commands': a reply address the broker refuses closes the channel
        it is published on, and the commands must still be heard."""
        try:
            channel = await self._answer_channel()
            body = orjson.dumps(self.answer(), default=str)
            await channel.default_exchange.publish(
                aio_pika.Message(body, content_type="application/json", correlation_id=inquiry.correlation_id),
                # Not mandatory: RabbitMQ returns a mandatory publish to a direct reply-to address even when it
                # delivers it.
                routing_key=inquiry.reply_to, mandatory=False, timeout=ANSWER_TIMEOUT)
        except Exception as error:  # best effort: the asker counts this replica as not answering
            log.warning("could not answer a status inquiry", extra={"error": type(error).__name__})

    async def _answer_channel(self) -> AbstractChannel:
        if self._answers is None or self._answers.is_closed:
            assert self._connection is not None, "bind first"
            if self._answers is not None:
                with contextlib.suppress(Exception):
                    await self._answers.close()
            self._answers = await self._connection.channel(publisher_confirms=False)
        return self._answers
