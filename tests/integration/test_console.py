"""The web console of `hookpipe admin` against the real broker, beside ingest, router and deliverer in process
(each test under its own prefix, the index a SQLite file of its own), through a client that signs in as a
browser does: each page shows the pipeline's real data, and each form does what its API twin does (a resend, a
pause and a resume, a dead letter's replay and a purge, a routes test)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from control.admin.console.session import csrf_token
from control.admin.service import AdminService
from tests.support.pipeline import InProcessPipeline, free_port, load, pipeline_config, post_events, queue_depth
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration

TOKEN = "integration-console-token-0123"
CSRF = csrf_token(TOKEN)


@dataclass
class Console:
    config: dict[str, Any]
    http: aiohttp.ClientSession
    url: str

    async def page(self, path: str, *, status: int = 200, **options: Any) -> str:
        async with self.http.get(self.url + path, **options) as response:
            text = await response.text()
            assert response.status == status, f"GET {path}: {response.status} {alert_of(text)}"
            return text

    async def post(self, path: str, fields: dict[str, str], *, status: int = 200) -> str:
        """POST a form as the page would (its CSRF value added); the page it ends on, after any redirect."""
        async with self.http.post(self.url + path, data={"csrf": CSRF, **fields}) as response:
            text = await response.text()
            assert response.status == status, f"POST {path}: {response.status} {alert_of(text)}"
            return text

    async def until(self, path: str, holds: Callable[[str], bool], timeout: float = 30.0) -> str:
        """GET `path` until it answers 200 and `holds(page)` (an event is 404 until the index has it); the page."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self.http.get(self.url + path) as response:
                page = await response.text()
                if response.status == 200 and holds(page):
                    return page
            assert loop.time() < deadline, f"GET {path}: still\n{page}"
            await asyncio.sleep(0.2)


def alert_of(page: str) -> str | None:
    found = re.search(r'<p role="alert" class="error">(.*?)</p>', page, re.S)
    return found.group(1) if found else None


def notice_of(page: str) -> str | None:
    found = re.search(r'<p role="status" class="notice">(.*?)</p>', page, re.S)
    return found.group(1).replace("&#39;", "'") if found else None


def attempts_of(page: str, destination: str) -> list[tuple[str, str, str]]:
    section = re.search(rf'<section class="delivery" data-destination="{destination}".*?</section>', page, re.S)
    assert section is not None, page
    return re.findall(r'<tr class="attempt" data-attempt="(\d+)" data-status="(\d*)" data-resend="(\w+)">',
                      section.group(0))


@pytest.fixture
async def console(prefix: str, receiver: Receiver, tmp_path: Path,
                  topology_cleanup: Callable[[dict[str, Any]], None]) -> AsyncIterator[Console]:
    """The pipeline with the archive on, a second destination `audit` (route `audit` from source `orders`), and
    hookpipe admin, signed in through its login form."""
    config = pipeline_config(
        prefix, receiver.url, archive={"max_age": "1h", "max_bytes": "1GiB"},
        admin={"listen": f"127.0.0.1:{free_port()}", "ops": f"127.0.0.1:{free_port()}", "token": TOKEN,
               "index": str(tmp_path / "index.sqlite3")},
    )
    config["destinations"]["audit"] = dict(config["destinations"]["receiver"])
    config["sources"]["orders"] = dict(config["sources"]["demo"])
    config["routes"].append({"name": "orders", "sources": ["orders"], "to": ["audit"]})
    topology_cleanup(config)
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    service = AdminService(load(config))
    await service.start()
    assert await service.publisher.link.wait_ready(15) and await service.streams.wait_ready(15)
    url = f"http://{config['admin']['listen']}"
    try:
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=url)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            login = await (await http.get(url + "/login")).text()
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', login)
            assert csrf is not None
            async with http.post(url + "/login", data={"csrf": csrf.group(1), "token": TOKEN}) as signed_in:
                assert signed_in.status == 200 and signed_in.url.path == "/events"
            yield Console(config, http, url)
    finally:
        await service.stop()
        await pipeline.stop()


async def test_an_event_shows_its_attempts_and_body_and_a_resend_adds_one(console: Console,
                                                                          receiver: Receiver) -> None:
    async def flaky(_: web.Request, number: int) -> web.StreamResponse:
        return web.Response(status=500 if number == 1 else 200, text="not yet" if number == 1 else "ok")

    receiver.respond = flaky
    await post_events(console.config, ["evt-flaky"], body=b'{"type": "order.paid", "total": 12}')
    page = await console.until("/events/evt-flaky", lambda p: len(attempts_of(p, "receiver")) == 2
                               and 'data-destination="receiver" data-status="delivered"' in p)
    assert attempts_of(page, "receiver") == [("1", "500", "false"), ("2", "200", "false")]
    assert "not yet" in page  # the failed answer's excerpt
    assert '<pre id="body" tabindex="0">{\n  &#34;type&#34;: &#34;order.paid&#34;,\n  &#34;total&#34;: 12\n}</pre>' \
        in page
    assert 'data-decision="routed"' in page and "<dt>Size</dt><dd>35 bytes</dd>" in page

    listing = await console.page("/events?source=demo&status=delivered")
    assert '<tr data-event-id="evt-flaky" data-status="delivered">' in listing
    rows = await console.page("/events/rows?source=demo")
    assert rows.lstrip().startswith('<tr data-event-id="evt-flaky"')

    resent = await console.post("/events/evt-flaky/resend", {"destination": "receiver"})
    assert notice_of(resent) is not None and "resent to receiver" in notice_of(resent)  # type: ignore[operator]
    await receiver.wait_for(lambda r: len(r.received) == 2, timeout=20)
    page = await console.until("/events/evt-flaky", lambda p: len(attempts_of(p, "receiver")) == 3)
    assert attempts_of(page, "receiver")[2] == ("3", "200", "true")

    refused = await console.post("/events/evt-flaky/resend", {"destination": "audit"}, status=409)
    assert "no current route sends" in (alert_of(refused) or "")

    tested = await console.post("/routes", {"event": '{"id": "t", "source": "orders", "body": {"total": 1}}'})
    assert '<tr data-route="orders" data-matched="true">' in tested
    assert '<tr data-route="demo" data-matched="false">' in tested
    assert 'data-destination="audit" data-route="orders"' in tested


async def test_a_paused_destination_holds_its_events_until_resumed(console: Console, receiver: Receiver) -> None:
    def row(page: str, name: str) -> str:
        found = re.search(rf'<tr data-destination="{name}" data-paused="(true|false)">.*?</tr>', page, re.S)
        assert found is not None, page
        return found.group(0)

    page = await console.page("/destinations")
    assert 'data-paused="false"' in row(page, "audit") and 'class="pause"' in row(page, "audit")
    assert "<code>127.0.0.1:" in row(page, "receiver") and "closed" in row(page, "receiver")
    paused = await console.post("/destinations/audit/pause", {})
    assert "audit paused on every running deliverer" in (notice_of(paused) or "")
    await console.until("/destinations", lambda p: 'data-paused="true"' in row(p, "audit"))

    await post_events(console.config, ["evt-held"], source="orders")
    page = await console.until("/destinations", lambda p: '<td class="depth">1</td>' in row(p, "audit"))
    assert 'class="resume"' in row(page, "audit") and "Resume audit" in row(page, "audit")
    assert receiver.received == []
    resumed = await console.post("/destinations/audit/resume", {})
    assert "audit resumed" in (notice_of(resumed) or "")
    await receiver.wait_for(lambda r: len(r.received) == 1, timeout=20)
    await console.until("/destinations", lambda p: 'data-paused="false"' in row(p, "audit")
                        and '<td class="depth">0</td>' in row(p, "audit"))


async def test_dead_letters_are_listed_by_destination_replayed_and_purged(console: Console,
                                                                          receiver: Receiver) -> None:
    async def gone(_: web.Request, __: int) -> web.StreamResponse:
        return web.Response(status=410)

    receiver.respond = gone
    dead_queue = f"{console.config['broker']['prefix']}.dead.receiver"
    await post_events(console.config, ["evt-d1", "evt-d2"])
    page = await console.until("/dead-letters", lambda p: 'tr data-event-id="evt-d1"' in p
                               and 'tr data-event-id="evt-d2"' in p)
    section = re.search(r'<section class="dead-queue" data-destination="receiver".*?</section>', page, re.S)
    assert section is not None
    assert '<li data-reason="dead_letter_on"><strong>2</strong> dead_letter_on</li>' in section.group(0)
    assert "Replay receiver</button>" in section.group(0) and "Purge receiver</button>" in section.group(0)
    assert 'section class="dead-queue" data-destination="audit"' in page and 'data-destination="router"' in page
    filtered = await console.page("/dead-letters?destination=receiver&reason=dead_letter_on")
    assert 'data-destination="audit"' not in filtered and 'name="reason" value="dead_letter_on"' in filtered

    async def fine(_: web.Request, __: int) -> web.StreamResponse:
        return web.Response(status=200)

    receiver.respond = fine
    replayed = await console.post("/dead-letters/replay", {"destination": "receiver", "id": "evt-d1"})
    assert notice_of(replayed) == "receiver: 1 dead letter replayed, 1 kept."
    await receiver.wait_for(lambda r: [x.headers["webhook-id"] for x in r.received] == ["evt-d1"], timeout=20)

    unticked = await console.post("/dead-letters/purge", {"destination": "receiver"}, status=400)
    assert "confirm" in (alert_of(unticked) or "") and await queue_depth(dead_queue) == 1
    purged = await console.post("/dead-letters/purge", {"destination": "receiver", "confirm": "yes"})
    assert notice_of(purged) == "receiver: 1 dead letter purged."
    assert await queue_depth(dead_queue) == 0
    assert 'tr data-event-id="evt-d2"' not in await console.page("/dead-letters")
