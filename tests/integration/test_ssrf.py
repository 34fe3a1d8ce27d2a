"""The SSRF guard in the running pipeline: internal addresses are refused before any connection is made."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.support.broker import connect
from tests.support.pipeline import DESTINATION_SECRET, InProcessPipeline, ingest_url, pipeline_config

pytestmark = pytest.mark.integration


class CountingListener:
    """A TCP listener on 127.0.0.1 that only counts the connections it accepts."""

    def __init__(self) -> None:
        self.connections = 0

    async def start(self) -> int:
        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_internal_destinations_are_dead_lettered_blocked_without_a_connection(
    prefix: str, topology_cleanup: Callable[[dict[str, Any]], None]
) -> None:
    listener = CountingListener()
    port = await listener.start()
    urls = {
        "loopback": f"http://127.0.0.1:{port}/h",
        "mapped": f"http://[::ffff:127.0.0.1]:{port}/h",
        # 127.0.0.1 in full-width digits and ideographic full stops: the HTTP client connects to the literal
        "fullwidth": "http://" + "".join(chr(ord(c) + 0xFEE0) for c in "127") + "\u30020\u30020\u30021" + f":{port}/h",
        "private": "http://10.0.0.1/h",
        "metadata": "http://169.254.169.254/latest/meta-data",
        "name": f"http://localhost:{port}/h",
    }
    destinations = {
        name: {"url": url, "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]},
               "timeout": "2s", "retry": {"schedule": ["200ms"], "max_age": "1h"}}
        for name, url in urls.items()
    }
    config = pipeline_config(prefix, urls["loopback"], destinations=destinations,
                             routes=[{"name": "all", "sources": ["demo"], "to": list(urls)}])
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    reasons: dict[str, str] = {}
    try:
        async with aiohttp.ClientSession() as http, http.post(
            ingest_url(config), data=b"{}", headers={"x-test-id": "ssrf"}
        ) as response:
            assert response.status == 200
        connection = await connect()
        async with connection:
            channel = await connection.channel()
            for name in urls:
                queue = await channel.get_queue(f"{prefix}.dead.{name}")
                for _ in range(100):
                    message = await queue.get(no_ack=True, fail=False)
                    if message is not None:
                        reasons[name] = str(message.headers["x-hookpipe-dead-reason"])
                        break
                    await asyncio.sleep(0.1)
    finally:
        await pipeline.stop()
        await listener.stop()
    assert reasons == dict.fromkeys(urls, "blocked_address")
    assert listener.connections == 0
