"""The admin index's searches over a million events: p50 and p99 of each query shape, on SQLite and PostgreSQL.

Fills an index (control.admin.index) with synthetic events through bulk inserts, bypassing the indexer: five
sources with four types each, six destinations (one or two per event), statuses mixed as a busy pipeline has
them (mostly delivered, some failing, pending, dead and unrouted), one to three attempts per delivery tried,
received over the last seven days. Then times each query shape through the Index's async API (its worker
thread included), many times with random parameters, and prints p50 and p99 in milliseconds.

    .venv/bin/python bench/search.py                                  # SQLite, 1,000,000 events (a few minutes)
    .venv/bin/python bench/search.py --events 100000 --runs 100       # quicker
    .venv/bin/python bench/search.py --postgres postgresql://postgres@127.0.0.1:5432/test   # and PostgreSQL

The SQLite file goes to a temporary folder (deleted after, unless --keep); on PostgreSQL the events go to a new
schema of the database the URL names, dropped after. See bench/README.md ("bench/search.py").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from control.admin.index import EventQuery, Index, open_index  # noqa: E402
from control.admin.index.database import Database, connect_database  # noqa: E402
from control.admin.index.merge import (  # noqa: E402
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    ArchivedEvent,
    event_status,
)
from control.admin.index.schema import create_schema  # noqa: E402
from control.admin.index.writes import Batch  # noqa: E402
from hookpipe.delivery_log import Attempt, Decision, Routed  # noqa: E402
from hookpipe.event import now_ms  # noqa: E402

SOURCES = ("stripe", "github", "shopify", "slack", "twilio")
TYPES = {source: tuple(f"{source}.event.{n}" for n in range(4)) for source in SOURCES}
DESTINATIONS = ("billing", "audit", "crm", "warehouse", "search", "notify")

#: How deliveries end, and how often (weights).
DELIVERY_OUTCOMES = (("delivered", 90), ("failing", 4), ("pending", 3), ("dead", 2))

#: Events no route matched, per thousand.
UNROUTED_PER_MILLE = 10

#: Days the events' received_at spans, back from now.
SPAN_DAYS = 7

#: Events generated and inserted per transaction.
CHUNK = 20_000


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def synthetic(count: int, seed: int, now: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]],
                                                                 list[tuple[Any, ...]], list[tuple[str, int]]]]:
    """Chunks of (events, deliveries, attempts, (id, received_at) of each event) rows, oldest first."""
    rng = random.Random(seed)
    span = SPAN_DAYS * 86_400_000
    outcomes = [outcome for outcome, _ in DELIVERY_OUTCOMES]
    weights = [weight for _, weight in DELIVERY_OUTCOMES]
    offset = 0
    for start in range(0, count, CHUNK):
        events, deliveries, attempts, ids = [], [], [], []
        for n in range(start, min(count, start + CHUNK)):
            received_at = now - span + n * span // count + rng.randrange(50)
            event_id = str(uuid.UUID(int=rng.getrandbits(128)))
            source = rng.choice(SOURCES)
            routed_to = [] if rng.randrange(1000) < UNROUTED_PER_MILLE else rng.sample(DESTINATIONS, rng.randint(1, 2))
            statuses = []
            for destination in routed_to:
                status = rng.choices(outcomes, weights)[0]
                statuses.append(status)
                tries = 0 if status == "pending" else rng.randint(1, 3)
                at = received_at + 20
                for attempt in range(1, tries + 1):
                    delivered = status == "delivered" and attempt == tries
                    attempts.append((offset, 0, event_id, destination, attempt, at, 35, delivered,
                                     "ok" if delivered else "http_status", 200 if delivered else 503,
                                     "" if delivered else "HTTP 503", "" if delivered else "unavailable", False, False))
                    offset += 1
                    at += 1000 * attempt
                dead = status == "dead"
                deliveries.append((event_id, destination, status, tries, at if tries else None, received_at,
                                   "exhausted" if dead else None, at + 1 if dead else None, tries if dead else None,
                                   offset if dead else None, 0 if dead else None))
            decision = "routed" if routed_to else "unmatched"
            events.append((event_id, source, rng.choice(TYPES[source]), received_at, "application/json",
                           rng.randint(200, 4000), '{"user-agent":"bench/1.0"}', n, False, decision,
                           '["r"]' if routed_to else "[]", json.dumps(routed_to), None, received_at + 5, n, 0,
                           event_status(decision, statuses).value, received_at))
            ids.append((event_id, received_at))
        yield events, deliveries, attempts, ids


def fill(database: Database, count: int, seed: int, now: int) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """Insert `count` events with their deliveries and attempts; returns a sample of (id, received_at) and the
    rows per table."""
    rows = {"events": 0, "deliveries": 0, "attempts": 0}
    sample: list[tuple[str, int]] = []
    started = time.perf_counter()
    for events, deliveries, attempts, ids in synthetic(count, seed, now):
        with database.transaction():
            for table, columns, values in (("events", EVENT_COLUMNS, events),
                                           ("deliveries", DELIVERY_COLUMNS, deliveries),
                                           ("attempts", ATTEMPT_COLUMNS, attempts)):
                bulk_insert(database, table, columns, values)
                rows[table] += len(values)
        sample += ids[:: max(1, len(ids) // 200)]
        done = rows["events"]
        if done % 100_000 < CHUNK:
            log(f"{done:,} events in {time.perf_counter() - started:.0f} s")
    return sample, rows


def bulk_insert(database: Database, table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL, executemany on SQLite."""
    connection = getattr(database, "_connection", None)
    if database.postgres and connection is not None:
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return
    database.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         values)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


#: One timed call of a query shape: (milliseconds, rows it gave).
Shape = Callable[[Index], Awaitable[tuple[float, int]]]


def query_shapes(sample: list[tuple[str, int]], now: int, rng: random.Random) -> list[tuple[str, Shape]]:
    """(name, one timed call) for each query shape, its parameters drawn at random for each call."""
    hour = 3_600_000
    span = SPAN_DAYS * 86_400_000

    def searching(make: Callable[[], EventQuery]) -> Shape:
        async def run(index: Index) -> tuple[float, int]:
            query = make()
            started = time.perf_counter()
            page = await index.search(query)
            return (time.perf_counter() - started) * 1000, len(page.items)
        return run

    async def by_id(index: Index) -> tuple[float, int]:
        event_id = rng.choice(sample)[0]
        started = time.perf_counter()
        found = await index.event(event_id)
        return (time.perf_counter() - started) * 1000, int(found is not None)

    async def second_page(index: Index) -> tuple[float, int]:
        source = rng.choice(SOURCES)
        first = await index.search(EventQuery(source=source))  # not timed
        started = time.perf_counter()
        second = await index.search(EventQuery(source=source, cursor=first.next_cursor))
        return (time.perf_counter() - started) * 1000, len(second.items)

    def hour_window() -> EventQuery:
        until = now - rng.randrange(span - hour)
        return EventQuery(since=until - hour, until=until)

    def combination() -> EventQuery:
        source = rng.choice(SOURCES)
        return EventQuery(source=source, type=rng.choice(TYPES[source]), status="failing",
                          since=now - 3 * 86_400_000)

    return [
        ("event by id", by_id),
        ("newest, no filter", searching(lambda: EventQuery())),
        ("source", searching(lambda: EventQuery(source=rng.choice(SOURCES)))),
        ("type", searching(lambda: EventQuery(type=rng.choice(TYPES[rng.choice(SOURCES)])))),
        ("destination", searching(lambda: EventQuery(destination=rng.choice(DESTINATIONS)))),
        ("destination + status failing", searching(
            lambda: EventQuery(destination=rng.choice(DESTINATIONS), status="failing"))),
        ("status dead", searching(lambda: EventQuery(status="dead"))),
        ("time range (1 h)", searching(hour_window)),
        ("source + type + status failing + since 3d", searching(combination)),
        ("destination + status dead + source", searching(lambda: EventQuery(
            destination=rng.choice(DESTINATIONS), status="dead", source=rng.choice(SOURCES)))),
        ("second page (cursor) of a source", second_page),
    ]


async def time_shapes(index: Index, sample: list[tuple[str, int]], now: int, runs: int, seed: int
                      ) -> list[dict[str, Any]]:
    results = []
    for name, call in query_shapes(sample, now, random.Random(seed)):
        for _ in range(max(3, runs // 20)):  # warm the caches, as a running admin has them
            await call(index)
        samples, rows = [], 0
        for _ in range(runs):
            milliseconds, rows = await call(index)
            samples.append(milliseconds)
        results.append({"query": name, "p50_ms": round(percentile(samples, 0.5), 3),
                        "p99_ms": round(percentile(samples, 0.99), 3), "rows": rows, "runs": runs})
    return results


async def time_writes(location: str, count: int, now: int) -> float:
    """Events/s through the indexer's write path (Index.apply: load, merge, upsert, in batches of 1,000 events,
    each archived with a routing decision and one attempt to each of two destinations, as the streams bring them);
    the index is emptied after."""
    index = await open_index(location)
    if not await index.try_lock():
        raise RuntimeError("another indexer holds this index's lock")
    committed: dict[str, int] = {}
    log_offset = 0
    started = time.perf_counter()
    try:
        for start in range(0, count, 1000):
            batch = Batch()
            for n in range(start, min(count, start + 1000)):
                event_id, at = f"write-{n:09d}", now - 60_000 + n
                batch.archived.append(ArchivedEvent(event_id, "stripe", "charge.succeeded", at, "application/json",
                                                    900, {"user-agent": "bench/1.0"}, n))
                batch.records += [
                    ((log_offset, 0), Routed(event_id, "stripe", "charge.succeeded", at, at + 5, Decision.ROUTED,
                                             ("r",), ("billing", "audit"))),
                    ((log_offset + 1, 0), Attempt(event_id, "billing", 1, at + 10, 30, True, "ok", 200)),
                    ((log_offset + 2, 0), Attempt(event_id, "audit", 1, at + 11, 30, True, "ok", 200)),
                ]
                log_offset += 3
            batch.cursors = {"archive": min(count, start + 1000), "attempts": log_offset}
            await index.apply(batch, committed)
        elapsed = time.perf_counter() - started
        await index.reset()
    finally:
        await index.close()
    return count / elapsed


async def measure(location: str, label: str, args: argparse.Namespace, now: int) -> dict[str, Any]:
    writes = await time_writes(location, args.writes, now) if args.writes else None
    if writes is not None:
        log(f"{label}: the indexer's writes: {writes:,.0f} events/s (an archived event and 3 records each)")
    database = connect_database(location)
    create_schema(database)
    log(f"{label}: filling {args.events:,} events")
    started = time.perf_counter()
    sample, rows = fill(database, args.events, args.seed, now)
    filled = time.perf_counter() - started
    analysed = time.perf_counter()
    database.execute("ANALYZE") if database.postgres else database.optimize()
    analysed = time.perf_counter() - analysed
    database.close()
    log(f"{label}: filled in {filled:.0f} s ({rows}); statistics in {analysed:.2f} s; timing {args.runs} runs/shape")
    index = await open_index(location)
    try:
        results = await time_shapes(index, sample, now, args.runs, args.seed)
    finally:
        await index.close()
    return {"backend": label, "events": args.events, "rows": rows, "fill_seconds": round(filled, 1),
            "indexer_events_per_second": None if writes is None else round(writes),
            "statistics_seconds": round(analysed, 2), "queries": results}


def render(report: dict[str, Any]) -> str:
    lines = [f"{report['backend']}: {report['rows']['events']:,} events, {report['rows']['deliveries']:,} deliveries, "
             f"{report['rows']['attempts']:,} attempts (filled in {report['fill_seconds']:.0f} s"
             + (f", {report['file_bytes'] / 1e6:,.0f} MB" if "file_bytes" in report else "") + ")",
             f"  {'query':<44} {'p50 ms':>8} {'p99 ms':>8} {'rows':>5}"]
    if report["indexer_events_per_second"] is not None:
        lines.insert(1, f"  indexer writes: {report['indexer_events_per_second']:,} events/s "
                        "(each archived, routed, and attempted to two destinations)")
    for query in report["queries"]:
        lines.append(f"  {query['query']:<44} {query['p50_ms']:>8.2f} {query['p99_ms']:>8.2f} {query['rows']:>5}")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to index (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=300, help="timed runs per query shape (default 300)")
    parser.add_argument("--postgres", metavar="URL", help="also measure PostgreSQL, in a new schema of this database")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file and the PostgreSQL schema")
    parser.add_argument("--writes", type=int, default=50_000,
                        help="events first written through the indexer's write path, timed (default 50,000; 0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    now = now_ms()
    reports = []
    if not args.no_sqlite:
        folder = Path(tempfile.mkdtemp(prefix="hookpipe-bench-search-"))
        try:
            reports.append(await measure(str(folder / "index.sqlite3"), "SQLite", args, now))
            reports[-1]["file_bytes"] = _size(folder)
        finally:
            if args.keep:
                log(f"kept {folder}")
            else:
                shutil.rmtree(folder)
    if args.postgres:
        reports.append(await _measure_postgres(args, now))
    for report in reports:
        print(render(report), file=sys.stderr)
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


def _size(folder: Path) -> int:
    """Bytes of the SQLite file with its WAL."""
    return sum(path.stat().st_size for path in folder.iterdir())


async def _measure_postgres(args: argparse.Namespace, now: int) -> dict[str, Any]:
    import psycopg

    schema = f"bench_search_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            separator = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{separator}options={quote(f'-csearch_path={schema}')}"
            return await measure(url, "PostgreSQL", args, now)
        finally:
            if args.keep:
                log(f"kept schema {schema}")
            else:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
