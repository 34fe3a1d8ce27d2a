"""`hookpipe status` reports known queue depths, consumers, breaker states, pauses, dead letters and last errors;
it still answers when a service is down, and fails only when the broker cannot be reached."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from aiohttp import web

from deliverer.circuit import BreakerState
from tests.support.cli import hookpipe
from tests.support.pipeline import (
    InProcessPipeline,
    free_port,
    pipeline_config,
    post_events,
    wait_for_depth,
    write_config,
)

pytestmark = pytest.mark.integration


def four_destinations(prefix: str, receiver_url: str) -> dict:
    """`receiver` works; `held` is paused; `down` has nobody listening and a breaker that opens after two failures
    (and stays open for a minute); `refuse` answers 400, which it dead-letters. Events go by their id's prefix."""
    base = pipeline_config(prefix, receiver_url)["destinations"]["receiver"]
    destinations = {
        "receiver": base,
        "held": {**base, "paused": True},
        "down": {**base, "url": f"http://127.0.0.1:{free_port()}/nobody", "breaker": {"failures": 2, "cooldown": "1m"}},
        "refuse": {**base, "dead_letter_on": [400], "breaker": {"failures": 100}},
    }
    routes = [{"name": name, "sources": ["demo"], "filter": {"id": [{"prefix": f"{name}-"}]}, "to": [name]}
              for name in destinations]
    return pipeline_config(prefix, receiver_url, destinations=destinations, routes=routes)


async def refuse_the_refused(request: web.Request, _: int) -> web.StreamResponse:
    refused = request.headers["webhook-id"].startswith("refuse-")
    return web.Response(status=400 if refused else 200, text="no thanks" if refused else "ok")


@pytest.fixture
async def known_state(prefix, receiver, topology_cleanup, tmp_path):
    """A running pipeline in a known state: held 3 waiting (paused), down 2 waiting (breaker open), refuse 1
    dead letter, receiver 1 delivered."""
    receiver.respond = refuse_the_refused
    config = four_destinations(prefix, receiver.url)
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        await post_events(config, ["receiver-1", "held-1", "held-2", "held-3", "down-1", "down-2", "refuse-1"])
        await receiver.wait_for_ids({"receiver-1"}, timeout=10)
        await wait_for_depth(f"{prefix}.deliver.held", 3)
        await wait_for_depth(f"{prefix}.dead.refuse", 1)
        breaker = pipeline["deliverer"].breakers["down"]
        for _ in range(100):
            if breaker.state is BreakerState.OPEN:
                break
            await asyncio.sleep(0.1)  # the breaker is in-process state: no event to await
        assert breaker.state is BreakerState.OPEN
        await wait_for_depth(f"{prefix}.deliver.down", 2)  # both failed once and came back to wait
        yield config, str(write_config(tmp_path, config)), pipeline
    finally:
        await pipeline.stop()


async def test_status_json_reports_depths_breakers_pauses_dead_letters_and_last_errors(known_state, prefix):
    _, path, _ = known_state
    result = await hookpipe("status", "--config", path, "--json", "--interval", "500ms")
    assert result.returncode == 0, result.stderr
    status = result.json()
    assert status["broker"]["reachable"] is True
    assert {name: (s["reachable"], s["ready"]) for name, s in status["services"].items()} == {
        "ingest": (True, True), "router": (True, True), "deliverer": (True, True)}

    queues = {q["name"]: q for q in status["queues"]}
    assert (queues[f"{prefix}.deliver.held"]["messages"], queues[f"{prefix}.deliver.held"]["consumers"]) == (3, 0)
    assert (queues[f"{prefix}.deliver.down"]["messages"], queues[f"{prefix}.deliver.down"]["consumers"]) == (2, 0)
    assert queues[f"{prefix}.deliver.receiver"]["consumers"] == 1
    assert queues[f"{prefix}.router"]["consumers"] == 1
    assert queues[f"{prefix}.dead.refuse"]["messages"] == 1
    assert queues[f"{prefix}.deliver.held"]["change_per_s"] == 0.0  # sampled twice, nothing moved

    destinations = status["destinations"]
    held, down, refuse, ok = (destinations[name] for name in ("held", "down", "refuse", "receiver"))
    assert (held["paused"], held["breaker"], held["messages"], held["consuming"]) == (True, "closed", 3, False)
    assert (down["breaker"], down["paused"], down["messages"]) == ("open", False, 2)
    assert down["last_error"]["reason"] == "connection_error" and down["last_error"]["event_id"].startswith("down-")
    assert (refuse["dead_letters"], refuse["last_error"]["status"], refuse["last_error"]["event_id"]) == (
        1, 400, "refuse-1")
    assert (ok["breaker"], ok["paused"], ok["last_error"], ok["dead_letters"]) == ("closed", False, None, 0)
    assert ok["delivered_per_s"] == 0.0 and ok["failed_per_s"] == 0.0  # counters scraped twice, no traffic


async def test_status_table_is_aligned_and_says_what_each_destination_is_doing(known_state):
    _, path, _ = known_state
    result = await hookpipe("status", "--config", path, "--interval", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("DESTINATION"))
    table = lines[lines.index(header):]
    rows = {line.split()[0]: line for line in table[1:]}
    for column in ("DEPTH", "BREAKER", "PAUSED", "DEAD", "LAST ERROR"):
        start = header.index(column)
        for row in rows.values():
            assert row[start - 2: start] == "  " and row[start] != " ", f"{column} misaligned in {row!r}"
    assert rows["held"].split()[1:5] == ["3", "closed", "yes", "0"]
    assert rows["down"].split()[1:5] == ["2", "open", "no", "0"]
    assert "connection_error" in rows["down"]
    assert rows["refuse"].split()[1:5] == ["0", "closed", "no", "1"]
    assert "http_status 400" in rows["refuse"] or "400" in rows["refuse"][header.index("LAST ERROR"):]
    assert rows["receiver"].rstrip().endswith("-")


async def test_status_marks_services_unknown_when_they_are_down(known_state, prefix):
    _, path, pipeline = known_state
    await pipeline.stop()
    result = await hookpipe("status", "--config", path, "--json", "--interval", "0")
    assert result.returncode == 0, result.stderr  # the broker answers: what it knows is still reported
    status = result.json()
    assert {s["reachable"] for s in status["services"].values()} == {False}
    held = status["destinations"]["held"]
    assert (held["messages"], held["breaker"], held["paused"], held["last_error"]) == (3, None, None, None)
    text = await hookpipe("status", "--config", path, "--interval", "0")
    held_line = next(line for line in text.stdout.splitlines() if line.startswith("held "))
    assert held_line.split()[1:4] == ["3", "unknown", "unknown"]
    assert "deliverer" in text.stdout and " down " in next(
        line for line in text.stdout.splitlines() if line.startswith("deliverer"))


async def test_status_fails_when_the_broker_cannot_be_reached(prefix, receiver, tmp_path):
    config = pipeline_config(prefix, receiver.url, broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    result = await hookpipe("status", "--config", str(write_config(tmp_path, config)), "--json", "--interval", "0")
    assert result.returncode == 1
    status = result.json()
    assert status["broker"]["reachable"] is False and status["broker"]["error"]
    assert status["queues"] == []
    assert "guest:***@" in status["broker"]["url"]


async def test_status_into_a_reader_that_has_gone_ends_quietly(prefix, receiver, tmp_path):
    """`hookpipe status | head -1`: the real command, its reader gone before it writes; no traceback, and 141
    (128 + SIGPIPE) as for a tool that SIGPIPE ended."""
    path = str(write_config(tmp_path, pipeline_config(prefix, receiver.url)))
    read, write = os.pipe()
    os.close(read)
    try:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "hookpipe"), "status", "--config", path, "--interval", "0",
            stdout=write, stderr=asyncio.subprocess.PIPE)
    finally:
        os.close(write)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert b"Traceback" not in stderr
    assert (process.returncode, stderr.decode()) == (141, "")
