"""The index's two databases behind one small interface: SQLite (a file, the default) and PostgreSQL (a URL).

Every method blocks: the Index calls them from its one worker thread, never from the event loop. SQL is written
once, with `?` placeholders and portable syntax (upserts with ON CONFLICT, row-value comparisons); the
PostgreSQL side turns `?` into psycopg's `%s`, so SQL text here never holds a literal `%`.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

log = logging.getLogger("hookpipe.admin.index")

#: Seconds a PostgreSQL connection attempt may take.
POSTGRES_CONNECT_TIMEOUT = 10

#: Milliseconds SQLite waits for another connection's write lock (another process on the same file) before
#: failing the statement.
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: Rows of each index SQLite's ANALYZE reads for its statistics: enough for the planner to tell a selective
#: index from a broad one, and quick on millions of rows.
SQLITE_ANALYSIS_ROWS = 1000

Row = tuple[Any, ...]


def is_postgres(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


class Database(abc.ABC):
    """One connection to the index's database. Subclasses say how to connect and lock."""

    postgres = False

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; its rows (none for a statement that returns none)."""

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Everything inside commits together, or not at all (the exception goes on)."""

    def try_lock(self) -> bool:
        """Take the indexer's lock if nobody holds it: True if this connection holds it now."""
        return True

    def holds_lock(self) -> bool:
        """Whether the lock taken by try_lock is still held (a lost connection loses it)."""
        return True

    def unlock(self) -> None:
        return None

    def optimize(self) -> None:
        """Refresh the planner's statistics where the database does not by itself."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (a SQLite index refreshes its planner statistics first)."""


class SqliteDatabase(Database):
    """A SQLite file in WAL mode with synchronous=NORMAL: a commit is durable against a crash of hookpipe admin,
    and may lose the last transactions (not the file) on a power loss, which a rebuild from the streams repairs.

    One process indexes a file at a time: the indexer's lock is an exclusive flock on `<file>.lock`, which the
    kernel releases when its holder exits, however it ends. A second hookpipe admin on the same file answers
    from it and stands by, as replicas sharing a PostgreSQL index do."""

    def __init__(self, path: str) -> None:
        self._lock_path = f"{path}.lock"
        self._lock: int | None = None  # the lock file's descriptor, while this process holds the lock
        self._connection = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
                       "foreign_keys=OFF"):
            self._connection.execute(f"PRAGMA {pragma}")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._connection.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._connection.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._connection.execute("BEGIN IMMEDIATE")  # take the write lock now, not at the first write
        try:
            yield
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def try_lock(self) -> bool:
        if self._lock is not None:
            return True
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._lock = descriptor
        return True

    def holds_lock(self) -> bool:
        return self._lock is not None

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases its flock
            self._lock = None

    def optimize(self) -> None:
        """Refresh the planner's statistics from a sample of each index (milliseconds, whatever the size).
        A full ANALYZE rather than PRAGMA optimize: the latter never analyses a table that has no statistics."""
        self._connection.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_ROWS}")
        self._connection.execute("ANALYZE")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.optimize()
        self._connection.close()
        self.unlock()


class PostgresDatabase(Database):
    """A PostgreSQL connection (psycopg 3), shared by the searches and the indexer of one hookpipe admin. It
    reconnects on the next call after the connection is lost. The indexer's lock is a session advisory lock on
    this connection, keyed by the schema the tables live in (the URL's search_path): when the process dies or the
    connection drops, PostgreSQL releases it and another replica takes over."""

    postgres = True

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: Any = None
        self._lock_key = 0
        self._locked_by: Any = None  # the connection that holds the lock, while it does
        self._connect()

    def _connect(self) -> Any:
        import psycopg  # only a PostgreSQL index needs it (the `postgres` extra)

        if self._connection is None or self._connection.closed or self._connection.broken:
            self._connection = psycopg.connect(self._url, autocommit=True, connect_timeout=POSTGRES_CONNECT_TIMEOUT)
            schema = self._connection.execute("SELECT current_schema()").fetchone()[0]
            digest = hashlib.sha256(f"hookpipe admin index {schema}".encode()).digest()
            self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
        return self._connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._connect().execute(_placeholders(sql), _text_safe(params))
        return cursor.fetchall() if cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._connect().cursor() as cursor:
                cursor.executemany(_placeholders(sql), [_text_safe(row) for row in rows])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._connect().transaction():
            yield

    def try_lock(self) -> bool:
        if self.holds_lock():
            return True
        connection = self._connect()
        if connection.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key,)).fetchone()[0]:
            self._locked_by = connection
            return True
        return False

    def holds_lock(self) -> bool:
        connection = self._connection
        return self._locked_by is not None and self._locked_by is connection and not (connection.closed or
                                                                                       connection.broken)

    def unlock(self) -> None:
        if self.holds_lock():
            with contextlib.suppress(Exception):
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))
        self._locked_by = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def connect_database(location: str) -> Database:
    """A SQLite file path, or a postgresql:// URL (PostgreSQL's search_path, if the URL sets one through
    `options=-csearch_path=...`, picks the schema)."""
    if is_postgres(location):
        return PostgresDatabase(location)
    return SqliteDatabase(location)


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    if "%" in sql:
        raise ValueError("index SQL must not contain '%' (psycopg reads it as a placeholder)")
    return sql.replace("?", "%s")


def _text_safe(params: Sequence[Any]) -> Sequence[Any]:
    """PostgreSQL text cannot hold NUL, which a receiver's answer or an error text may: it becomes U+FFFD."""
    if not any(isinstance(value, str) and "\x00" in value for value in params):
        return params
    return [value.replace("\x00", "\ufffd") if isinstance(value, str) else value for value in params]
