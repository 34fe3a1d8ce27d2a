"""What every admin API handler works with: the config in force (replaced whole on reload), the index, and the
one broker link the actions use (reads of queues and the archive, publishes with confirm)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aio_pika.abc import AbstractConnection
from aiohttp import web

from control.admin.errors import ApiError, ErrorReason
from hookpipe.amqp.broker import Publisher, describe
from hookpipe.amqp.topology import Names
from hookpipe.config import Config
from hookpipe.event import Event
from router.rules import RouteTable, compile_routes

if TYPE_CHECKING:
    from control.admin.index import EventQuery, Page

log = logging.getLogger("control.admin")

T = TypeVar("T")

#: Longest wait for the broker link before an action answers 503 (s): a client should not hang on an outage.
BROKER_WAIT = 3.0

#: Deadline of one publish the API makes, from call to confirm (s).
PUBLISH_TIMEOUT = 10.0


class EventIndex(Protocol):
    """The part of control.admin.index.Index the API reads."""

    async def search(self, query: EventQuery) -> Page: ...

    async def event(self, event_id: str) -> dict[str, Any] | None: ...

    async def archive_offset(self, event_id: str) -> int | None: ...


class GuardedIndex:
    """The index as the handlers use it: a failure of its database (locked, unreachable, a bug) answers 503
    index_unavailable, logged, instead of a 500. What a caller got wrong (BadCursor and the query's own checks,
    both ValueError) passes through."""

    def __init__(self, index: EventIndex) -> None:
        self._index = index

    async def search(self, query: EventQuery) -> Page:
        return await self._guard(self._index.search(query))

    async def event(self, event_id: str) -> dict[str, Any] | None:
        return await self._guard(self._index.event(event_id))

    async def archive_offset(self, event_id: str) -> int | None:
        return await self._guard(self._index.archive_offset(event_id))

    async def _guard(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except (ValueError, asyncio.CancelledError):
            raise
        except Exception as error:
            log.error("admin API: the index failed", extra={"error": describe(error)})
            raise ApiError(ErrorReason.INDEX_UNAVAILABLE, "the index failed to answer; see the log") from None


#: Reads one event back from the archive stream at an offset (control.admin.index.read_archived).
ArchiveReader = Callable[[AbstractConnection, Names, int, str], Awaitable[Event | None]]


@dataclass(frozen=True, slots=True)
class AdminState:
    """The config in force and its compiled routes, swapped as one on reload."""

    config: Config
    routes: RouteTable

    @classmethod
    def of(cls, config: Config) -> AdminState:
        """Raises ConfigError when the routes do not compile."""
        return cls(config, compile_routes(config))


class AdminContext:
    """Shared by the handlers (one per app). `state` is read once per request: a reload meanwhile does not mix
    two configs within one answer."""

    def __init__(self, state: AdminState, *, index: EventIndex, publisher: Publisher, read_archived: ArchiveReader,
                 token: Callable[[], str]) -> None:
        self.state = state
        self.index = GuardedIndex(index)
        self.publisher = publisher
        self.read_archived = read_archived
        self.token = token
        self._bulk = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def one_bulk_action(self, what: str) -> AsyncIterator[None]:
        """Replays and purges run one at a time: each reads whole queues or the archive and publishes as fast as
        the broker confirms, and two at once would compete for the same messages. 409 action_running meanwhile."""
        if self._bulk.locked():
            raise ApiError(ErrorReason.ACTION_RUNNING, f"another replay or purge is running: {what} waits for it "
                                                       "to end (try again)")
        async with self._bulk:
            yield

    @property
    def config(self) -> Config:
        return self.state.config

    @property
    def names(self) -> Names:
        return Names.of(self.state.config.broker)

    async def connection(self) -> AbstractConnection:
        """The actions link's connection, waiting up to BROKER_WAIT for it; else 503 broker_unavailable."""
        link = self.publisher.link
        if await link.wait_ready(BROKER_WAIT):
            connection = link.connection
            if connection is not None and not connection.is_closed:
                return connection
        why = f": {link.last_error}" if link.last_error else ""
        raise ApiError(ErrorReason.BROKER_UNAVAILABLE, f"the broker cannot be reached{why}")


#: Where the app keeps its AdminContext.
CONTEXT = web.AppKey("admin_context", AdminContext)


def context_of(request: web.Request) -> AdminContext:
    return request.app[CONTEXT]
