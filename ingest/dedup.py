"""Best-effort suppression of repeated provider event ids (`dedup`, docs/configuration.md).

An optimisation, never a guarantee: it is per process, bounded, and an id is remembered only after its publish
was confirmed, so a failed publish never makes the provider's retry look like a duplicate. Replay protection
proper comes from the timestamped schemes' tolerance. Receivers still dedupe by `webhook-id`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable


class RecentIds:
    """Ids published within the last `window` seconds, at most `max_ids` of them (oldest forgotten first)."""

    def __init__(self, *, window: float, max_ids: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.max_ids = max_ids
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._publishing: dict[str, asyncio.Future[bool]] = {}

    def __len__(self) -> int:
        return len(self._expiry)

    def seen(self, event_id: str) -> bool:
        expiry = self._expiry.get(event_id)
        if expiry is None:
            return False
        if expiry < self._clock():
            del self._expiry[event_id]
            return False
        return True

    def remember(self, event_id: str) -> None:
        self._expiry[event_id] = self._clock() + self.window
        self._expiry.move_to_end(event_id)
        while len(self._expiry) > self.max_ids:
            self._expiry.popitem(last=False)

    def publishing(self, event_id: str) -> asyncio.Future[bool] | None:
        """The outcome of a publish of this id in progress (True once confirmed), if one is."""
        return self._publishing.get(event_id)

    def begin(self, event_id: str) -> asyncio.Future[bool]:
        """Mark a publish of `event_id` as in progress; settle it with `end`."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._publishing[event_id] = future
        return future

    def end(self, event_id: str, future: asyncio.Future[bool], *, published: bool) -> None:
        if self._publishing.get(event_id) is future:
            del self._publishing[event_id]
        if published:
            self.remember(event_id)
        if not future.done():
            future.set_result(published)
