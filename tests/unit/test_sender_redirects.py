"""Redirects are followed hop by hop, every hop passes the SSRF guard and a cross-origin hop gets no static
headers; a proxy passes the guard too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from deliverer.sender import Sender, _origin
from hookpipe.config import DestinationConfig
from hookpipe.event import Event
from tests.support.network import loopback_only_connects


def event() -> Event:
    return Event(id="evt-1", source="s", type="t", received_at=0, verified=True, content_type="application/json",
                 body=b'{"a": 1}')


async def serve(routes: dict[str, Any]) -> tuple[web.AppRunner, str, list[str]]:
    hits: list[str] = []
    app = web.Application()
    for path, answer in routes.items():
        async def handler(request: web.Request, answer: Any = answer) -> web.StreamResponse:
            hits.append(request.path)
            await request.read()
            response = answer()
            if isinstance(response, web.HTTPException):  # redirects are exceptions in aiohttp
                raise response
            return response
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}", hits


def sender(url: str, **settings: Any) -> Sender:
    return Sender("d", DestinationConfig.model_validate({
        "url": url, "signing": {"scheme": "none"}, "allow_private_network": ["127.0.0.0/8"], **settings}))


async def test_a_redirect_to_the_metadata_address_is_refused_even_from_an_allowed_receiver() -> None:
    runner, base, hits = await serve({"/hook": lambda: web.HTTPTemporaryRedirect("http://169.254.169.254/latest")})
    delivery = sender(f"{base}/hook", follow_redirects=True)
    await delivery.start()
    try:
        result = await delivery.send(event(), 1)
    finally:
        await delivery.close()
        await runner.cleanup()
    assert (result.delivered, result.reason) == (False, "blocked_address")
    assert hits == ["/hook"]


async def test_redirects_within_allowed_networks_are_followed_when_asked() -> None:
    runner, base, hits = await serve({
        "/old": lambda: web.HTTPPermanentRedirect("/new"), "/new": lambda: web.Response(text="ok"),
    })
    follow, refuse = sender(f"{base}/old", follow_redirects=True), sender(f"{base}/old")
    await follow.start()
    await refuse.start()
    try:
        followed = await follow.send(event(), 1)
        refused = await refuse.send(event(), 1)
    finally:
        await follow.close()
        await refuse.close()
        await runner.cleanup()
    assert (followed.delivered, followed.status) == (True, 200)
    assert (refused.delivered, refused.reason, refused.status) == (False, "redirect", 308)
    assert hits == ["/old", "/new", "/old"]


async def test_a_redirect_loop_ends_as_a_failure() -> None:
    runner, base, hits = await serve({"/loop": lambda: web.HTTPFound("/loop")})
    delivery = sender(f"{base}/loop", follow_redirects=True)
    await delivery.start()
    try:
        result = await delivery.send(event(), 1)
    finally:
        await delivery.close()
        await runner.cleanup()
    assert (result.delivered, result.reason) == (False, "redirect")
    assert len(hits) == 6


# --- credentials stay with the destination's origin ----------------------------------------------------

STATIC = {"Authorization": "Bearer destination-only", "Cookie": "session=destination-only",
          "X-Api-Key": "destination-only"}


def forwarded_event() -> Event:
    return Event(id="evt-1", source="s", type="t", received_at=0, verified=True, content_type="application/json",
                 body=b'{"a": 1}', headers={"x-request-id": "req-1"})


async def serve_recording(seen: list[dict[str, str]], answer: Any) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append({name.lower(): value for name, value in request.headers.items()})
        await request.read()
        response = answer()
        if isinstance(response, web.HTTPException):
            raise response
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def deliver_through_redirect(location: str | None) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """One delivery to a destination answering 307 to `location` (None: to the other receiver): the headers
    the destination and the other receiver (same host, another port: another origin) got."""
    first: list[dict[str, str]] = []
    other: list[dict[str, str]] = []
    other_runner, other_base = await serve_recording(other, lambda: web.Response(status=204))
    target = location or f"{other_base}/elsewhere"
    runner, base = await serve_recording(
        first, lambda: web.HTTPTemporaryRedirect(target) if len(first) == 1 else web.Response(status=204))
    delivery = sender(f"{base}/hook", follow_redirects=True, headers=STATIC, forward_headers=["x-request-id"],
                      signing={"scheme": "standard-webhooks", "secrets": [SIGNING_SECRET]})
    await delivery.start()
    try:
        result = await delivery.send(forwarded_event(), 1)
    finally:
        await delivery.close()
        await runner.cleanup()
        await other_runner.cleanup()
    assert result.delivered
    return first, other


SIGNING_SECRET = "whsec_" + "aG9va3BpcGUtcmVkaXJlY3QtdGVzdC1rZXktMzI="


async def test_a_cross_origin_redirect_drops_static_and_forwarded_headers() -> None:
    first, other = await deliver_through_redirect(None)
    assert {"authorization", "cookie", "x-api-key", "x-request-id"} <= first[0].keys()
    assert len(other) == 1
    assert not {"authorization", "cookie", "x-api-key", "x-request-id"} & other[0].keys()
    # hookpipe's own headers, and the signature of the body, still go
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "x-hookpipe-source", "x-hookpipe-attempt"):
        assert name in other[0], name


async def test_a_same_origin_redirect_keeps_every_header() -> None:
    first, other = await deliver_through_redirect("/moved")
    assert other == [] and len(first) == 2
    assert first[1]["authorization"] == "Bearer destination-only"
    assert {"authorization", "cookie", "x-api-key", "x-request-id", "webhook-signature"} <= first[1].keys()


@pytest.mark.parametrize(("url", "cross"), [
    ("http://127.0.0.1:8080/other", False), ("http://127.0.0.1:8081/x", True), ("https://127.0.0.1:8080/x", True),
    ("http://localhost:8080/x", True), ("http://127.0.0.1:80/x", True),
    ("http://\uff11\uff12\uff17.0.0.1:8080/x", False),  # the same host, as it is connected to
])
def test_origin_is_scheme_host_and_port_as_connected(url: str, cross: bool) -> None:
    assert (_origin(URL(url)) != _origin(URL("http://127.0.0.1:8080/hook"))) is cross


# --- a proxy passes the guard, and so does a literal target behind it ----------------------------------


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that answers itself (204, or a 307 to `redirect_to`) and keeps each request
    line it gets."""

    def __init__(self) -> None:
        self.request_lines: list[str] = []
        self.port = 0
        self.redirect_to: str | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.request_lines.append(head.split(b"\r\n", 1)[0].decode())
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        if self.redirect_to is None:
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        else:
            writer.write(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {self.redirect_to}\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[RecordingProxy]:
    recording = RecordingProxy()
    server = await asyncio.start_server(recording.handle, "127.0.0.1", 0)
    recording.port = server.sockets[0].getsockname()[1]
    async with server:
        yield recording


async def send_via(url: str, proxy_url: str, allow: object) -> str:
    delivery = Sender("d", DestinationConfig.model_validate({
        "url": url, "signing": {"scheme": "none"}, "allow_private_network": allow, "proxy": proxy_url,
        "timeout": "5s"}))
    await delivery.start()
    try:
        return (await delivery.send(event(), 1)).reason
    finally:
        await delivery.close()


@pytest.mark.parametrize("proxy_url", ["http://10.0.0.1:3128", "http://169.254.169.254", "http://[fec0::1]:3128",
                                       "http://\uff11\uff10.0.0.1:3128"])
@pytest.mark.parametrize("allow", [False, ["127.0.0.0/8"]], ids=["strict", "loopback-open"])
async def test_a_private_proxy_is_refused_without_a_connection(
    monkeypatch: pytest.MonkeyPatch, proxy_url: str, allow: object
) -> None:
    connects = loopback_only_connects(monkeypatch)
    assert await send_via("http://93.184.216.34/hook", proxy_url, allow) == "blocked_address"
    assert connects == []


async def test_a_loopback_proxy_is_refused_under_the_strict_policy(
    monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy
) -> None:
    connects = loopback_only_connects(monkeypatch)
    assert await send_via("http://93.184.216.34/hook", f"http://127.0.0.1:{proxy.port}", False) == "blocked_address"
    assert (proxy.request_lines, connects) == ([], [])


async def test_a_proxy_whose_network_is_listed_carries_a_named_target(
    monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy
) -> None:
    connects = loopback_only_connects(monkeypatch)
    reason = await send_via("http://hooks.example.com/hook", f"http://127.0.0.1:{proxy.port}", ["127.0.0.0/8"])
    assert reason == "ok"
    assert proxy.request_lines == ["POST http://hooks.example.com/hook HTTP/1.1"]
    assert connects == ["127.0.0.1"]


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/hook", "http://169.254.169.254/latest", "http://\uff11\uff10.0.0.1/hook",
    "http://169\u3002254\u3002169\u3002254/latest", "http://[fec0::1]/hook", "http://[::ffff:10.0.0.1]/hook",
    "http://localhost/hook", "http://api.localhost/hook", "https://10.0.0.1/hook",
    # a final dot (a fully qualified name) is the same host to the proxy's resolver
    "http://169.254.169.254./latest", "http://10.0.0.1./hook", "http://localhost./hook", "http://api.localhost./hook",
    "http://localhost%2e/hook", "http://10.1./hook",
])
async def test_a_literal_private_target_is_refused_before_the_proxy_is_asked(
    monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy, target: str
) -> None:
    connects = loopback_only_connects(monkeypatch)
    assert await send_via(target, f"http://127.0.0.1:{proxy.port}", ["127.0.0.0/8"]) == "blocked_address"
    assert (proxy.request_lines, connects) == ([], [])


async def test_a_redirect_to_a_private_literal_is_refused_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy
) -> None:
    connects = loopback_only_connects(monkeypatch)
    delivery = Sender("d", DestinationConfig.model_validate({
        "url": "http://hooks.example.com/hook", "signing": {"scheme": "none"}, "follow_redirects": True,
        "allow_private_network": ["127.0.0.0/8"], "proxy": f"http://127.0.0.1:{proxy.port}"}))
    proxy.redirect_to = "http://169.254.169.254/latest"
    await delivery.start()
    try:
        result = await delivery.send(event(), 1)
    finally:
        await delivery.close()
    assert result.reason == "blocked_address"
    assert proxy.request_lines == ["POST http://hooks.example.com/hook HTTP/1.1"]
    assert connects == ["127.0.0.1"]
