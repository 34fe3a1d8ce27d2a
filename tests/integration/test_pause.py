"""hookpipe destination pause|resume: events wait in the queue while paused and flow again on resume."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import pytest

from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config, queue_depth, write_config

pytestmark = pytest.mark.integration


def hookpipe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hookpipe.cli", *args], capture_output=True, text=True, timeout=30)


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


async def test_pause_with_no_deliverer_running_says_so(prefix, receiver, topology_cleanup, tmp_path):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    result = await asyncio.to_thread(hookpipe, "destination", "pause", "receiver", "--config", path)
    assert result.returncode == 1
    assert "no deliverer is running" in result.stderr
    unknown = await asyncio.to_thread(hookpipe, "destination", "pause", "nope", "--config", path)
    assert unknown.returncode == 2
