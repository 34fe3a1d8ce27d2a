"""`hookpipe admin`'s API against the real broker, beside ingest, router and deliverer in process, each test under
its own prefix, the index a SQLite file of its own: every endpoint does what its CLI twin does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from control.admin.openapi import build_document
from control.admin.service import AdminService
from hookpipe.config import ConfigError
from tests.support.broker import connect
from tests.support.pipeline import (
    InProcessPipeline,
    free_port,
    load,
    pipeline_config,
    post_events,
    queue_depth,
    wait_for_depth,
)
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

TOKEN = "integration-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Admin:
    config: dict[str, Any]
    service: AdminService
    http: aiohttp.ClientSession
    url: str

    async def call(self, method: str, path: str, *, status: int = 200, **options: Any) -> Any:
        headers = options.pop("headers", AUTH)
        async with self.http.request(method, self.url + path, headers=headers, **options) as response:
            text = await response.text()
            assert response.status == status, f"{method} {path}: {response.status} {text}"
            return json.loads(text)

    async def until(self, path: str, holds: Callable[[Any], bool], timeout: float = 30.0, **options: Any) -> Any:
        """GET `path` until `holds(document)`; the last document."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self.http.get(self.url + path, headers=AUTH, **options) as response:
                document = await response.json() if response.status == 200 else None
            if document is not None and holds(document):
                return document
            assert loop.time() < deadline, f"GET {path}: still {document}"
            await asyncio.sleep(0.2)

    async def delivered(self, event_id: str, attempts: int = 1) -> dict[str, Any]:
        """The event's document once the index shows its delivery to `receiver` delivered after `attempts`."""
        return await self.until(f"/api/v1/events/{event_id}", lambda d: [
            (x["destination"], x["status"], len(x["attempts"])) for x in d["deliveries"]
        ][:1] == [("receiver", "delivered", attempts)])


@pytest.fixture
async def admin(prefix: str, receiver: Receiver, tmp_path: Path,
                topology_cleanup: Callable[[dict[str, Any]], None]) -> AsyncIterator[Admin]:
    """The pipeline with the archive on, a second destination `audit` that no route of source demo reaches, and
    hookpipe admin."""
    config = pipeline_config(
        prefix, receiver.url, archive={"max_age": "1h", "max_bytes": "1GiB"},
        admin={"listen": f"127.0.0.1:{free_port()}", "ops": f"127.0.0.1:{free_port()}", "token": TOKEN,
               "index": str(tmp_path / "index.sqlite3")},
    )
    config["destinations"]["audit"] = {**config["destinations"]["receiver"], "rate_limit": "5/s",
                                       "url": receiver.url.replace("127.0.0.1", "user:pw@127.0.0.1")}
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    service = AdminService(load(config))
    await service.start()
    assert await service.publisher.link.wait_ready(15) and await service.streams.wait_ready(15)
    try:
        async with aiohttp.ClientSession() as http:
            yield Admin(config, service, http, f"http://{config['admin']['listen']}")
    finally:
        await service.stop()
        await pipeline.stop()


async def test_events_are_searched_by_filter_and_page_and_shown_with_their_body(admin: Admin) -> None:
    ids = ["evt-a", "evt-b", "evt-c"]
    for event_id in ids:  # one by one, so their received_at differ and the newest-first order is known
        await post_events(admin.config, [event_id], body=b'{"type": "order.created", "n": 1}')
    for event_id in ids:
        await admin.delivered(event_id)
    pages, cursor = [], None
    while True:
        query = {"limit": "1", "source": "demo", "status": "delivered", **({"cursor": cursor} if cursor else {})}
        page = await admin.call("GET", "/api/v1/events", params=query)
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["evt-c"], ["evt-b"], ["evt-a"]]
    item = (await admin.call("GET", "/api/v1/events", params={"destination": "receiver", "since": "1h"}))["items"][0]
    assert item["destinations"] == [{"name": "receiver", "status": "delivered", "attempts": 1}]
    assert (await admin.call("GET", "/api/v1/events", params={"status": "dead"}))["items"] == []
    assert (await admin.call("GET", "/api/v1/events", params={"until": "1h"}))["items"] == []
    shown = await admin.call("GET", "/api/v1/events/evt-b", params={"body": "true"})
    assert shown["body"] == {"text": '{"type": "order.created", "n": 1}', "truncated": False}
    assert shown["routing"]["routes"] == ["demo"] and shown["archived"] is True
    await admin.call("GET", "/api/v1/events", params={"cursor": "garbage!"}, status=400)


async def test_a_resend_reaches_the_destination_again_and_what_cannot_be_resent_is_refused(
        admin: Admin, receiver: Receiver) -> None:
    await post_events(admin.config, ["evt-r"])
    await admin.delivered("evt-r")
    answer = await admin.call("POST", "/api/v1/events/evt-r/resend", json={"destination": "receiver"}, status=202)
    assert answer == {"event_id": "evt-r", "destination": "receiver", "resend": True}
    await receiver.wait_for(lambda r: len(r.received) == 2, timeout=20)
    again = receiver.received[1].headers
    assert again["webhook-id"] == "evt-r" and again["x-hookpipe-replay"] == "true"
    document = await admin.delivered("evt-r", attempts=2)
    assert [attempt["resend"] for attempt in document["deliveries"][0]["attempts"]] == [False, True]
    refused = await admin.call("POST", "/api/v1/events/evt-r/resend", json={"destination": "audit"}, status=409)
    assert refused["error"] == "not_routed"
    assert (await admin.call("POST", "/api/v1/events/nope/resend", json={"destination": "receiver"},
                             status=404))["error"] == "unknown_event"
    async with await connect() as connection:  # the archive is gone: the body is no longer kept
        channel = await connection.channel()
        await channel.queue_delete(f"{admin.config['broker']['prefix']}.archive")
    gone = await admin.call("POST", "/api/v1/events/evt-r/resend", json={"destination": "receiver"}, status=410)
    assert gone["error"] == "body_not_kept"
    assert (await admin.call("GET", "/api/v1/events/evt-r", params={"body": "true"}))["body"] is None


async def test_destinations_show_settings_and_state_and_pause_and_resume_reach_the_deliverer(
        admin: Admin, receiver: Receiver) -> None:
    listed = {item["name"]: item for item in (await admin.call("GET", "/api/v1/destinations"))["items"]}
    assert list(listed) == ["receiver", "audit"]
    audit = listed["audit"]
    assert (audit["host"], audit["rate_limit"], audit["ordering"], audit["concurrency"]) == (
        receiver.url.split("/")[2], 5.0, "unordered", 20)
    assert "pw" not in json.dumps(listed)
    receiving = listed["receiver"]
    assert (receiving["breaker"], receiving["paused"], receiving["pause_flag"], receiving["messages"]) == (
        "closed", False, False, 0)
    assert [state["breaker"] for state in receiving["replicas"].values()] == ["closed"]
    paused = await admin.call("POST", "/api/v1/destinations/receiver/pause")
    assert paused == {"destination": "receiver", "paused": True, "deliverers_heard": True, "paused_in_config": False}
    await admin.until("/api/v1/destinations", lambda d: d["items"][0]["paused"] is True)
    await post_events(admin.config, ["evt-p"])
    await wait_for_depth(f"{admin.config['broker']['prefix']}.deliver.receiver", 1)
    assert receiver.received == []
    after = (await admin.call("GET", "/api/v1/destinations"))["items"][0]
    assert (after["pause_flag"], after["messages"]) == (True, 1)
    await admin.call("POST", "/api/v1/destinations/receiver/resume", json={})
    await receiver.wait_for(lambda r: len(r.received) == 1, timeout=20)


async def test_dead_letters_are_listed_replayed_and_purged(admin: Admin, receiver: Receiver) -> None:
    async def gone(_: web.Request, __: int) -> web.StreamResponse:
        return web.Response(status=410)

    receiver.respond = gone
    dead_queue = f"{admin.config['broker']['prefix']}.dead.receiver"
    await post_events(admin.config, ["evt-d1", "evt-d2"])
    await wait_for_depth(dead_queue, 2)
    listing = await admin.call("GET", "/api/v1/dead-letters", params={"destination": "receiver", "limit": "1"})
    assert listing["queues"][0] | {"queue": None} == {"destination": "receiver", "queue": None, "exists": True,
                                                     "depth": 2, "read": 2, "reasons": {"dead_letter_on": 2},
                                                     "complete": True}
    assert listing["matched"] == 2 and len(listing["letters"]) == 1
    assert listing["letters"][0]["reason"] == "dead_letter_on" and listing["letters"][0]["status"] == 410
    everything = await admin.call("GET", "/api/v1/dead-letters")
    assert [queue["destination"] for queue in everything["queues"]] == ["receiver", "audit", "router"]

    async def fine(_: web.Request, __: int) -> web.StreamResponse:
        return web.Response(status=200)

    receiver.respond = fine
    replayed = await admin.call("POST", "/api/v1/dead-letters/replay", json={"destination": "receiver",
                                                                            "id": "evt-d1", "rate": "50/s"})
    assert replayed["complete"] is True
    assert replayed["reports"][0] | {"queue": None} == {
        "destination": "receiver", "queue": None, "exists": True, "depth": 2, "scanned": 2, "replayed": 1,
        "kept": 1, "failed": None}
    await receiver.wait_for(lambda r: [x.headers["webhook-id"] for x in r.received] == ["evt-d1"], timeout=20)
    purged = await admin.call("POST", "/api/v1/dead-letters/purge", json={"destination": "receiver",
                                                                         "confirm": True})
    assert purged["reports"][0]["purged"] == 1 and purged["complete"] is True
    assert await queue_depth(dead_queue) == 0


async def test_a_replay_lists_in_a_dry_run_and_publishes_otherwise(admin: Admin, receiver: Receiver) -> None:
    await post_events(admin.config, ["evt-1", "evt-2"])
    await receiver.wait_for(lambda r: len(r.received) == 2, timeout=20)
    dry = await admin.call("POST", "/api/v1/replay", json={"since": "1h", "dry_run": True, "list": 1})
    assert (dry["read"], dry["matched"], dry["published"], dry["dry_run"]) == (2, 2, 0, True)
    assert [(event["id"], event["destinations"]) for event in dry["listed"]] == [("evt-1", ["receiver"])]
    done = await admin.call("POST", "/api/v1/replay", json={"since": "1h", "id": "evt-2", "destination": "receiver"})
    assert (done["matched"], done["published"], done["listed"]) == (1, 1, [])
    await receiver.wait_for(lambda r: len(r.received) == 3, timeout=20)
    assert receiver.received[2].headers["webhook-id"] == "evt-2"
    assert receiver.received[2].headers["x-hookpipe-replay"] == "true"
    refused = await admin.call("POST", "/api/v1/replay", json={"since": "1h", "route": "nope"}, status=400)
    assert "unknown route" in refused["detail"]


async def test_routes_test_status_and_the_openapi_document(admin: Admin) -> None:
    routed = await admin.call("POST", "/api/v1/routes/test", json={"id": "x", "source": "demo", "body": {"a": 1}})
    assert (routed["routes"], [d["destination"] for d in routed["deliveries"]]) == (["demo"], ["receiver"])
    unrouted = await admin.call("POST", "/api/v1/routes/test", json={"id": "x", "source": "elsewhere", "body": 1})
    assert (unrouted["routes"], unrouted["deliveries"]) == ([], [])
    status = await admin.call("GET", "/api/v1/status", params={"interval": "0"})
    assert status["broker"]["reachable"] is True and status["interval_s"] is None
    assert status["destinations"]["receiver"]["breaker"] == "closed"
    assert status["services"]["deliverer"]["ready"] is True
    assert await admin.call("GET", "/api/v1/openapi.json") == json.loads(json.dumps(build_document()))
    assert await admin.call("GET", "/healthz", headers={}) == {"status": "ok"}


async def test_a_reload_rotates_the_token_and_refuses_what_needs_a_restart(admin: Admin) -> None:
    rotated = dict(admin.config, admin={**admin.config["admin"], "token": "rotated-admin-token-456789"})
    await admin.service.reload(load(rotated))
    await admin.call("GET", "/api/v1/events", status=401)
    await admin.call("GET", "/api/v1/events", headers={"Authorization": "Bearer rotated-admin-token-456789"})
    moved = dict(rotated, admin={**rotated["admin"], "listen": f"127.0.0.1:{free_port()}"})
    without = dict(rotated, admin={key: value for key, value in rotated["admin"].items() if key != "token"})
    for refused in (moved, without):
        with pytest.raises(ConfigError):
            await admin.service.reload(load(refused))
    await admin.call("GET", "/api/v1/status", params={"interval": "0"},
                     headers={"Authorization": "Bearer rotated-admin-token-456789"})
