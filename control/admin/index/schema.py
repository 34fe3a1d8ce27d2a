"""The index's tables and indexes, the same SQL on SQLite and PostgreSQL.

- `events`: one row per event id, from the archive (metadata, where it is in the archive) and the delivery log
  (the latest routing decision), with its status worked out on every change (control.admin.index.merge).
- `deliveries`: one row per event and destination, its status and attempt count, and the event's `received_at`
  copied so that a search by destination walks one index.
- `attempts`: one row per attempt record, keyed by its place in the delivery log, so reading a message twice
  never counts an attempt twice.
- `cursors`: per stream, the offset of the next message to read; written in the same transaction as the rows a
  batch of messages produced, so a restart neither skips nor repeats a message.

Every search is a walk down one composite index ending in (received_at, id), newest first, from the page
cursor: its cost is the page, not the table (bench/search.py measures it over a million events).
"""

from __future__ import annotations

from control.admin.index.database import Database

TABLES = (
    """CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY,
        source TEXT,
        type TEXT,
        received_at BIGINT,
        content_type TEXT,
        size BIGINT,
        headers TEXT,
        archive_offset BIGINT,
        replay BOOLEAN NOT NULL,
        decision TEXT,
        routes TEXT,
        destinations TEXT,
        reason TEXT,
        routed_at BIGINT,
        routed_offset BIGINT,
        routed_index INTEGER,
        status TEXT NOT NULL,
        seen_at BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS deliveries (
        event_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_at BIGINT,
        received_at BIGINT,
        dead_reason TEXT,
        dead_at BIGINT,
        dead_attempts INTEGER,
        dead_offset BIGINT,
        dead_index INTEGER,
        PRIMARY KEY (event_id, destination)
    )""",
    """CREATE TABLE IF NOT EXISTS attempts (
        log_offset BIGINT NOT NULL,
        log_index INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        delivered BOOLEAN NOT NULL,
        reason TEXT NOT NULL,
        status INTEGER,
        error TEXT NOT NULL,
        response TEXT NOT NULL,
        replay BOOLEAN NOT NULL,
        resend BOOLEAN NOT NULL,
        PRIMARY KEY (log_offset, log_index)
    )""",
    """CREATE TABLE IF NOT EXISTS cursors (
        stream TEXT PRIMARY KEY,
        next_offset BIGINT NOT NULL
    )""",
)

INDEXES = (
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_by_source ON events (source, received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_by_type ON events (type, received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_by_status ON events (status, received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_by_source_status ON events (source, status, received_at, id)",
    # Events known only from delivery records (no received_at yet), for retention.
    "CREATE INDEX IF NOT EXISTS events_unreceived ON events (seen_at) WHERE received_at IS NULL",
    "CREATE INDEX IF NOT EXISTS deliveries_by_destination ON deliveries (destination, received_at, event_id)",
    "CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (destination, status, received_at, event_id)",
    "CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (event_id, destination, at, log_offset, log_index)",
)

#: PostgreSQL: the transaction-level advisory lock that makes replicas starting together create the tables one
#: at a time (two concurrent CREATE TABLE IF NOT EXISTS can both try to create the table's type and one fails).
SCHEMA_LOCK = 0x686F6F6B70697065  # "hookpipe"


def create_schema(database: Database) -> None:
    """Create every table and index that is missing; existing ones are left as they are."""
    with database.transaction():
        if database.postgres:
            database.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
        for statement in (*TABLES, *INDEXES):
            database.execute(statement)
