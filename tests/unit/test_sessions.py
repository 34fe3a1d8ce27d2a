"""Destinations share pooled sessions by SSRF policy, and sharing never lends a strict destination a connection
a permissive one opened."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from deliverer.sender import Sender
from deliverer.sessions import SessionPool
from deliverer.ssrf import AddressPolicy
from hookpipe.config import DestinationConfig
from hookpipe.event import Event

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def destination(url: str, allow: object) -> DestinationConfig:
    return DestinationConfig.model_validate({"url": url, "signing": {"scheme": "none"}, "allow_private_network": allow})


async def test_destinations_with_the_same_policy_share_one_session() -> None:
    pool = SessionPool()
    try:
        strict_a = pool.session_for(AddressPolicy(False))
        strict_b = pool.session_for(AddressPolicy(False))
        loopback_a = pool.session_for(AddressPolicy([LOOPBACK]))
        loopback_b = pool.session_for(AddressPolicy([ipaddress.ip_network("127.0.0.0/8"), LOOPBACK]))
        everything = pool.session_for(AddressPolicy(True))
        assert strict_a is strict_b
        assert loopback_a is loopback_b
        assert len({id(strict_a), id(loopback_a), id(everything)}) == 3
        assert len(pool) == 3
    finally:
        await pool.close()


async def test_a_strict_destination_is_refused_on_a_host_a_permissive_one_keeps_a_connection_to() -> None:
    hits: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=204)  # keep-alive: the connection stays in the pool

    app = web.Application()
    app.router.add_post("/{name}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    pool = SessionPool()
    permissive = Sender("permissive", destination(f"http://localhost:{port}/permissive", ["127.0.0.0/8"]), pool)
    strict = Sender("strict", destination(f"http://localhost:{port}/strict", False), pool)
    event = Event(id="evt-1", source="demo", type=None, received_at=0, verified=True,
                  content_type="application/json", body=b"{}")
    try:
        await permissive.start()
        await strict.start()
        assert (await permissive.send(event, 1)).delivered
        refused = await strict.send(event, 1)
        assert (refused.delivered, refused.reason) == (False, "blocked_address")
        assert hits == ["/permissive"]
    finally:
        await pool.close()
        await runner.cleanup()
