"""Pause and resume: by a destination's `paused` setting, and by `hookpipe destination pause|resume`.

An operator's pause is a flag queue (`hookpipe destination pause` declares it, `resume` deletes it), so it
outlives a restart, plus a command on the control exchange (deliverer.control), which every running deliverer
hears at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aio_pika.abc import AbstractConnection

from deliverer.control import Action, Command, ControlListener
from deliverer.sender import Sender
from hookpipe.amqp.broker import Link, queue_exists
from hookpipe.amqp.topology import Names
from hookpipe.runtime import metrics

log = logging.getLogger("deliverer")


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
        self.control = ControlListener(names, destinations=senders, act=self._on_command, status=status)
        self.paused = {name for name, sender in senders.items() if sender.config.paused}

    async def listen(self, connection: AbstractConnection) -> None:
        """Hear commands on the new `connection`, and take the pauses that stand: the config's and the flags'."""
        commands = await self.control.bind(connection)
        # Commands sent from now on wait in that queue; pauses made before are read from their flags. Both are
        # absolute (pause, resume), so reading the flags first and then the queued commands in order ends in the
        # state of the last command, whichever came first.
        flagged = {name for name in self._senders if await self._flagged(connection, name)}
        self.paused = {name for name, sender in self._senders.items() if sender.config.paused} | flagged
        await self.control.consume(commands)
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

    async def _flagged(self, connection: AbstractConnection, name: str) -> bool:
        """Whether an operator paused `name` (`hookpipe destination pause`) and has not resumed it."""
        return await queue_exists(connection, self._names.pause_flag(name))

    async def _on_command(self, command: Command) -> None:
        if command.action is Action.PAUSE:
            await self.pause(command.destination)
        else:
            await self.resume(command.destination)
