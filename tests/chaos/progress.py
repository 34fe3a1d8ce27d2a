"""A count that only grows, and waiting for it to reach a value without polling."""

from __future__ import annotations

import asyncio


class Progress:
    """A count that only grows, and waiting for it to reach a value, event-driven."""

    def __init__(self) -> None:
        self.value = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def advance(self, by: int = 1) -> None:
        self.value += by
        still = []
        for target, future in self._waiters:
            if self.value >= target:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._waiters = still

    async def reach(self, target: int) -> None:
        if self.value >= target:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future
