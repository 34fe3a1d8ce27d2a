"""The SSRF guard: refuse to connect to private, loopback and other internal addresses.

It checks the address actually connected to, in two places the HTTP client cannot go around:

- the resolver, which drops every refused address a name resolves to (so a name with only refused addresses
  fails before any socket exists);
- the socket factory, which refuses to create a socket for a refused address. Every connection the client
  opens, to a literal IP (which never reaches the resolver), to a resolved name or to a proxy, goes through it.

Before a request the sender also checks the URL's host as the client will connect to it (`connect_host`: the
host after yarl's normalisation, NFKC and IDNA, so 127.0.0.1 in full-width digits or with ideographic full
stops is the literal 127.0.0.1), which refuses before any work, and is the only check possible for a target
reached through a proxy (the proxy resolves its name). IPv4-in-IPv6 forms are unmapped first. A destination may
open the guard entirely (`allow_private_network: true`) or for listed networks only, so a loopback receiver can
be allowed while a redirect from it to 169.254.169.254 is still refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
        "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "100::/64", "2001:db8::/32", "2002::/16",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)


class BlockedAddress(OSError):
    """The destination resolved to, or named, an address the guard refuses."""


def unmap(address: IPAddress) -> IPAddress:
    """`::ffff:10.0.0.1` -> `10.0.0.1`: the IPv4 address a mapped IPv6 address really reaches."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_internal(address: IPAddress) -> bool:
    return (
        any(address in network for network in BLOCKED_NETWORKS if network.version == address.version)
        or address.is_private or address.is_reserved or address.is_multicast or address.is_link_local
        or address.is_loopback or address.is_unspecified
    )


class AddressPolicy:
    """Which addresses one destination may connect to. `allow`: False, True, or the networks it opens."""

    def __init__(self, allow: bool | Sequence[IPNetwork]) -> None:
        self.allow_all = allow is True
        self.allowed: tuple[IPNetwork, ...] = tuple(allow) if isinstance(allow, list | tuple) else ()

    @property
    def key(self) -> tuple[str, ...]:
        """Equal for policies that permit the same addresses: destinations sharing it can share a pool."""
        return ("*",) if self.allow_all else tuple(sorted({str(network) for network in self.allowed}))

    def permits(self, address: IPAddress | str) -> bool:
        if self.allow_all:
            return True
        if isinstance(address, str):
            address = ipaddress.ip_address(address.split("%", 1)[0])
        plain = unmap(address)
        if any(plain in network for network in self.allowed if network.version == plain.version):
            return True
        return not (_is_internal(address) or _is_internal(plain))

    def check_literal(self, host: str) -> None:
        """Raise BlockedAddress if `host` is an IP literal the policy refuses (names go through the resolver)."""
        try:
            address: IPAddress = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            legacy = _legacy_ipv4(host)
            if legacy is None:
                return
            address = legacy
        if not self.permits(address):
            raise BlockedAddress(f"address {address} is not allowed for this destination")

    def check_url(self, url: URL, via_proxy: bool = False) -> None:
        """Raise BlockedAddress if `url`'s host, as the client will connect to it, is a refused literal.

        `via_proxy`: the proxy resolves the target's name, out of the guard's sight, so only a literal can be
        checked; `localhost` and `*.localhost` are refused too, being the proxy's own loopback wherever it runs.
        """
        host = connect_host(url)
        readings = [host]
        if "%" in host.split("%25", 1)[0]:
            # Browsers percent-decode a host before reading it as an address; the client does not, but refusing
            # both readings costs nothing and keeps a later client version from opening a hole.
            decoded = unquote(host)
            with contextlib.suppress(ValueError):  # no host yarl would write (a NUL, bad IDNA): checked as decoded
                decoded = connect_host(URL.build(scheme="http", host=decoded))
            readings.append(decoded)
        for reading in readings:
            # A final dot only says the name is fully qualified: a resolver or a proxy connects `127.0.0.1.` and
            # `localhost.` where it connects `127.0.0.1` and `localhost`.
            bare = reading.rstrip(".")
            self.check_literal(bare)
            if via_proxy and not self.allow_all and (bare == "localhost" or bare.endswith(".localhost")):
                raise BlockedAddress(f"{bare} is the proxy's own loopback, not allowed for this destination")

    def check_socket_address(self, address: str) -> None:
        """Raise BlockedAddress if the socket address about to be connected to is refused."""
        if not self.permits(address):
            raise BlockedAddress(f"address {address} is not allowed for this destination")


def connect_host(url: URL) -> str:
    """The host the HTTP client connects to for `url`: yarl's normal form (NFKC, lower-case, IDNA), without
    IPv6 brackets (a zone id stays percent-encoded). Checking `urlsplit(url).hostname` instead checks another
    string: 127.0.0.1 in full-width digits is a name there and the literal 127.0.0.1 to the client."""
    return url.raw_host or ""


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """`127.1`, `2130706433`, `0x7f.1`: forms inet_aton accepts and some clients connect to."""
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class GuardedResolver(AbstractResolver):
    """Resolves with the system resolver, then drops every address the policy refuses."""

    def __init__(self, policy: AddressPolicy, resolver: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.resolver = resolver or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.resolver.resolve(host, port, family)
        allowed = [result for result in results if self.policy.permits(result["host"])]
        if not allowed:
            raise BlockedAddress(f"{host} resolves only to addresses not allowed for this destination")
        return allowed

    async def close(self) -> None:
        await self.resolver.close()


def guarded_socket_factory(policy: AddressPolicy) -> Callable[[tuple[Any, ...]], socket.socket]:
    """A socket factory for aiohttp's connector that refuses to create a socket for a refused address."""

    def factory(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, address = addr_info
        policy.check_socket_address(address[0])
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


def blocked_cause(error: BaseException) -> BlockedAddress | None:
    """The BlockedAddress behind an aiohttp connection error, if that is what it was."""
    seen: set[int] = set()
    current: Any = error
    while current is not None and id(current) not in seen:
        if isinstance(current, BlockedAddress):
            return current
        seen.add(id(current))
        current = getattr(current, "os_error", None) or current.__cause__ or current.__context__
    return None
