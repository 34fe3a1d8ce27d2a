"""The admin API in process, without a broker: the bearer token guards every endpoint but /healthz (compared in
constant time, never logged), every error has the `{"error", "detail"}` shape, inputs are checked before any work,
and a broker that cannot be reached answers 503."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from control.admin import context as admin_context
from control.admin import events as admin_events
from control.admin.app import build_app
from control.admin.auth import Refusal, check_bearer
from control.admin.context import AdminContext, AdminState
from control.admin.destinations import url_host
from control.admin.errors import STATUS, ApiError
from control.admin.events import MAX_BODY_SHOWN, body_document
from control.admin.index import BadCursor, EventQuery, Page
from hookpipe.amqp.broker import Publisher
from hookpipe.runtime import metrics
from tests.support.pipeline import load, pipeline_config

TOKEN = "unit-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

EVENT = {
    "id": "evt-1", "source": "demo", "type": "order.created", "received_at": "2026-12-04T06:50:00.123Z",
    "content_type": "application/json", "size": 2, "headers": {}, "status": "delivered", "replay": False,
    "archived": True, "routing": None, "deliveries": [],
}


class FakeIndex:
    """Answers from a dict; remembers the queries it was asked; a cursor `bad` is refused as the index would."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        self.queries: list[EventQuery] = []

    async def search(self, query: EventQuery) -> Page:
        if query.cursor == "bad":
            raise BadCursor("not a page cursor")
        self.queries.append(query)
        return Page(items=[{"id": key} for key in self.documents], next_cursor=None)

    async def event(self, event_id: str) -> dict[str, Any] | None:
        return self.documents.get(event_id)

    async def archive_offset(self, event_id: str) -> int | None:
        return 0 if event_id in self.documents else None


async def never_read(*_: Any) -> None:
    raise AssertionError("the archive is not read without a broker")


@pytest.fixture
def index() -> FakeIndex:
    return FakeIndex({"evt-1": dict(EVENT)})


@pytest.fixture
async def api(index: FakeIndex, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    """The app with a broker link that never connects (nothing listens on port 1)."""
    monkeypatch.setattr(admin_context, "BROKER_WAIT", 0.05)
    config = load(pipeline_config("hp-unit", "http://127.0.0.1:9/hook", admin={"token": TOKEN})).config
    publisher = Publisher("amqp://guest:guest@127.0.0.1:1/", name="unit", heartbeat=2, timeout=1)
    context = AdminContext(AdminState.of(config), index=index, publisher=publisher, read_archived=never_read,
                           token=lambda: TOKEN)
    client = TestClient(TestServer(build_app(context)))
    await client.start_server()
    yield client
    await client.close()


async def error_of(response: Any, status: int, reason: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    document = await response.json()
    assert set(document) == {"error", "detail"} and document["error"] == reason, document
    assert isinstance(document["detail"], str) and document["detail"]
    return document


# --- auth ---

def test_a_bearer_token_is_checked_by_scheme_and_value() -> None:
    assert check_bearer(None, TOKEN) is Refusal.MISSING
    assert check_bearer("Basic dXNlcjpwYXNz", TOKEN) is Refusal.MALFORMED
    assert check_bearer("Bearer", TOKEN) is Refusal.MALFORMED
    assert check_bearer("Bearer " + TOKEN[:-1], TOKEN) is Refusal.WRONG
    assert check_bearer("Bearer " + TOKEN + "x", TOKEN) is Refusal.WRONG
    assert check_bearer("Bearer caf\u00e9\udcff", TOKEN) is Refusal.WRONG  # any header value compares
    assert check_bearer(f"bearer {TOKEN}", TOKEN) is None
    assert check_bearer(f"Bearer  {TOKEN} ", TOKEN) is None


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert check_bearer("Bearer nope-nope-nope-nope", TOKEN) is Refusal.WRONG
    assert check_bearer(f"Bearer {TOKEN}", TOKEN) is None
    assert compared == [(b"nope-nope-nope-nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}])
@pytest.mark.parametrize("method, path", [("GET", "/api/v1/events"), ("GET", "/api/v1/events/evt-1"),
                                          ("POST", "/api/v1/events/evt-1/resend"), ("GET", "/api/v1/openapi.json"),
                                          ("POST", "/api/v1/replay"), ("GET", "/api/v1/nowhere"),
                                          ("DELETE", "/api/v1/events")])
async def test_without_the_right_token_every_endpoint_answers_401(api: TestClient, headers: dict[str, str],
                                                                  method: str, path: str) -> None:
    response = await api.request(method, path, headers=headers, json={"destination": "receiver"})
    await error_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_healthz_needs_no_token_and_refusals_are_counted_by_reason(api: TestClient) -> None:
    before = {reason: metrics.ADMIN_UNAUTHORIZED.labels(reason=reason)._value.get() for reason in Refusal}
    assert (await api.get("/healthz")).status == 200
    await api.get("/api/v1/events")
    await api.get("/api/v1/events", headers={"Authorization": "Bearer wrong-token-0123456789"})
    await api.get("/api/v1/events", headers=AUTH)
    after = {reason: metrics.ADMIN_UNAUTHORIZED.labels(reason=reason)._value.get() for reason in Refusal}
    assert {reason: after[reason] - before[reason] for reason in Refusal} == {
        Refusal.MISSING: 1, Refusal.MALFORMED: 0, Refusal.WRONG: 1}


async def test_neither_the_token_nor_a_wrong_one_reaches_the_logs(api: TestClient, index: FakeIndex,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    index.documents["boom"] = {"not": object()}  # a bug: the answer cannot be encoded, so it is logged
    caplog.set_level(logging.DEBUG)
    wrong = "Bearer wrong-secret-token-9876543210"
    for headers in (AUTH, {"Authorization": wrong}):
        await api.get("/api/v1/events/boom", headers=headers)
        await api.post("/api/v1/destinations/receiver/pause", headers=headers)
    assert "internal error" in caplog.text
    assert TOKEN not in caplog.text and "wrong-secret-token" not in caplog.text and "Authorization" not in caplog.text


async def test_requests_are_counted_by_route_template_not_by_raw_path(api: TestClient) -> None:
    counter = metrics.ADMIN_REQUESTS.labels(endpoint="/api/v1/events/{id}", method="GET", status="404")
    before = counter._value.get()
    for event_id in ("a", "b", "c"):
        await api.get(f"/api/v1/events/{event_id}", headers=AUTH)
    assert counter._value.get() - before == 3


# --- error shapes ---

async def test_unknown_paths_wrong_methods_and_large_bodies_answer_json_errors(api: TestClient) -> None:
    await error_of(await api.get("/api/v1/nowhere", headers=AUTH), 404, "not_found")
    response = await api.delete("/api/v1/events", headers=AUTH)
    await error_of(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"
    big = b'{"destination": "' + b"x" * (64 * 1024) + b'"}'
    await error_of(await api.post("/api/v1/events/evt-1/resend", data=big, headers=AUTH), 413, "body_too_large")


@pytest.mark.parametrize("query, word", [
    ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"status": "lost"}, "status"), ({"destination": "receiver", "status": "received"}, "delivery status"),
    ({"since": "yesterday"}, "since"), ({"until": "2026-11-27T08:00:00"}, "time zone"),
    ({"since": "99999999999d"}, "since"), ({"since": "1h", "until": "2h"}, "after"),
    ({"colour": "red"}, "unknown query parameter"), ({"source": "a\x00b"}, "control characters"),
])
async def test_bad_filters_answer_400_naming_the_parameter(api: TestClient, query: dict[str, str],
                                                           word: str) -> None:
    document = await error_of(await api.get("/api/v1/events", params=query, headers=AUTH), 400, "bad_request")
    assert word in document["detail"]


async def test_a_repeated_parameter_and_a_bad_cursor_are_refused(api: TestClient) -> None:
    response = await api.get("/api/v1/events?limit=1&limit=2", headers=AUTH)
    assert "more than once" in (await error_of(response, 400, "bad_request"))["detail"]
    await error_of(await api.get("/api/v1/events", params={"cursor": "bad"}, headers=AUTH), 400, "bad_cursor")


async def test_a_search_hands_every_filter_to_the_index(api: TestClient, index: FakeIndex) -> None:
    response = await api.get("/api/v1/events", headers=AUTH, params={
        "source": "demo", "type": "t", "destination": "receiver", "status": "dead", "cursor": "c", "limit": "7",
        "since": "2026-11-27T08:00:00Z", "until": "2026-11-27T09:00:00+01:00"})
    assert response.status == 200
    assert await response.json() == {"items": [{"id": "evt-1"}], "next_cursor": None}
    assert index.queries == [EventQuery(source="demo", type="t", destination="receiver", status="dead",
                                        since=1_795_766_400_000, until=1_795_766_400_000, cursor="c", limit=7)]


@pytest.mark.parametrize("body, reason, word", [
    (b"{", "bad_json", "JSON"), (b"[1]", "bad_json", "object"), (b"\r\n", "bad_json", "JSON"),
    (b"", "bad_request", "destination"), (b"{}", "bad_request", "destination"),
    (b'{"destination": null}', "bad_request", "destination"),
    (b'{"destination": 5}', "bad_request", "destination"),
    (b'{"destination": "receiver", "extra": 1}', "bad_request", "unknown key"),
])
async def test_a_bad_body_answers_400(api: TestClient, body: bytes, reason: str, word: str) -> None:
    response = await api.post("/api/v1/events/evt-1/resend", data=body, headers=AUTH)
    assert word in (await error_of(response, 400, reason))["detail"]


async def test_a_bug_answers_500_internal_error_without_its_traceback(api: TestClient, index: FakeIndex) -> None:
    index.documents["boom"] = {"not": object()}
    document = await error_of(await api.get("/api/v1/events/boom", headers=AUTH), 500, "internal_error")
    assert "Traceback" not in document["detail"] and "object" not in document["detail"]


async def test_an_index_that_fails_answers_503(api: TestClient, index: FakeIndex,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(_: str) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(index, "event", broken)
    await error_of(await api.get("/api/v1/events/evt-1", headers=AUTH), 503, "index_unavailable")


# --- events, resend ---

async def test_unknown_events_and_destinations_answer_404_before_the_broker_is_asked(api: TestClient) -> None:
    await error_of(await api.get("/api/v1/events/nope", headers=AUTH), 404, "unknown_event")
    await error_of(await api.post("/api/v1/events/nope/resend", json={"destination": "receiver"}, headers=AUTH),
                   404, "unknown_event")
    await error_of(await api.post("/api/v1/events/evt-1/resend", json={"destination": "nowhere"}, headers=AUTH),
                   404, "unknown_destination")
    await error_of(await api.post("/api/v1/destinations/nowhere/pause", headers=AUTH), 404, "unknown_destination")
    await error_of(await api.get("/api/v1/dead-letters", params={"destination": "nowhere"}, headers=AUTH),
                   404, "unknown_destination")


async def test_with_the_archive_off_a_resend_answers_410_and_a_body_is_null(api: TestClient) -> None:
    await error_of(await api.post("/api/v1/events/evt-1/resend", json={"destination": "receiver"}, headers=AUTH),
                   410, "body_not_kept")
    response = await api.get("/api/v1/events/evt-1", params={"body": "true"}, headers=AUTH)
    assert response.status == 200 and (await response.json())["body"] is None
    assert "body" not in await (await api.get("/api/v1/events/evt-1", headers=AUTH)).json()


async def test_actions_answer_503_while_the_broker_cannot_be_reached(api: TestClient) -> None:
    for method, path, body in (("POST", "/api/v1/destinations/receiver/pause", None),
                               ("GET", "/api/v1/destinations", None), ("GET", "/api/v1/dead-letters", None),
                               ("POST", "/api/v1/dead-letters/replay", {}),
                               ("POST", "/api/v1/dead-letters/purge", {"destination": "receiver", "confirm": True})):
        response = await api.request(method, path, json=body, headers=AUTH)
        await error_of(response, 503, "broker_unavailable")


async def test_a_purge_must_name_its_destination_and_confirm(api: TestClient) -> None:
    for body in ({"confirm": True}, {"destination": "receiver"}, {"destination": "receiver", "confirm": False},
                 {"destination": "receiver", "confirm": "yes"}):
        await error_of(await api.post("/api/v1/dead-letters/purge", json=body, headers=AUTH), 400, "bad_request")


def test_a_body_is_text_when_utf8_else_base64_and_cut_at_64_kib() -> None:
    assert body_document(b'{"a": "\xc3\xa9"}') == {"text": '{"a": "\u00e9"}', "truncated": False}
    assert body_document(b"\xff\x00") == {"base64": "/wA=", "truncated": False}
    cut = body_document(b"a" * (MAX_BODY_SHOWN - 1) + "\u00e9".encode())  # the cut splits the last character
    assert cut == {"text": "a" * (MAX_BODY_SHOWN - 1), "truncated": True}
    assert body_document(b"b" * (MAX_BODY_SHOWN + 10)) == {"text": "b" * MAX_BODY_SHOWN, "truncated": True}
    assert admin_events.body_document(b"\xff" * (MAX_BODY_SHOWN + 1))["truncated"] is True


# --- operations ---

async def test_routes_test_answers_the_routes_and_each_destinations_payload(api: TestClient) -> None:
    document = {"id": "evt-9", "source": "demo", "type": "order.created", "body": {"n": 1}}
    response = await api.post("/api/v1/routes/test", json=document, headers=AUTH)
    assert response.status == 200
    assert await response.json() == {
        "id": "evt-9", "source": "demo", "type": "order.created", "routes": ["demo"], "dead_letter": None,
        "deliveries": [{"destination": "receiver", "route": "demo", "content_type": "application/json",
                        "payload": {"n": 1}}]}
    for bad in ({"source": "demo", "body": {}}, {"id": "x", "source": "demo", "body": {}, "colour": 1}):
        await error_of(await api.post("/api/v1/routes/test", json=bad, headers=AUTH), 400, "bad_request")


async def test_a_replay_with_the_archive_off_answers_409_and_bad_options_400(api: TestClient) -> None:
    await error_of(await api.post("/api/v1/replay", json={"since": "2h"}, headers=AUTH), 409, "archive_off")
    for bad in ({}, {"since": "soon"}, {"since": "2h", "route": "demo", "destination": "receiver"},
                {"since": "2h", "list": -1}, {"since": "2h", "dry_run": "yes"}, {"since": "2h", "rate": "fast"}):
        await error_of(await api.post("/api/v1/replay", json=bad, headers=AUTH), 400, "bad_request")


@pytest.mark.parametrize("url, host", [
    ("https://user:secret@billing.example.com/hooks?key=abc", "billing.example.com"),
    ("http://127.0.0.1:9000/webhooks", "127.0.0.1:9000"), ("https://[::1]:8443/x", "[::1]:8443"),
])
def test_a_destination_shows_its_host_only(url: str, host: str) -> None:
    assert url_host(url) == host


def test_refusal_reasons_are_the_ones_metrics_primes() -> None:
    metrics.prime_admin()
    primed = {labels["reason"] for metric in metrics.ADMIN_UNAUTHORIZED.collect() for sample in metric.samples
              for labels in (sample.labels,)}
    assert primed == set(Refusal)


async def test_bulk_actions_run_one_at_a_time_and_a_second_is_refused_with_409() -> None:
    config = load(pipeline_config("hp-unit-bulk", "http://127.0.0.1:9/")).config
    context = AdminContext(AdminState.of(config), index=FakeIndex({}), publisher=None,  # type: ignore[arg-type]
                           read_archived=never_read, token=lambda: "unused")
    async with context.one_bulk_action("the first"):
        with pytest.raises(ApiError) as refused:
            async with context.one_bulk_action("this replay"):
                pass
        assert (refused.value.reason, STATUS[refused.value.reason]) == ("action_running", 409)
        assert "this replay waits for it to end" in refused.value.detail
    async with context.one_bulk_action("the next"):  # free again once the first has ended
        pass
