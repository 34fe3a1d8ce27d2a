"""`hookpipe admin` fuzzed against its own OpenAPI document: schemathesis (its CLI, as a user runs it) sends
examples, boundary cases, random valid and invalid requests and stateful sequences (ids taken from earlier
answers) to the service running as a process beside a live pipeline, and checks that no answer is a server
error, every answer's status, content type, headers and body are what the document says, invalid input is
refused, and auth is enforced."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from control.admin.openapi import DOCUMENT
from tests.support.pipeline import pipeline_config, post_events
from tests.support.processes import admin_process, admin_section

pytestmark = pytest.mark.e2e

TOKEN = "e2e-schemathesis-token-0123456789"

#: Every check that applies to this API (positive_data_acceptance does not: a valid id may name no event, 404).
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
          "response_schema_conformance", "negative_data_rejection", "ignored_auth", "unsupported_method",
          "missing_required_header", "use_after_free", "ensure_resource_availability")

#: Test cases per operation and phase: about 600 requests in all, some 10-20 s here.
MAX_EXAMPLES = 10

#: The whole run's bound (s); it stops itself well before.
RUN_TIMEOUT = 150

#: A fixed seed: a failure can be replayed with the same one (`st run ... --seed`).
SEED = 20261204


@pytest.fixture
async def admin_url(services: Any, receiver: Any, prefix: str, tmp_path: Path) -> AsyncIterator[str]:
    """A pipeline whose receiver refuses (410) every third event, so the index holds delivered and dead events
    and the dead queue holds dead letters; hookpipe admin as its own process."""

    async def respond(request: web.Request, _: int) -> web.StreamResponse:
        return web.Response(status=410 if request.headers["webhook-id"].endswith("0") else 200)

    receiver.respond = respond
    config = pipeline_config(
        prefix, receiver.url, archive={"max_age": "1h", "max_bytes": "1GiB"},
        admin=admin_section(TOKEN, tmp_path),
    )
    running = services(config)
    await running.start()
    admin = admin_process(running.config_path, config, tmp_path)
    admin.start()
    try:
        await admin.wait_ready(60)
        ids = [f"evt-{n}" for n in range(1, 13)]
        await post_events(config, ids, body=b'{"type": "order.created", "total": 12}')
        url = f"http://{config['admin']['listen']}"
        await _wait_indexed(url, len(ids))
        yield url
    finally:
        await asyncio.to_thread(admin.terminate)


async def _wait_indexed(url: str, count: int) -> None:
    """Until the index lists `count` events with a delivery decided (delivered or dead)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        while True:
            decided = 0
            for status in ("delivered", "dead"):
                async with http.get(f"{url}/api/v1/events", params={"status": status, "limit": "500"}) as response:
                    decided += len((await response.json())["items"])
            if decided == count:
                return
            assert loop.time() < deadline, f"only {decided} of {count} events indexed"
            await asyncio.sleep(0.3)


def test_the_document_schemathesis_reads_is_the_one_the_service_serves() -> None:
    assert DOCUMENT.exists()


async def test_schemathesis_finds_no_server_error_and_every_answer_matches_the_document(
        admin_url: str, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(DOCUMENT), "--url", admin_url,
        "--header", f"Authorization: Bearer {TOKEN}", "--checks", ",".join(CHECKS), "--mode", "all",
        "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--request-timeout", "30", "--no-color",
    ]
    started = time.monotonic()
    result = await asyncio.to_thread(subprocess.run, command, cwd=tmp_path, capture_output=True, text=True,
                                     timeout=RUN_TIMEOUT)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    assert result.returncode == 0, output[-6000:]
    assert "14 selected / 14 total" in output, output[-3000:]
    summary = [line for line in output.splitlines() if " generated, " in line]
    assert summary and "passed" in summary[-1] and "fail" not in summary[-1], output[-3000:]
    generated = int(summary[-1].split()[0])
    assert 200 <= generated <= 2000, summary[-1]
    assert TOKEN not in output  # schemathesis filters the header in its reports
    print(f"schemathesis: {summary[-1].strip()} in {elapsed:.1f}s")
