"""The router's order promise when routing decisions finish out of order.

The router publishes a destination's deliveries in the order it consumed the events. While every event was
matched on the event loop, between its consumption and its first publish, that order held by itself. An event
with a large body is matched in a worker thread (router/service.py), so a later, small event can be ready first:
it must not publish to a destination the earlier one may still publish to.

Each event takes a ticket when it is consumed (before its handler's first await, so tickets follow consumption
order), with the destinations it could reach at all (router.rules.RouteTable.reachable). Once its deliveries are
known, `turn` waits until no earlier event still deciding could publish to any of their destinations; `done`
then lets later ones by. In the usual case (every earlier event already decided) `turn` does not wait.
Decisions are bounded by the match budget, so a wait is too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection


class DeliveryOrder:
    """Tickets in consumption order; an event publishes only once the earlier events that may reach the same
    destinations have decided. For one event loop."""

    def __init__(self) -> None:
        self._next = 0
        # undecided tickets, in ticket order (dicts keep insertion order): the destinations each could reach
        self._undecided: dict[int, frozenset[str]] = {}
        self._waited: dict[int, asyncio.Future[None]] = {}  # tickets someone waits for, until done

    def take(self, reachable: frozenset[str]) -> int:
        """A ticket for the event consumed now, which may publish to `reachable` at most."""
        ticket = self._next
        self._next += 1
        self._undecided[ticket] = reachable
        return ticket

    async def turn(self, ticket: int, destinations: Collection[str]) -> None:
        """Return once no event consumed before `ticket` and still undecided could publish to `destinations`."""
        while True:
            blocker = None
            for earlier, reachable in self._undecided.items():
                if earlier >= ticket:
                    break
                if not reachable.isdisjoint(destinations):
                    blocker = earlier
                    break
            if blocker is None:
                return
            waited = self._waited.get(blocker)
            if waited is None:
                waited = self._waited[blocker] = asyncio.get_running_loop().create_future()
            await asyncio.shield(waited)  # a cancelled waiter must not cancel the future others wait on

    def done(self, ticket: int) -> None:
        """The event of `ticket` has decided (it publishes now, or never): later ones may pass. Idempotent."""
        self._undecided.pop(ticket, None)
        waited = self._waited.pop(ticket, None)
        if waited is not None:
            waited.set_result(None)

    def __len__(self) -> int:
        """Undecided events."""
        return len(self._undecided)
