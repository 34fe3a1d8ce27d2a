"""hookpipe replay: archived events go through the current rules again, restricted as asked, and are neither
delivered to other destinations nor archived again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiohttp
import pytest

from hookpipe.runtime import metrics
from tests.support.broker import connect
from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config, queue_depth, write_config
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

EVENTS = 1000
ARCHIVE = {"max_age": "1h", "max_bytes": "64MiB"}


def hookpipe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "control.cli", *args], capture_output=True, text=True, timeout=120)


async def post_events(config: dict[str, Any], count: int) -> None:
    semaphore = asyncio.Semaphore(50)
    async with aiohttp.ClientSession() as http:

        async def post(n: int) -> None:
            body = {"n": n, "kind": "even" if n % 2 == 0 else "odd"}
            async with semaphore, http.post(ingest_url(config), json=body, headers={"x-test-id": f"e{n}"}) as r:
                assert r.status == 200

        await asyncio.gather(*(post(n) for n in range(count)))


async def stream_length(name: str) -> int:
    """Messages in a stream, read from its start until it has nothing more for a second."""
    count = 0
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=500)
        stream = await channel.declare_queue(name, passive=True)
        inbox: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
        await stream.consume(inbox.put, arguments={"x-stream-offset": "first"})
        while True:
            try:
                message = await asyncio.wait_for(inbox.get(), 1.0)
            except TimeoutError:
                return count
            await message.ack()
            count += 1


def with_new_route(config: dict[str, Any], audit_url: str) -> dict[str, Any]:
    """The config after a route was added: even events also go to a new destination."""
    destinations = dict(config["destinations"])
    destinations["audit"] = dict(destinations["receiver"], url=audit_url)
    routes = [*config["routes"], {"name": "new", "sources": ["demo"], "filter": {"body": {"kind": ["even"]}},
                                  "to": ["audit"]}]
    return dict(config, destinations=destinations, routes=routes)


async def test_replay_of_a_new_route_sends_only_its_matches_to_its_destination(
    prefix, receiver, topology_cleanup, tmp_path
):
    config = pipeline_config(prefix, receiver.url, archive=ARCHIVE)
    topology_cleanup(config)
    before = InProcessPipeline(config)
    await before.start()
    try:
        await post_events(config, EVENTS)
        await receiver.wait_for(lambda r: len(r.ids()) == EVENTS, timeout=120)
    finally:
        await before.stop()
    delivered_before = receiver.requests

    audit = Receiver()
    await audit.start()
    updated = with_new_route(config, audit.url)
    topology_cleanup(updated)
    path = str(write_config(tmp_path, updated))

    # Dry run with no router running: anything it published would still wait in the router's queue.
    dry = await asyncio.to_thread(hookpipe, "replay", "--config", path, "--since", "1h", "--route", "new",
                                  "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"read {EVENTS}, matched {EVENTS // 2}, published 0 (dry run)" in dry.stdout
    assert await queue_depth(f"{prefix}.router") == 0
    # It lists the first 100 events it would replay, each with where the current rules send it, then the rest.
    lines = dry.stdout.splitlines()
    assert len(lines) == 1 + 100 + 2
    assert lines[0].split() == ["ID", "SOURCE", "TYPE", "RECEIVED", "AT", "DESTINATIONS"]
    rows = [line.split() for line in lines[1:101]]
    assert {row[0] for row in rows} < {f"e{n}" for n in range(0, EVENTS, 2)} and len({row[0] for row in rows}) == 100
    assert all(row[1:3] == ["demo", "-"] and row[4:] == ["audit"] for row in rows)
    assert all(0 <= (datetime.now(UTC) - datetime.fromisoformat(row[3])).total_seconds() < 3600 for row in rows)
    assert lines[101] == f"... and {EVENTS // 2 - 100} more (--list N lists more)"

    routed = metrics.ROUTER_REPLAYED_EVENTS.labels(outcome="routed")
    routed_before = routed._value.get()
    after = InProcessPipeline(updated, services=("router", "deliverer"))
    await after.start()
    try:
        done = await asyncio.to_thread(hookpipe, "replay", "--config", path, "--since", "1h", "--route", "new")
        assert done.returncode == 0, done.stderr
        assert f"read {EVENTS}, matched {EVENTS // 2}, published {EVENTS // 2}" in done.stdout
        even = {f"e{n}" for n in range(0, EVENTS, 2)}
        await audit.wait_for(lambda r: r.ids() == even, timeout=120)
        assert routed._value.get() - routed_before == EVENTS // 2
        assert all(r.headers["x-hookpipe-replay"] == "true" for r in audit.received)
    finally:
        await after.stop()
        await audit.stop()
    assert receiver.requests == delivered_before  # the existing destination got nothing
    assert await queue_depth(f"{prefix}.deliver.receiver") == 0
    assert await stream_length(f"{prefix}.archive") == EVENTS  # replays were not archived again


async def test_replay_keeps_to_its_window_and_filters(prefix, receiver, topology_cleanup, tmp_path):
    """Events after --until stay out; --id picks one event; --destination replays to that destination only."""
    config = pipeline_config(prefix, receiver.url, archive=ARCHIVE)
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        await post_events(config, 10)
        await receiver.wait_for(lambda r: len(r.ids()) == 10, timeout=60)
        until = datetime.now(UTC)  # after every event of the first batch was received
        await asyncio.sleep(0.01)  # received_at has whole milliseconds: the second batch is strictly later
        async with aiohttp.ClientSession() as http:
            for n in range(10, 15):
                async with http.post(ingest_url(config), json={"n": n}, headers={"x-test-id": f"e{n}"}) as r:
                    assert r.status == 200
        await receiver.wait_for(lambda r: len(r.ids()) == 15, timeout=60)
        first = len(receiver.received)

        windowed = await asyncio.to_thread(hookpipe, "replay", "--config", path, "--since", "1h",
                                           "--until", until.isoformat(), "--destination", "receiver")
        assert windowed.returncode == 0, windowed.stderr
        assert "read 10, matched 10, published 10" in windowed.stdout
        await receiver.wait_for(lambda r: len(r.received) == first + 10, timeout=60)
        replayed = [r.headers["webhook-id"] for r in receiver.received[first:]]
        assert sorted(replayed) == sorted(f"e{n}" for n in range(10))

        listed = await asyncio.to_thread(hookpipe, "replay", "--config", path, "--since", "1h", "--id", "e12",
                                         "--dry-run")
        assert listed.returncode == 0, listed.stderr
        header, row, counts = listed.stdout.splitlines()
        assert header.split() == ["ID", "SOURCE", "TYPE", "RECEIVED", "AT", "DESTINATIONS"]
        assert row.split()[:3] == ["e12", "demo", "-"] and row.split()[4:] == ["receiver"]
        assert until < datetime.fromisoformat(row.split()[3])  # the second batch, after --until above
        assert counts.endswith("read 15, matched 1, published 0 (dry run)")

        one = await asyncio.to_thread(hookpipe, "replay", "--config", path, "--since", "1h", "--id", "e12")
        assert one.returncode == 0, one.stderr
        assert "read 15, matched 1, published 1" in one.stdout
        await receiver.wait_for(lambda r: len(r.received) == first + 11, timeout=60)
        assert receiver.received[-1].headers["webhook-id"] == "e12"
    finally:
        await pipeline.stop()
