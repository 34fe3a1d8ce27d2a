"""`hookpipe events show ID` tells what happened to an event: when the archive got it, every attempt (from the
delivery-log index, when there is one), where and why it was dead-lettered; and says so when it is nowhere."""

from __future__ import annotations

import asyncio

import pytest

from control.admin.index import Indexer, open_index
from hookpipe.amqp.broker import Link
from hookpipe.config import load_config
from hookpipe.event import now_ms
from tests.integration.test_status import refuse_the_refused
from tests.support.cli import hookpipe
from tests.support.pipeline import (
    InProcessPipeline,
    pipeline_config,
    post_events,
    queue_depth,
    wait_for_depth,
    write_config,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def history(prefix, receiver, topology_cleanup, tmp_path):
    """`kept-1` delivered to `receiver`; `refuse-1` refused with 400 by `refuse`, which dead-letters it. Returns
    the config file and the window (UTC ms) in which both were ingested."""
    receiver.respond = refuse_the_refused
    base = pipeline_config(prefix, receiver.url)["destinations"]["receiver"]
    destinations = {"receiver": base, "refuse": {**base, "dead_letter_on": [400]}}
    routes = [{"name": "kept", "sources": ["demo"], "filter": {"id": [{"prefix": "kept-"}]}, "to": ["receiver"]},
              {"name": "refused", "sources": ["demo"], "filter": {"id": [{"prefix": "refuse-"}]}, "to": ["refuse"]}]
    config = pipeline_config(prefix, receiver.url, destinations=destinations, routes=routes,
                             archive={"max_age": "1h", "max_bytes": "10MiB"},
                             admin={"index": str(tmp_path / "index.sqlite3")})  # none yet: no admin ran
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        before = now_ms()
        await post_events(config, ["kept-1", "refuse-1"], body=b'{"n": 1}')
        after = now_ms()
        await receiver.wait_for_ids({"kept-1"}, timeout=10)
        await wait_for_depth(f"{prefix}.dead.refuse", 1)
        yield str(write_config(tmp_path, config)), (before, after)
    finally:
        await pipeline.stop()


async def test_a_dead_lettered_event_shows_when_it_was_archived_and_why_it_died(history, prefix):
    path, (before, after) = history
    result = await hookpipe("events", "show", "refuse-1", "--config", path, "--json")
    assert result.returncode == 0, result.stderr
    found = result.json()
    assert found["found"] is True
    [copy] = found["archive"]["copies"]
    assert before <= copy["received_at"] <= after
    assert (copy["source"], copy["type"], copy["bytes"], copy["replay"]) == ("demo", None, 8, False)
    assert found["archive"]["read"] == 2  # both events, then the end of the stream
    [dead] = found["dead_letters"]["letters"]
    assert (dead["destination"], dead["reason"], dead["attempts"], dead["status"]) == ("refuse", "dead_letter_on", 1,
                                                                                       400)
    assert copy["received_at"] <= dead["dead_at"] <= now_ms()
    assert await queue_depth(f"{prefix}.dead.refuse") == 1  # read in place

    text = await hookpipe("events", "show", "refuse-1", "--config", path)
    lines = text.stdout.splitlines()
    assert lines[0] == "event refuse-1"
    assert lines[1].startswith("  archived 20") and "source demo" in lines[1]
    assert lines[2] == "  delivery log: no index to read here (hookpipe admin keeps one: admin.index)"
    assert lines[3].startswith("  dead-lettered for refuse ")
    assert "dead_letter_on, attempts 1, last status 400" in lines[3]


async def test_with_the_admin_index_it_shows_the_routing_and_every_attempt(history):
    path, _ = history
    config = load_config(path).config
    index = await open_index(config.admin.index)
    link = Link(config.broker.url, name="test-indexer", heartbeat=2)
    indexer = Indexer(index, config, link)
    link.start()
    running = asyncio.create_task(indexer.run())
    try:
        assert await indexer.caught_up(30)
    finally:
        running.cancel()
        await link.close()
        await index.close()
    result = await hookpipe("events", "show", "refuse-1", "--config", path, "--json")
    assert result.returncode == 0, result.stderr
    logged = result.json()["delivery_log"]
    assert logged["index"] == config.admin.index
    assert logged["event"]["routing"]["routes"] == ["refused"]
    [delivery] = logged["event"]["deliveries"]
    assert [(a["attempt"], a["status"]) for a in delivery["attempts"]] == [(1, 400)]
    assert (delivery["status"], delivery["dead"]["reason"]) == ("dead", "dead_letter_on")
    assert result.json()["archive"]["read"] == 0  # the index knew it was archived: the stream was not read

    lines = (await hookpipe("events", "show", "refuse-1", "--config", path)).stdout.splitlines()
    assert lines[1].startswith("  received 20") and "source demo" in lines[1] and "status dead" in lines[1]
    assert lines[2].startswith("  routed 20") and "by refused to refuse" in lines[2]
    assert lines[3] == "  refuse: dead, 1 attempts"
    row = lines[5].split()
    assert row[0] == "1" and row[2:4] == ["400", "http_status"], lines


async def test_a_delivered_event_is_archived_and_not_dead_lettered(history):
    path, _ = history
    result = await hookpipe("events", "show", "kept-1", "--config", path, "--since", "10m")
    assert result.returncode == 0, result.stderr
    assert "archived" in result.stdout
    assert "dead letters: none" in result.stdout


async def test_an_unknown_event_is_not_found(history):
    path, _ = history
    result = await hookpipe("events", "show", "never-sent", "--config", path, "--json")
    assert result.returncode == 3
    missing = result.json()
    assert missing["found"] is False and missing["archive"]["read"] == 2
    assert missing["archive"]["copies"] == [] and missing["dead_letters"]["letters"] == []
    text = await hookpipe("events", "show", "never-sent", "--config", path)
    assert text.returncode == 3 and text.stdout.rstrip().endswith("not found")


async def test_events_show_says_the_archive_is_off(prefix, receiver, topology_cleanup, tmp_path):
    config = pipeline_config(prefix, receiver.url)  # archive: off
    topology_cleanup(config)
    ingest = InProcessPipeline(config, services=("ingest", "router", "deliverer"))
    await ingest.start()
    await ingest.stop()
    result = await hookpipe("events", "show", "x", "--config", str(write_config(tmp_path, config)))
    assert result.returncode == 3
    assert "archive: not searched (off in the config)" in result.stdout
