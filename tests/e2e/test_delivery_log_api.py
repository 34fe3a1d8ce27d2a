"""The delivery log through `hookpipe admin`, end to end, every service its own process: the API lists, for each
event, exactly the attempts the receiver saw, in order; a resend reaches the receiver again with the same
webhook-id; and nothing but /healthz answers without the token."""

from __future__ import annotations

import asyncio
import collections
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.support.pipeline import pipeline_config, post_events
from tests.support.processes import admin_process, admin_section

pytestmark = pytest.mark.e2e

TOKEN = "e2e-admin-token-" + "0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVENTS = 1000
TIMEOUT = 1.0  # the destination's time-out (s): the receiver outwaits it to make an attempt time out
OPENAPI = Path(__file__).resolve().parents[2] / "control" / "admin" / "openapi.json"


def kind(event_id: str) -> int:
    """0: 200 at once; 1: 500, then 200; 2: 410 (dead-lettered at once); 3: times out, then 200."""
    return int(event_id.rsplit("-", 1)[1]) % 4


class FlakyReceiver:
    """Answers by kind, and keeps per webhook-id every attempt it saw: (attempt number, status the deliverer got,
    None for one it timed out on)."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[int, int | None]]] = collections.defaultdict(list)

    async def respond(self, request: web.Request, _: int) -> web.StreamResponse:
        event_id, attempt = request.headers["webhook-id"], int(request.headers["x-hookpipe-attempt"])
        if request.headers.get("x-hookpipe-replay") == "true":
            self.seen[event_id].append((attempt, 200))
            return web.Response(status=200)
        status: int | None = 200
        if kind(event_id) == 1 and attempt == 1:
            status = 500
        elif kind(event_id) == 2:
            status = 410
        elif kind(event_id) == 3 and attempt == 1:
            self.seen[event_id].append((attempt, None))
            await asyncio.sleep(TIMEOUT + 0.5)
            return web.Response(status=200)
        self.seen[event_id].append((attempt, status))
        return web.Response(status=status or 200, text="nope" if status != 200 else "")


@pytest.fixture
async def pipeline(services, receiver, prefix, tmp_path):
    flaky = FlakyReceiver()
    receiver.respond = flaky.respond
    config = pipeline_config(
        prefix, receiver.url, archive={"max_age": "1h", "max_bytes": "1GiB"},
        admin=admin_section(TOKEN, tmp_path),
    )
    # Half the first attempts fail on purpose: a breaker would open and hold the rest back.
    config["destinations"]["receiver"].update(timeout=f"{TIMEOUT}s", concurrency=100,
                                              breaker={"failures": 1_000_000})
    running = services(config)
    await running.start()
    admin = admin_process(running.config_path, config, tmp_path)
    admin.start()
    try:
        await admin.wait_ready(60)
        yield config, flaky, f"http://{config['admin']['listen']}/api/v1"
    finally:
        await asyncio.to_thread(admin.terminate)


async def _all_pages(http: aiohttp.ClientSession, url: str, **query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**query, "limit": "500", **({"cursor": cursor} if cursor else {})}
        async with http.get(f"{url}/events", params=params, headers=AUTH) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _wait_until_indexed(http: aiohttp.ClientSession, url: str, delivered: int, dead: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        counts = {status: len(await _all_pages(http, url, status=status)) for status in ("delivered", "dead")}
        if counts == {"delivered": delivered, "dead": dead}:
            return
        assert loop.time() < deadline, f"indexed {counts}, expected {delivered} delivered and {dead} dead"
        await asyncio.sleep(1)


async def test_every_event_lists_exactly_the_attempts_the_receiver_saw_in_order(pipeline):
    config, flaky, url = pipeline
    ids = [f"event-{n:04d}" for n in range(EVENTS)]
    await post_events(config, ids, parallel=50)
    async with aiohttp.ClientSession() as http:
        await _wait_until_indexed(http, url, delivered=EVENTS * 3 // 4, dead=EVENTS // 4)
        mismatches = []
        for event_id in ids:
            async with http.get(f"{url}/events/{event_id}", headers=AUTH) as response:
                assert response.status == 200, await response.text()
                document = await response.json()
            (delivery,) = document["deliveries"]
            listed = [(a["attempt"], a["status"]) for a in delivery["attempts"]]
            if listed != flaky.seen[event_id]:
                mismatches.append((event_id, listed, flaky.seen[event_id]))
            expected = "dead" if kind(event_id) == 2 else "delivered"
            assert (document["status"], delivery["status"]) == (expected, expected), event_id
            assert document["routing"]["routes"] == ["demo"] and document["source"] == "demo"
        assert not mismatches, f"{len(mismatches)} events differ, first: {mismatches[:3]}"
        timed_out = (await (await http.get(f"{url}/events/event-0003", headers=AUTH)).json())["deliveries"][0]
        assert timed_out["attempts"][0]["reason"] == "timeout" and timed_out["attempts"][0]["status"] is None
        gone = (await (await http.get(f"{url}/events/event-0002", headers=AUTH)).json())["deliveries"][0]
        assert (gone["dead"]["reason"], gone["dead"]["attempts"]) == ("dead_letter_on", 1), gone


async def test_a_resend_reaches_the_receiver_again_with_the_same_webhook_id(pipeline, receiver):
    config, _, url = pipeline
    await post_events(config, ["event-0000"])
    async with aiohttp.ClientSession() as http:
        await _wait_until_indexed(http, url, delivered=1, dead=0)
        async with http.post(f"{url}/events/event-0000/resend", json={"destination": "receiver"},
                             headers=AUTH) as response:
            assert response.status == 202, await response.text()
        await receiver.wait_for(lambda r: len(r.received) == 2, timeout=30)
        assert [r.headers["webhook-id"] for r in receiver.received] == ["event-0000", "event-0000"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            document = await (await http.get(f"{url}/events/event-0000", headers=AUTH)).json()
            attempts = document["deliveries"][0]["attempts"]
            if len(attempts) == 2:
                break
            assert loop.time() < deadline, attempts
            await asyncio.sleep(0.5)
        assert [a["resend"] for a in attempts] == [False, True]
        async with http.post(f"{url}/events/event-0000/resend", json={"destination": "nowhere"},
                             headers=AUTH) as response:
            assert response.status == 404
            assert (await response.json())["error"] == "unknown_destination"


async def test_every_endpoint_but_healthz_refuses_a_request_without_the_token(pipeline):
    _, _, url = pipeline
    base = url.removesuffix("/api/v1")
    document = json.loads(OPENAPI.read_text())
    checked = 0
    async with aiohttp.ClientSession() as http:
        for path, operations in document["paths"].items():
            concrete = path.replace("{id}", "event-0000").replace("{name}", "receiver")
            for method in operations:
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
                    async with http.request(method, base + concrete, headers=headers, json={}) as response:
                        expected = 200 if concrete == "/healthz" else 401
                        assert response.status == expected, (method, concrete, headers, response.status)
                        if expected == 401:
                            assert (await response.json())["error"] == "unauthorized"
                checked += 1
    assert checked >= 14, f"only {checked} operations in the OpenAPI document"
