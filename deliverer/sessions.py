"""The deliverer's HTTP client sessions: one shared, keep-alive pooled session per SSRF policy.

Every destination with the same `allow_private_network` setting (in practice: all of them, the strict default)
shares one session and its connection pool. Destinations with a different setting get a session of their own,
because a pooled connection is reused by host and port alone: a strict destination must never be handed a
connection that a permissive one opened to a private address. The SSRF guard lives in each session's resolver
and socket factory (aiohttp has neither per request), so a policy is a property of the pool.

The pool needs no limit of its own to stay bounded: each destination's consumer prefetch (its `concurrency`)
already caps its requests in flight, so a slow destination cannot take connections another one needs.
"""

from __future__ import annotations

import aiohttp

from deliverer.ssrf import AddressPolicy, GuardedResolver, guarded_socket_factory

#: Seconds a resolved name is cached; every new connection's addresses still pass the guard.
DNS_CACHE_SECONDS = 60


class SessionPool:
    """Shared client sessions by SSRF policy; `close()` when the deliverer stops."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, ...], aiohttp.ClientSession] = {}

    def session_for(self, policy: AddressPolicy) -> aiohttp.ClientSession:
        session = self._sessions.get(policy.key)
        if session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(policy), socket_factory=guarded_socket_factory(policy), limit=0,
                ttl_dns_cache=DNS_CACHE_SECONDS,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,  # an egress proxy is an explicit setting, never inherited from the environment
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
            self._sessions[policy.key] = session
        return session

    def __len__(self) -> int:
        return len(self._sessions)

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
