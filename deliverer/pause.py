"""Pause and resume: by a destination's `paused` setting, and by `hookpipe destination pause|resume`.

An operator's pause is a flag queue (`hookpipe destination pause` declares it, `resume` deletes it), so it
outlives a restart, plus a command on the control exchange, which every running deliverer hears at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from enum import StrEnum
from typing import Any

import orjson
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage, AbstractQueue

from deliverer.sender import Sender
from hookpipe.amqp.broker import Link, queue_exists
from hookpipe.amqp.topology import Names, declare_control
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")


class Action(StrEnum):
    """A command's `action` (sent by `hookpipe destination pause|resume`)."""

    PAUSE = "pause"
    RESUME = "resume"


def read_command(body: bytes, destinations: Collection[str]) -> tuple[Action, str] | None:
    """The action and destination of a control message; None (and a warning) for one to ignore."""
    try:
        command = orjson.loads(body)
        action, name = command["action"], command["destination"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("ignored a malformed control message")
        return None
    if name not in destinations or action not in tuple(Action):
        log.warning("ignored a control message", extra={"action": str(action), "destination": str(name)})
        return None
    return Action(action), name


class Pauses:
    """Which destinations are paused, and the commands that change it.

    Parameters: `link` the consuming connection (the flags are read on it); `names` the topology's; `senders`
    the configured destinations; `stop(name)` stops delivering to one (its probe and consumer);
    `deliver(name)` delivers to one again (its breaker decides how); `status()` this replica's view of its
    destinations (what an operator's inquiry on the control exchange is answered with).
    """

    def __init__(
        self, link: Link, names: Names, senders: Mapping[str, Sender], *,
        stop: Callable[[str], Awaitable[None]], deliver: Callable[[str], Awaitable[None]],
        status: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._link = link
        self._names = names
        self._senders = senders
        self._stop = stop
        self._deliver = deliver
        self._status = status
        self.paused = {name for name, sender in senders.items() if sender.config.paused}

    async def listen(self, connection: AbstractConnection) -> None:
        """Hear commands on the new `connection`, and take the pauses that stand: the config's and the flags'."""
        commands = await self._bind_commands(connection)
        # Commands sent from now on wait in that queue; pauses made before are read from their flags. Both are
        # absolute (pause, resume), so reading the flags first and then the queued commands in order ends in the
        # state of the last command, whichever came first.
        flagged = {name for name in self._senders if await self._flagged(connection, name)}
        self.paused = {name for name, sender in self._senders.items() if sender.config.paused} | flagged
        await commands.consume(self._on_command, no_ack=True)
        for name in self._senders:
            metrics.DESTINATION_PAUSED.labels(destination=name).set(int(name in self.paused))

    async def pause(self, name: str) -> None:
        """Stop delivering to `name`: its events wait in its queue until resume. The pause outlives a restart
        through its flag queue, which `hookpipe destination pause` declares."""
        self.paused.add(name)
        metrics.DESTINATION_PAUSED.labels(destination=name).set(1)
        await self._stop(name)
        log.warning("destination paused by an operator", extra={"destination": name})

    async def resume(self, name: str) -> None:
        if name not in self.paused:
            return
        self.paused.discard(name)
        metrics.DESTINATION_PAUSED.labels(destination=name).set(0)
        log.warning("destination resumed by an operator", extra={"destination": name})
        await self._deliver(name)

    async def reconcile(self, name: str) -> bool:
        """After a reload: pause or resume `name` as its setting and its flag say. True when that settled its
        delivery (paused now, or resumed); False when it was not paused and is not."""
        paused_before = name in self.paused
        connection = self._link.connection
        flagged = connection is not None and await self._flagged(connection, name)
        if self._senders[name].config.paused or flagged:
            if not paused_before:
                await self.pause(name)
            return True
        if paused_before:
            await self.resume(name)
            return True
        metrics.DESTINATION_PAUSED.labels(destination=name).set(0)
        return False

    def forget(self, name: str) -> None:
        self.paused.discard(name)

    async def _bind_commands(self, connection: AbstractConnection) -> AbstractQueue:
        """An exclusive queue on the control exchange: every running deliverer hears every command."""
        channel = await connection.channel()
        exchange = await declare_control(channel, self._names)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        return queue

    async def _flagged(self, connection: AbstractConnection, name: str) -> bool:
        """Whether an operator paused `name` (`hookpipe destination pause`) and has not resumed it."""
        return await queue_exists(connection, self._names.pause_flag(name))

    async def _on_command(self, message: AbstractIncomingMessage) -> None:
        command = read_command(message.body, self._senders)
        if command is None:
            return
        action, name = command
        if action is Action.PAUSE:
            await self.pause(name)
        else:
            await self.resume(name)
