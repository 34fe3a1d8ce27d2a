"""Redirects are followed hop by hop, and every hop passes the SSRF guard."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from deliverer.sender import Sender
from hookpipe.config import DestinationConfig
from hookpipe.event import Event


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
