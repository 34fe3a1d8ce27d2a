"""The delivery-log index as the admin API sees it: an async facade over one database connection.

Every database call runs in the index's one worker thread, in the order made, so the event loop never waits on
the database, and a search always sees whole batches (each is one transaction).
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from control.admin.index import reads, writes
from control.admin.index.database import Database, connect_database
from control.admin.index.query import EventQuery, Page
from control.admin.index.schema import create_schema

P = ParamSpec("P")
T = TypeVar("T")


async def open_index(location: str) -> Index:
    """The index at `location`: a SQLite file path (created if missing) or a `postgresql://` URL (its
    search_path, `?options=-csearch_path%3Dname`, picks an existing schema). Creates the tables if missing.
    Raises the database's error when it cannot be opened (sqlite3.Error, psycopg.Error)."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookpipe-index")
    try:
        database = await asyncio.get_running_loop().run_in_executor(executor, _open, location)
    except BaseException:
        executor.shutdown(wait=False)
        raise
    return Index(database, executor)


def _open(location: str) -> Database:
    database = connect_database(location)
    try:
        create_schema(database)
    except BaseException:
        database.close()
        raise
    return database


class Index:
    """Searches and event documents for the admin API; batches, retention and the indexer's lock for the Indexer.

    Made by open_index. Rebuilding: `reset()` empties it (or, with hookpipe admin stopped, delete the SQLite
    file), and the Indexer reads both streams from their start again.
    """

    def __init__(self, database: Database, executor: ThreadPoolExecutor) -> None:
        self._database = database
        self._executor = executor
        #: How many times reset() has run here: an Indexer in this process restarts its reading when it changes.
        self.resets = 0

    @property
    def shared(self) -> bool:
        """True for a PostgreSQL index, which several hookpipe admin replicas may share."""
        return self._database.postgres

    async def _call(self, function: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(function, self._database, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def search(self, query: EventQuery) -> Page:
        """Matching events, newest first (by received_at, then id), one page; raises BadCursor for a cursor this
        index did not hand out. Each item: id, source, type, received_at, status, replay (routed or delivered again
        by a replay or a resend), and destinations (name, status, attempts) by name. Events known so far only from
        delivery records (no received_at yet) are listed once their routing decision or archived copy is in."""
        return await self._call(reads.search, query)

    async def event(self, event_id: str) -> dict[str, Any] | None:
        """The event's document (control.admin.index.reads.event_document), or None if the index has no record
        of it."""
        return await self._call(reads.event_document, event_id)

    async def archive_offset(self, event_id: str) -> int | None:
        """Where the event is in the archive stream (read it with read_archived), or None if not archived."""
        return await self._call(reads.archive_offset, event_id)

    async def reset(self) -> None:
        """Drop every row and cursor: the Indexer reads both streams from their start again."""
        await self._call(writes.reset)
        self.resets += 1

    async def close(self) -> None:
        try:
            await self._call(lambda database: database.close())
        finally:
            self._executor.shutdown(wait=False)

    # --- for the Indexer --------------------------------------------------------------------------------------

    async def apply(self, batch: writes.Batch, committed: dict[str, int]) -> Counter[str]:
        """Write `batch` with its cursors in one transaction (control.admin.index.writes.apply_batch); raises
        CursorsMoved if the stored cursors are no longer `committed`, which then takes the new ones."""
        return await self._call(writes.apply_batch, batch, committed)

    async def cursors(self) -> dict[str, int]:
        """Per stream, the offset of the next message to index."""
        return await self._call(writes.read_cursors)

    async def cursors_are(self, committed: dict[str, int]) -> bool:
        return await self._call(writes.cursors_are, committed)

    async def delete_expired(self, cutoff: int) -> int:
        """Delete every event received before `cutoff` (UTC ms) with its deliveries and attempts, a chunk per
        transaction so searches run in between; returns how many."""
        deleted = 0
        while True:
            chunk = await self._call(writes.delete_expired, cutoff)
            deleted += chunk
            if chunk < writes.RETENTION_CHUNK:
                return deleted

    async def optimize(self) -> None:
        """Refresh SQLite's planner statistics (PostgreSQL's autovacuum does its own)."""
        await self._call(lambda database: database.optimize())

    async def try_lock(self) -> bool:
        """Take the indexer's lock: always at once on SQLite (one process per file); on PostgreSQL True only for
        the one connection holding its advisory lock, until that connection is lost."""
        return await self._call(lambda database: database.try_lock())

    async def holds_lock(self) -> bool:
        return await self._call(lambda database: database.holds_lock())

    async def unlock(self) -> None:
        await self._call(lambda database: database.unlock())
