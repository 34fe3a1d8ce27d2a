"""ingest reloads its sources without a restart: a rotated secret applies from the next request, dedup and
rate-limit state survive a reload that does not touch them, and settings it cannot change are refused."""

from __future__ import annotations

import asyncio
import copy
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hookpipe.config import ConfigError
from tests.support.pipeline import (
    InProcessPipeline,
    ingest_url,
    load,
    pipeline_config,
    queue_depth,
    wait_for_depth,
    write_config,
)
from tests.support.service_set import ServiceSet

pytestmark = pytest.mark.integration

OLD_TOKEN = "partner-token-old-0123456789"
NEW_TOKEN = "partner-token-new-0123456789"


def _config(prefix: str, receiver_url: str, token: str, **partner: Any) -> dict[str, Any]:
    return pipeline_config(
        prefix, receiver_url,
        sources={"partner": {"verify": {"scheme": "bearer", "secrets": [token]},
                             "id": {"header": "x-test-id"}, **partner}},
        routes=[{"name": "partner", "sources": ["partner"], "to": ["receiver"]}],
    )


async def _post(config: dict[str, Any], token: str, event_id: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(
        ingest_url(config, "partner"), data=b"{}",
        headers={"Authorization": f"Bearer {token}", "x-test-id": event_id},
    ) as response:
        return response.status


async def _until_status(config: dict[str, Any], token: str, status: int, timeout: float = 15.0) -> None:
    """Post (each time a new id) until the answer is `status`: the reloader applies a file within ~1 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while (answer := await _post(config, token, f"probe-{attempt}")) != status:
        assert loop.time() < deadline, f"still {answer}, not {status}, after {timeout}s"
        attempt += 1
        await asyncio.sleep(0.2)


async def test_the_ingest_process_takes_a_rotated_secret_from_the_file_and_on_sighup(
    prefix, receiver, tmp_path: Path, topology_cleanup
):
    v1 = _config(prefix, receiver.url, OLD_TOKEN)
    v2 = copy.deepcopy(v1)
    v2["sources"]["partner"]["verify"]["secrets"] = [NEW_TOKEN]
    topology_cleanup(v1)
    services = ServiceSet(v1, tmp_path)
    try:
        await services.start(("ingest",))
        ingest = services["ingest"].process
        assert ingest is not None
        assert await _post(v1, OLD_TOKEN, "old-1") == 200
        assert await _post(v1, NEW_TOKEN, "new-0") == 401

        write_config(tmp_path, v2)
        await _until_status(v1, NEW_TOKEN, 200)
        assert await _post(v1, OLD_TOKEN, "old-2") == 401

        write_config(tmp_path, v1)  # rolled back, then applied by hand
        ingest.send_signal(signal.SIGHUP)
        await _until_status(v1, OLD_TOKEN, 200)
        assert ingest.poll() is None  # the same process all along
        codes = await services.stop()
    finally:
        services.kill_all()
    assert codes["ingest"] == 0
    log = services.logs()["ingest"]
    assert "sources reloaded" in log
    assert OLD_TOKEN not in log and NEW_TOKEN not in log


async def test_a_reload_keeps_recent_ids_and_the_rate_limit_bucket_of_a_source_whose_settings_did_not_change(
    prefix, receiver, topology_cleanup
):
    config = _config(prefix, receiver.url, OLD_TOKEN, rate_limit="1/s")
    topology_cleanup(config)
    pipeline = InProcessPipeline(config, services=("ingest",))
    await pipeline.start()
    try:
        assert await _post(config, OLD_TOKEN, "same") == 200
        await pipeline["ingest"].reload(load(copy.deepcopy(config)))
        # The bucket was emptied by the first request and was not refilled by the reload.
        assert await _post(config, OLD_TOKEN, "same") == 429
        await asyncio.sleep(1.1)
        assert await _post(config, OLD_TOKEN, "same") == 200  # answered, but recognised: not published again
        await wait_for_depth(f"{prefix}.router", 1)

        rotated = copy.deepcopy(config)
        rotated["sources"]["partner"]["verify"]["secrets"] = [NEW_TOKEN]
        await pipeline["ingest"].reload(load(rotated))
        await asyncio.sleep(1.1)
        assert await _post(config, NEW_TOKEN, "same") == 200  # a new secret alone keeps the recent ids too
        assert await queue_depth(f"{prefix}.router") == 1
    finally:
        await pipeline.stop()


def test_a_reload_changing_what_ingest_holds_for_its_run_is_refused_naming_each_key_without_values(
    prefix, receiver
):
    from ingest.app import IngestService

    config = _config(prefix, "http://127.0.0.1:9/", OLD_TOKEN)
    service = IngestService(load(config))
    changed = copy.deepcopy(config)
    changed["broker"]["url"] = "amqp://someone:hunter2-secret@127.0.0.1:5999/"
    changed["ingest"]["listen"] = "127.0.0.1:1"
    changed["sources"]["partner"]["verify"]["secrets"] = [NEW_TOKEN]
    with pytest.raises(ConfigError) as refused:
        asyncio.run(service.reload(load(changed)))
    problems = refused.value.problems
    assert problems == ["broker.url: cannot change on reload; restart the service to apply it",
                        "ingest.listen: cannot change on reload; restart the service to apply it"]
    assert "hunter2" not in str(refused.value)
    assert service.sources["partner"].config.verify.secrets == [OLD_TOKEN]  # nothing applied
