"""The web console in process, beside the API, without a broker: signing in sets the session cookie (HttpOnly,
Secure, SameSite=Strict) and a wrong token is 401 with an alert, counted; every page but the login and the assets
sends a browser without the cookie to the login; a POST without the CSRF value, with a wrong one, or from another
origin is 403; every answer carries the CSP and its sibling headers; each page shows the index's data, bad input
on a form is 400 with an alert naming the field, and the token appears in no page and no log."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient, TestServer

from control.admin import context as admin_context
from control.admin.app import build_site
from control.admin.console.pages import CONTENT_SECURITY_POLICY
from control.admin.console.session import csrf_token
from control.admin.context import AdminContext, AdminState
from control.admin.index import BadCursor, EventQuery, Page
from hookpipe.amqp.broker import Publisher
from hookpipe.runtime import metrics
from tests.support.pipeline import load, pipeline_config

TOKEN = "unit-console-token-0123456789"
CSRF = csrf_token(TOKEN)

EVENT: dict[str, Any] = {
    "id": "evt-1", "source": "demo", "type": "order.created", "received_at": "2026-12-04T06:50:00.123Z",
    "content_type": "application/json", "size": 9, "headers": {"x-shop": "<b>north</b>"}, "status": "dead",
    "replay": False, "archived": True,
    "routing": {"decision": "routed", "routes": ["demo"], "destinations": ["receiver"], "reason": None,
                "at": "2026-12-04T06:50:00.200Z"},
    "deliveries": [{
        "destination": "receiver", "status": "dead", "dead": {"reason": "exhausted", "at": "2026-12-04T06:51:00.000Z",
                                                              "attempts": 2},
        "attempts": [
            {"attempt": 1, "at": "2026-12-04T06:50:00.300Z", "duration_ms": 12, "delivered": False,
             "reason": "status_5xx", "status": 500, "error": None, "response": "upstream <down>", "replay": False,
             "resend": False},
            {"attempt": 1, "at": "2026-12-04T06:50:01.300Z", "duration_ms": 5000, "delivered": False,
             "reason": "timeout", "status": None, "error": "no answer in 5 s", "response": None, "replay": False,
             "resend": True},
        ],
    }],
}


def summary(document: dict[str, Any]) -> dict[str, Any]:
    return {"id": document["id"], "source": document["source"], "type": document["type"],
            "received_at": document["received_at"], "status": document["status"], "replay": document["replay"],
            "destinations": [{"name": d["destination"], "status": d["status"], "attempts": len(d["attempts"])}
                             for d in document["deliveries"]]}


class FakeIndex:
    """Answers from a dict, newest first, in pages; remembers each query; `bad` is a cursor it did not hand out."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        self.queries: list[EventQuery] = []

    async def search(self, query: EventQuery) -> Page:
        if query.cursor == "bad":
            raise BadCursor("not a page cursor")
        self.queries.append(query)
        items = [summary(document) for document in reversed(self.documents.values())]
        start = int(query.cursor) if query.cursor else 0
        page = items[start:start + query.limit]
        more = start + query.limit < len(items)
        return Page(items=page, next_cursor=str(start + query.limit) if more else None)

    async def event(self, event_id: str) -> dict[str, Any] | None:
        return self.documents.get(event_id)

    async def archive_offset(self, event_id: str) -> int | None:
        return 0 if event_id in self.documents else None


async def never_read(*_: Any) -> None:
    raise AssertionError("the archive is not read without a broker")


@pytest.fixture
def index() -> FakeIndex:
    older = {**EVENT, "id": "evt-0", "status": "delivered", "type": None, "deliveries": []}
    return FakeIndex({"evt-0": older, "evt-1": dict(EVENT)})


@pytest.fixture
async def site(index: FakeIndex, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    """The API and the console with a broker link that never connects (nothing listens on port 1), archive off."""
    monkeypatch.setattr(admin_context, "BROKER_WAIT", 0.05)
    config = load(pipeline_config("hp-unit-console", "http://127.0.0.1:9/hook", admin={"token": TOKEN})).config
    publisher = Publisher("amqp://guest:guest@127.0.0.1:1/", name="unit", heartbeat=2, timeout=1)
    context = AdminContext(AdminState.of(config), index=index, publisher=publisher, read_archived=never_read,
                           token=lambda: TOKEN)
    server = TestServer(build_site(context))
    await server.start_server()
    # Secure cookies go back over plain http to the test server, as browsers do for localhost.
    jar = CookieJar(unsafe=True, treat_as_secure_origin=str(server.make_url("/")))
    client = TestClient(server, cookie_jar=jar)
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
async def signed_in(site: TestClient) -> TestClient:
    site.session.cookie_jar.update_cookies({"hookpipe_session": TOKEN}, site.make_url("/"))
    return site


def alert(html: str) -> str:
    found = re.findall(r'<p role="alert" class="error">(.*?)</p>', html, re.S)
    assert len(found) == 1, html
    return found[0]


def login_csrf(html: str) -> str:
    match = re.search(r'<input type="hidden" name="csrf" value="([0-9a-f]{64})">', html)
    assert match, html
    return match.group(1)


def unauthorized() -> dict[str, float]:
    return {reason: metrics.ADMIN_UNAUTHORIZED.labels(reason=reason)._value.get() for reason in ("missing", "wrong")}


# --- signing in and out ---

async def test_the_login_form_signs_in_with_the_token_and_sets_the_session_cookie(site: TestClient) -> None:
    page = await site.get("/login", params={"next": "/events/evt-1"})
    html = await page.text()
    assert page.status == 200
    assert '<form id="login" class="panel narrow" method="post" action="/login">' in html
    assert '<label for="token">Admin token</label>' in html and 'type="password" id="token" name="token"' in html
    assert '<button type="submit">Sign in</button>' in html and 'name="next" value="/events/evt-1"' in html
    csrf_cookie = page.cookies["hookpipe_csrf"]
    assert csrf_cookie["samesite"] == "Strict" and csrf_cookie.value == login_csrf(html)

    answer = await site.post("/login", data={"csrf": login_csrf(html), "token": TOKEN, "next": "/events/evt-1"},
                             allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/events/evt-1")
    cookie = answer.cookies["hookpipe_session"]
    assert cookie.value == TOKEN
    assert (cookie["httponly"], cookie["secure"], cookie["samesite"], cookie["path"]) == (True, True, "Strict", "/")
    events = await site.get("/events")
    assert events.status == 200 and events.url.path == "/events"


async def test_a_wrong_token_answers_401_with_the_alert_and_is_counted(site: TestClient,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    csrf = login_csrf(await (await site.get("/login")).text())
    before = unauthorized()
    wrong = await site.post("/login", data={"csrf": csrf, "token": "wrong-secret-token-9876543210"})
    html = await wrong.text()
    assert wrong.status == 401 and "token is wrong" in alert(html)
    assert "hookpipe_session" not in wrong.cookies and 'id="login"' in html
    empty = await site.post("/login", data={"csrf": csrf, "token": ""})
    assert empty.status == 401 and "Enter the admin token" in alert(await empty.text())
    after = unauthorized()
    assert {reason: after[reason] - before[reason] for reason in after} == {"missing": 1, "wrong": 1}
    assert "wrong-secret-token" not in caplog.text and TOKEN not in caplog.text and "sign-in refused" in caplog.text


async def test_signing_out_deletes_the_cookie(signed_in: TestClient) -> None:
    answer = await signed_in.post("/logout", data={"csrf": CSRF}, allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/login")
    assert answer.cookies["hookpipe_session"].value == "" and answer.cookies["hookpipe_session"]["max-age"] == "0"


@pytest.mark.parametrize("path", ["/", "/events", "/events?source=demo", "/events/evt-1", "/events/rows",
                                  "/destinations", "/dead-letters", "/routes", "/nowhere"])
async def test_without_the_cookie_every_page_sends_the_browser_to_the_login(site: TestClient, path: str) -> None:
    answer = await site.get(path, allow_redirects=False)
    assert answer.status == 303
    assert answer.headers["Location"] == "/login?next=" + path.replace("?", "%3F").replace("=", "%3D")


async def test_a_wrong_cookie_is_a_refused_token_and_a_post_without_a_session_goes_to_the_login(
        site: TestClient) -> None:
    before = unauthorized()
    site.session.cookie_jar.update_cookies({"hookpipe_session": "stale-token-0123456789"}, site.make_url("/"))
    answer = await site.get("/events", allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/login?next=/events")
    assert unauthorized()["wrong"] - before["wrong"] == 1
    posted = await site.post("/destinations/receiver/pause", data={"csrf": CSRF}, allow_redirects=False)
    assert (posted.status, posted.headers["Location"]) == (303, "/login")


async def test_the_login_the_assets_and_healthz_need_no_cookie(site: TestClient) -> None:
    for path, kinds in (("/login", {"text/html"}), ("/static/console.css", {"text/css"}),
                        ("/static/console.js", {"text/javascript", "application/javascript"}),
                        ("/healthz", {"application/json"})):
        answer = await site.get(path, allow_redirects=False)
        assert answer.status == 200 and answer.content_type in kinds, path


# --- cross-site requests ---

POSTS = [("/logout", {}), ("/events/evt-1/resend", {"destination": "receiver"}),
         ("/destinations/receiver/pause", {}), ("/destinations/receiver/resume", {}),
         ("/dead-letters/replay", {"destination": "receiver"}),
         ("/dead-letters/purge", {"destination": "receiver", "confirm": "yes"}), ("/routes", {"event": "{}"})]


@pytest.mark.parametrize("path, fields", POSTS)
@pytest.mark.parametrize("csrf, origin", [(None, None), ("", None), ("0" * 64, None), (csrf_token("other-token"), None),
                                          (CSRF, "http://evil.example"), (CSRF, "null")])
async def test_a_post_without_the_right_csrf_or_from_another_origin_is_403(
        signed_in: TestClient, path: str, fields: dict[str, str], csrf: str | None, origin: str | None) -> None:
    data = fields | ({} if csrf is None else {"csrf": csrf})
    answer = await signed_in.post(path, data=data, headers={"Origin": origin} if origin else {},
                                  allow_redirects=False)
    assert answer.status == 403
    assert "refused" in alert(await answer.text())
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_the_login_csrf_must_equal_its_cookie_and_come_from_the_same_origin(site: TestClient) -> None:
    csrf = login_csrf(await (await site.get("/login")).text())
    for data, headers in (({"token": TOKEN}, {}), ({"csrf": "a" * 64, "token": TOKEN}, {}),
                          ({"csrf": csrf, "token": TOKEN}, {"Origin": "http://evil.example"})):
        answer = await site.post("/login", data=data, headers=headers, allow_redirects=False)
        assert answer.status == 403 and "hookpipe_session" not in answer.cookies
    own = f"http://{site.server.host}:{site.server.port}"
    answer = await site.post("/login", data={"csrf": csrf, "token": TOKEN}, headers={"Origin": own},
                             allow_redirects=False)
    assert answer.status == 303


# --- headers ---

@pytest.mark.parametrize("path, cache", [("/login", "no-store"), ("/events", "no-store"), ("/events/rows", "no-store"),
                                         ("/events/evt-1", "no-store"), ("/events/nope", "no-store"),
                                         ("/", "no-store"), ("/nowhere", "no-store"),
                                         ("/static/console.css", "no-cache"), ("/static/nothing.css", "no-cache")])
async def test_every_console_answer_carries_the_security_headers(signed_in: TestClient, path: str,
                                                                 cache: str) -> None:
    answer = await signed_in.get(path, allow_redirects=False)
    assert answer.headers["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert answer.headers["Cache-Control"] == cache


async def test_pages_load_nothing_from_another_origin_and_run_no_inline_script(signed_in: TestClient) -> None:
    for path in ("/events", "/events/evt-1", "/routes", "/login"):
        html = await (await signed_in.get(path)).text()
        assert not re.search(r'(src|href|action)="(https?:)?//', html), path
        assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/console.js" defer>'], path
        assert " style=" not in html and "<style" not in html, path


# --- events ---

async def test_the_events_page_lists_events_newest_first_with_their_deliveries(signed_in: TestClient,
                                                                               index: FakeIndex) -> None:
    answer = await signed_in.get("/events")
    html = await answer.text()
    assert answer.status == 200
    rows = re.findall(r'<tr data-event-id="([^"]+)" data-status="([^"]+)">', html)
    assert rows == [("evt-1", "dead"), ("evt-0", "delivered")]
    assert '<a href="/events/evt-1">' in html and "receiver: <span class=\"status status-dead\">dead</span>, " \
                                                   "2 attempts" in html
    assert '<form id="filters"' in html and 'data-rows-url="/events/rows"' in html and 'id="live"' in html
    for name in ("source", "type", "destination", "since", "until"):
        assert f'name="{name}"' in html
    assert '<select id="status" name="status">' in html and '<option value="any" selected>' in html
    assert '<h1>Events</h1>' in html and 'aria-label="Main"' in html and '<form id="logout"' in html


async def test_the_filters_go_to_the_index_and_older_pages_follow_the_cursor(signed_in: TestClient,
                                                                            index: FakeIndex) -> None:
    for _ in range(60):
        key = f"evt-x{len(index.documents)}"
        index.documents[key] = {**EVENT, "id": key}
    query = {"source": "demo", "type": "", "destination": "receiver", "status": "dead", "since": "2026-12-04T00:00:00Z",
             "until": ""}
    html = await (await signed_in.get("/events", params=query)).text()
    assert index.queries[-1] == EventQuery(source="demo", destination="receiver", status="dead",
                                           since=1_796_342_400_000, limit=50)
    older = re.search(r'<a href="([^"]+)" rel="next">Older events</a>', html)
    assert older is not None
    link = older.group(1).replace("&amp;", "&")
    assert link == "/events?source=demo&destination=receiver&status=dead&since=2026-12-04T00%3A00%3A00Z&cursor=50"
    second = await (await signed_in.get(link)).text()
    assert index.queries[-1].cursor == "50" and "data-rows-url" not in second and "does not refresh" in second
    rows = await signed_in.get("/events/rows", params={"status": "any"})
    fragment = await rows.text()
    assert rows.status == 200 and fragment.count("<tr data-event-id=") == 50 and "<html" not in fragment


@pytest.mark.parametrize("query, words", [
    ({"since": "not-a-time"}, "since"), ({"until": "2026-11-27T08:00:00"}, "until"),
    ({"since": "1h", "until": "2h"}, "since"), ({"status": "lost"}, "status"),
    ({"destination": "receiver", "status": "received"}, "status"), ({"cursor": "bad"}, "cursor"),
    ({"colour": "red"}, "colour"), ({"source": "a\x00b"}, "source"),
])
async def test_bad_filters_answer_400_with_an_alert_naming_the_field(signed_in: TestClient, query: dict[str, str],
                                                                    words: str) -> None:
    answer = await signed_in.get("/events", params=query)
    html = await answer.text()
    assert answer.status == 400 and words in alert(html)
    assert '<form id="filters"' in html and "Traceback" not in html
    rows = await signed_in.get("/events/rows", params=query)
    assert rows.status == 400


async def test_an_event_page_shows_its_metadata_headers_routing_and_every_attempt(signed_in: TestClient) -> None:
    answer = await signed_in.get("/events/evt-1")
    html = await answer.text()
    assert answer.status == 200
    assert "<h1>Event <code>evt-1</code></h1>" in html
    metadata = re.search(r'<dl id="metadata" class="pairs">(.*?)</dl>', html, re.S)
    assert metadata is not None
    for shown in ("demo", "order.created", "2026-12-04 06:50:00.123 UTC", "dead", "application/json", "9 bytes"):
        assert shown in metadata.group(1)
    assert '<table id="headers">' in html and "&lt;b&gt;north&lt;/b&gt;" in html and "<b>north" not in html
    assert '<pre id="body" class="missing" tabindex="0">The body is not kept: the config has `archive: off`.' in html
    assert '<section id="routing"' in html and 'data-decision="routed"' in html
    assert '<section class="delivery" data-destination="receiver" data-status="dead"' in html
    attempts = re.findall(r'<tr class="attempt" data-attempt="(\d+)" data-status="(\d*)" data-resend="(\w+)">', html)
    assert attempts == [("1", "500", "false"), ("2", "", "true")]  # N counts rows; a resend's own try is 1
    assert "resend, try 1" in html
    assert "upstream &lt;down&gt;" in html and "no answer in 5 s" in html and "5000 ms" in html
    assert "Dead-lettered: <strong>exhausted</strong> after 2 attempts" in html
    form = re.search(r'<form class="resend" method="post" action="/events/evt-1/resend">(.*?)</form>', html, re.S)
    assert form is not None
    assert f'name="csrf" value="{CSRF}"' in form.group(1) and 'name="destination" value="receiver"' in form.group(1)
    assert "<button type=\"submit\">Resend to receiver</button>" in form.group(1)


async def test_an_unknown_event_is_a_404_page(signed_in: TestClient) -> None:
    answer = await signed_in.get("/events/nope")
    assert answer.status == 404 and "no event 'nope'" in alert(await answer.text()).replace("&#39;", "'")


@pytest.mark.parametrize("fields, status, words", [
    ({"destination": "receiver"}, 410, "archive: off"), ({"destination": "nowhere"}, 404, "no destination"),
    ({}, 400, "destination"), ({"destination": "receiver", "extra": "1"}, 400, "extra"),
])
async def test_a_resend_that_cannot_be_done_answers_on_the_event_page(signed_in: TestClient, fields: dict[str, str],
                                                                      status: int, words: str) -> None:
    answer = await signed_in.post("/events/evt-1/resend", data={"csrf": CSRF, **fields})
    html = await answer.text()
    assert answer.status == status and words in alert(html) and '<section id="deliveries"' in html


# --- destinations, dead letters (the broker is away here: tests/integration/test_console.py has the real ones) ---

@pytest.mark.parametrize("path, heading", [("/destinations", "Destinations"), ("/dead-letters", "Dead letters")])
async def test_pages_that_read_the_broker_say_when_it_cannot_be_reached(signed_in: TestClient, path: str,
                                                                       heading: str) -> None:
    answer = await signed_in.get(path)
    html = await answer.text()
    assert answer.status == 503 and "broker cannot be reached" in alert(html) and f"<h1>{heading}</h1>" in html


@pytest.mark.parametrize("fields, words", [({"destination": "receiver"}, "confirm"),
                                           ({"destination": "receiver", "confirm": "no"}, "confirm"),
                                           ({"confirm": "yes"}, "destination")])
async def test_a_purge_without_its_box_ticked_or_its_destination_is_400(signed_in: TestClient,
                                                                       fields: dict[str, str], words: str) -> None:
    answer = await signed_in.post("/dead-letters/purge", data={"csrf": CSRF, **fields})
    html = await answer.text()
    assert answer.status == 400 and words in alert(html) and '<form id="dead-filters"' in html


async def test_a_pause_of_an_unknown_destination_is_404_on_the_destinations_page(signed_in: TestClient) -> None:
    answer = await signed_in.post("/destinations/nowhere/pause", data={"csrf": CSRF})
    assert answer.status == 404 and "no destination 'nowhere'" in alert(await answer.text()).replace("&#39;", "'")


# --- routes ---

async def test_the_routes_page_tests_a_match_document(signed_in: TestClient) -> None:
    page = await (await signed_in.get("/routes")).text()
    assert '<form id="route-test"' in page and '<textarea id="event" name="event"' in page and "Test</button>" in page
    assert '<section id="result"' not in page and "&#34;source&#34;: &#34;demo&#34;" in page
    document = '{"id": "evt-9", "source": "demo", "type": "order.created",\n "body": {"n": 1}}'
    answer = await signed_in.post("/routes", data={"csrf": CSRF, "event": document})
    html = await answer.text()
    assert answer.status == 200
    assert '<section id="result"' in html and '<tr data-route="demo" data-matched="true">' in html
    assert '<section class="would-deliver" data-destination="receiver" data-route="demo">' in html
    assert "&#34;n&#34;: 1" in html
    other = '{"id": "x", "source": "other", "body": 1}'
    unmatched = await signed_in.post("/routes", data={"csrf": CSRF, "event": other})
    assert '<tr data-route="demo" data-matched="false">' in await unmatched.text()


@pytest.mark.parametrize("text, words", [
    ('{"id": "evt-broken", "source": ', "not valid JSON"), ("[1, 2]", "JSON object"), ("   ", "paste"),
    ('{"source": "demo", "body": {}}', "id"), ('{"id": "x", "source": "demo", "colour": 1}', "colour"),
])
async def test_a_bad_document_answers_400_naming_the_event_field(signed_in: TestClient, text: str,
                                                                 words: str) -> None:
    answer = await signed_in.post("/routes", data={"csrf": CSRF, "event": text})
    html = await answer.text()
    assert answer.status == 400 and words in alert(html) and "<textarea" in html and "Traceback" not in html
    if text.startswith("{"):
        assert text.split('"')[1] in html  # what was typed stays in the form


# --- failures, metrics, secrets ---

async def test_a_bug_answers_a_500_page_internal_error_logged_not_shown(signed_in: TestClient, index: FakeIndex,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    index.documents["boom"] = {"id": "boom"}  # a document the template cannot show: a bug
    answer = await signed_in.get("/events/boom")
    html = await answer.text()
    assert answer.status == 500 and "internal error" in alert(html) and "Traceback" not in html
    assert "admin console: internal error" in caplog.text


async def test_a_form_over_the_body_cap_answers_413(signed_in: TestClient) -> None:
    answer = await signed_in.post("/routes", data={"csrf": CSRF, "event": "x" * (65 * 1024)})
    assert answer.status == 413 and "64 KiB" in alert(await answer.text())


async def test_console_requests_are_counted_by_route_template(signed_in: TestClient) -> None:
    counter = metrics.ADMIN_REQUESTS.labels(endpoint="/events/{id}", method="GET", status="200")
    before = counter._value.get()
    for event_id in ("evt-0", "evt-1"):
        assert (await signed_in.get(f"/events/{event_id}")).status == 200
    assert counter._value.get() - before == 2


async def test_the_api_beside_the_console_keeps_its_bearer_token_and_json(signed_in: TestClient) -> None:
    for path in ("/api/v1/events", "/api/v1/nowhere"):
        answer = await signed_in.get(path)  # the session cookie is no bearer token
        assert answer.status == 401 and (await answer.json())["error"] == "unauthorized"
    answer = await signed_in.get("/api/v1/events", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 200 and [item["id"] for item in (await answer.json())["items"]] == ["evt-1", "evt-0"]
    assert "Content-Security-Policy" not in answer.headers


async def test_the_token_appears_in_no_page_and_no_log(signed_in: TestClient,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for path in ("/events", "/events/evt-1", "/events/rows", "/routes", "/destinations", "/dead-letters", "/nowhere"):
        assert TOKEN not in await (await signed_in.get(path)).text(), path
    assert TOKEN not in await (await signed_in.post("/routes", data={"csrf": CSRF, "event": "{"})).text()
    assert TOKEN not in caplog.text


async def test_what_a_page_shows_is_escaped(signed_in: TestClient, index: FakeIndex) -> None:
    hostile = '<script>alert(1)</script>"'
    index.documents["evt-x"] = {**EVENT, "id": "evt-x", "source": hostile, "type": hostile}
    for path in ("/events", "/events/evt-x"):
        html = await (await signed_in.get(path)).text()
        assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in html
