"""hookpipe destination pause|resume: events wait in the queue while paused and flow again on resume."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import pytest

from tests.support.pipeline import (
    InProcessPipeline,
    ingest_url,
    pipeline_config,
    queue_depth,
    wait_for_depth,
    write_config,
)

pytestmark = pytest.mark.integration


def hookpipe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "control.cli", *args], capture_output=True, text=True, timeout=30)


async def test_a_paused_destination_holds_its_events_until_resumed(prefix, receiver, topology_cleanup, tmp_path):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        paused = await asyncio.to_thread(hookpipe, "destination", "pause", "receiver", "--config", path)
        assert paused.returncode == 0, paused.stderr
        for _ in range(50):
            if "receiver" in pipeline["deliverer"].paused:
                break
            await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as http:
            for n in range(5):
                async with http.post(ingest_url(config), data=b"{}", headers={"x-test-id": f"p{n}"}) as r:
                    assert r.status == 200
        for _ in range(50):
            if await queue_depth(f"{prefix}.deliver.receiver") == 5:
                break
            await asyncio.sleep(0.1)
        assert await queue_depth(f"{prefix}.deliver.receiver") == 5
        assert receiver.received == []
        resumed = await asyncio.to_thread(hookpipe, "destination", "resume", "receiver", "--config", path)
        assert resumed.returncode == 0, resumed.stderr
        await receiver.wait_for_ids({f"p{n}" for n in range(5)}, timeout=10)
    finally:
        await pipeline.stop()


async def _post(config: dict, ids: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        for event_id in ids:
            async with http.post(ingest_url(config), data=b"{}", headers={"x-test-id": event_id}) as response:
                assert response.status == 200


async def test_a_pause_outlives_a_deliverer_restart_and_binds_deliverers_started_later(
    prefix, receiver, topology_cleanup, tmp_path
):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    # Paused while no deliverer runs: recorded, and said so.
    paused = await asyncio.to_thread(hookpipe, "destination", "pause", "receiver", "--config", path)
    assert paused.returncode == 0, paused.stderr
    assert "no deliverer is running now" in paused.stdout
    first = InProcessPipeline(config)
    await first.start()
    try:
        assert "receiver" in first["deliverer"].paused
        await _post(config, ["a0", "a1"])
        await wait_for_depth(f"{prefix}.deliver.receiver", 2)
    finally:
        await first.stop()
    # A deliverer started after the restart still holds the events.
    second = InProcessPipeline(config, services=("deliverer",))
    await second.start()
    try:
        assert "receiver" in second["deliverer"].paused
        await asyncio.sleep(1)  # time enough for a wrongly consuming deliverer to take them
        assert await queue_depth(f"{prefix}.deliver.receiver") == 2
        assert receiver.received == []
        resumed = await asyncio.to_thread(hookpipe, "destination", "resume", "receiver", "--config", path)
        assert resumed.returncode == 0, resumed.stderr
        await receiver.wait_for_ids({"a0", "a1"}, timeout=10)
    finally:
        await second.stop()
    # Resumed for good: a later deliverer consumes.
    third = InProcessPipeline(config, services=("deliverer",))
    await third.start()
    try:
        assert "receiver" not in third["deliverer"].paused
    finally:
        await third.stop()


async def test_an_unknown_destination_is_refused(prefix, receiver, topology_cleanup, tmp_path):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    unknown = await asyncio.to_thread(hookpipe, "destination", "pause", "nope", "--config", path)
    assert unknown.returncode == 2
    assert unknown.stderr == "hookpipe: no destination named 'nope' in the config; destinations: receiver\n"
