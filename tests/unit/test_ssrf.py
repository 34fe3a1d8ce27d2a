"""The SSRF guard (deliverer/ssrf.py): which addresses a destination may connect to."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from deliverer.sender import Sender
from deliverer.sessions import SessionPool
from deliverer.ssrf import (
    AddressPolicy,
    BlockedAddress,
    GuardedResolver,
    blocked_cause,
    connect_host,
    guarded_socket_factory,
    unmap,
)
from hookpipe.config import DestinationConfig
from hookpipe.event import Event
from tests.support.network import loopback_only_connects

INTERNAL = [
    "127.0.0.1", "127.255.255.254",                    # loopback
    "10.0.0.1", "10.255.255.255",                      # 10/8
    "172.16.0.1", "172.31.255.255",                    # 172.16/12
    "192.168.0.1", "192.168.255.255",                  # 192.168/16
    "169.254.169.254", "169.254.0.1",                  # link-local, cloud metadata
    "100.64.0.1", "100.127.255.255",                   # 100.64/10 carrier-grade NAT
    "0.0.0.0", "0.1.2.3",                              # 0/8
    "224.0.0.1", "239.255.255.250",                    # multicast
    "240.0.0.1", "255.255.255.255",                    # reserved, broadcast
    "192.0.2.1", "198.18.0.1",                         # documentation, benchmarking
    "::", "::1",                                       # unspecified, loopback
    "fe80::1", "fe80::1%eth0",                         # link-local (scoped too)
    "fc00::1", "fd12:3456::1",                         # unique local fc00::/7
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::a00:1", "64:ff9b::7f00:1",               # NAT64 of 10.0.0.1 and 127.0.0.1
    "2002:7f00:1::1", "2002:a00:1::1",                 # 6to4 of 127.0.0.1 and 10.0.0.1
    "ff02::1", "ff05::fb",                             # multicast
    "2001:db8::1",                                     # documentation
]

PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
          "2001:4860:4860::8888"]

LOOPBACK_ONLY = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    assert not AddressPolicy(False).permits(address)


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_address_objects_are_refused_by_default(address: str) -> None:
    assert not AddressPolicy(False).permits(ipaddress.ip_address(address.split("%")[0]))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy(False).permits(address)
    assert AddressPolicy(LOOPBACK_ONLY).permits(address)


def test_listed_network_opens_loopback_only() -> None:
    policy = AddressPolicy(LOOPBACK_ONLY)
    assert policy.permits("127.0.0.1")
    assert policy.permits("127.8.9.10")
    assert policy.permits("::ffff:127.0.0.1")  # the same address, mapped
    for address in ("169.254.169.254", "10.0.0.1", "192.168.1.1", "::1", "::ffff:169.254.169.254",
                    "64:ff9b::7f00:1", "0.0.0.0"):
        assert not policy.permits(address), address


def test_listed_ipv6_network_opens_only_itself() -> None:
    policy = AddressPolicy([ipaddress.ip_network("::1/128")])
    assert policy.permits("::1")
    assert not policy.permits("127.0.0.1")
    assert not policy.permits("fe80::1")


def test_allow_true_opens_every_address() -> None:
    policy = AddressPolicy(True)
    for address in [*INTERNAL, *PUBLIC]:
        assert policy.permits(address), address


def test_empty_list_opens_nothing() -> None:
    assert not AddressPolicy([]).permits("127.0.0.1")


def test_policy_accepts_the_networks_config_gives() -> None:
    from hookpipe.config import parse_config

    destination = parse_config(
        {"destinations": {"d": {"url": "http://127.0.0.1:9000/", "signing": {"scheme": "none"},
                                "allow_private_network": ["127.0.0.0/8"]}}},
        environ={},
    ).config.destinations["d"]
    policy = AddressPolicy(destination.allow_private_network)
    assert policy.permits("127.0.0.1") and not policy.permits("169.254.169.254")


def test_unmap_gives_the_ipv4_address_a_mapped_address_reaches() -> None:
    assert unmap(ipaddress.ip_address("::ffff:10.0.0.1")) == ipaddress.ip_address("10.0.0.1")
    assert unmap(ipaddress.ip_address("2606:4700::1111")) == ipaddress.ip_address("2606:4700::1111")
    assert unmap(ipaddress.ip_address("8.8.8.8")) == ipaddress.ip_address("8.8.8.8")


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "::1", "169.254.169.254", "[::ffff:127.0.0.1]",
                                  "[fe80::1%25eth0]", "10.0.0.1"])
def test_check_literal_refuses_internal_literals(host: str) -> None:
    with pytest.raises(BlockedAddress, match="is not allowed for this destination"):
        AddressPolicy(False).check_literal(host)


@pytest.mark.parametrize("host", ["93.184.216.34", "[2606:4700::1111]", "example.com", "localhost",
                                  "metadata.google.internal", ""])
def test_check_literal_lets_public_literals_and_names_through(host: str) -> None:
    AddressPolicy(False).check_literal(host)  # names are checked by the resolver instead


def test_check_literal_follows_the_listed_networks() -> None:
    policy = AddressPolicy(LOOPBACK_ONLY)
    policy.check_literal("127.0.0.1")
    with pytest.raises(BlockedAddress):
        policy.check_literal("169.254.169.254")


class FakeResolver(AbstractResolver):
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.closed = False
        self.asked: list[tuple[str, int, socket.AddressFamily]] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append((host, port, family))
        return [
            ResolveResult(hostname=host, host=address, port=port,
                          family=socket.AF_INET6 if ":" in address else socket.AF_INET, proto=0,
                          flags=socket.AI_NUMERICHOST)
            for address in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


async def test_guarded_resolver_drops_refused_addresses() -> None:
    inner = FakeResolver("10.0.0.5", "93.184.216.34", "::1", "2606:4700::1111", "169.254.169.254")
    resolver = GuardedResolver(AddressPolicy(False), inner)
    results = await resolver.resolve("hooks.example.com", 443, socket.AF_UNSPEC)
    assert [result["host"] for result in results] == ["93.184.216.34", "2606:4700::1111"]
    assert inner.asked == [("hooks.example.com", 443, socket.AF_UNSPEC)]


async def test_guarded_resolver_refuses_a_name_with_only_internal_addresses() -> None:
    resolver = GuardedResolver(AddressPolicy(False), FakeResolver("127.0.0.1", "::ffff:10.0.0.1", "fd00::1"))
    with pytest.raises(BlockedAddress, match=r"internal\.example\.com resolves only to addresses not allowed"):
        await resolver.resolve("internal.example.com", 80)


async def test_guarded_resolver_refuses_a_name_with_no_addresses() -> None:
    with pytest.raises(BlockedAddress):
        await GuardedResolver(AddressPolicy(False), FakeResolver()).resolve("empty.example.com", 80)


async def test_guarded_resolver_follows_the_listed_networks() -> None:
    resolver = GuardedResolver(AddressPolicy(LOOPBACK_ONLY), FakeResolver("127.0.0.1", "169.254.169.254"))
    assert [result["host"] for result in await resolver.resolve("localhost", 9000)] == ["127.0.0.1"]


async def test_guarded_resolver_closes_its_inner_resolver() -> None:
    inner = FakeResolver()
    await GuardedResolver(AddressPolicy(False), inner).close()
    assert inner.closed


def test_blocked_address_is_an_os_error() -> None:
    # aiohttp wraps OSErrors from the resolver in ClientConnectorError, which the sender unwraps
    assert issubclass(BlockedAddress, OSError)


def test_blocked_cause_finds_the_guard_behind_a_connection_error() -> None:
    blocked = BlockedAddress("address 127.0.0.1 is not allowed for this destination")
    try:
        try:
            raise blocked
        except BlockedAddress as error:
            raise ConnectionError("cannot connect") from error
    except ConnectionError as outer:
        assert blocked_cause(outer) is blocked
    assert blocked_cause(ConnectionError("refused")) is None


# --- the guard on the real connection path -------------------------------------------------------------


class LoopbackReceiver:
    """A bare HTTP endpoint on 127.0.0.1 that answers 204 and counts the connections it got."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def loopback() -> AsyncIterator[LoopbackReceiver]:
    receiver = LoopbackReceiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver


async def send_once(url: str, allow: object = False) -> str:
    config = DestinationConfig.model_validate(
        {"url": url, "timeout": "5s", "signing": {"scheme": "none"}, "allow_private_network": allow}
    )
    sender = Sender("d", config)
    await sender.start()
    try:
        event = Event(id="evt-1", source="demo", type=None, received_at=0, verified=True,
                      content_type="application/json", body=b"{}")
        return (await sender.send(event, 1)).reason
    finally:
        await sender.close()


@pytest.fixture
def names_resolve_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deliverer.ssrf.ThreadedResolver", lambda: FakeResolver("127.0.0.1"))


@pytest.mark.usefixtures("names_resolve_to_loopback")
async def test_sender_refuses_a_name_that_resolves_to_loopback(loopback: LoopbackReceiver) -> None:
    assert await send_once(f"http://hooks.example.com:{loopback.port}/") == "blocked_address"
    assert loopback.connections == 0


@pytest.mark.usefixtures("names_resolve_to_loopback")
async def test_sender_reaches_loopback_when_the_destination_opens_it(loopback: LoopbackReceiver) -> None:
    assert await send_once(f"http://hooks.example.com:{loopback.port}/", ["127.0.0.0/8"]) == "ok"
    assert loopback.connections == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "127.1", "2130706433", "0177.0.0.1"])
async def test_sender_never_reaches_loopback_through_a_literal(loopback: LoopbackReceiver, host: str) -> None:
    assert await send_once(f"http://{host}:{loopback.port}/") in ("blocked_address", "connection_error")
    assert loopback.connections == 0


# --- every spelling of a host, checked as it is connected to -------------------------------------------


@pytest.fixture
async def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket is connected to in this test; one outside 127.0.0.1 fails before any packet."""
    return loopback_only_connects(monkeypatch)


def full_width(text: str) -> str:
    """`127.0.0.1` in full-width forms (U+FF01 to U+FF5E): what NFKC maps back to ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def dots(text: str, dot: str) -> str:
    return text.replace(".", dot)


IDEOGRAPHIC_STOP, FULL_WIDTH_STOP, HALF_WIDTH_STOP = "\u3002", "\uff0e", "\uff61"

#: Spellings of 127.0.0.1 that the HTTP client turns into the literal address (NFKC, IDNA).
LOOPBACK_SPELLINGS = [
    full_width("127") + ".0.0." + full_width("1"),                   # full-width digits
    full_width("127.0.0.1"),                                         # full-width digits and full stops
    dots("127.0.0.1", IDEOGRAPHIC_STOP),                             # ideographic full stops
    dots("127.0.0.1", FULL_WIDTH_STOP),                              # full-width full stops
    dots("127.0.0.1", HALF_WIDTH_STOP),                              # half-width ideographic full stops
    full_width("127") + IDEOGRAPHIC_STOP + "0." + full_width("0") + FULL_WIDTH_STOP + "1",  # mixed
    "\u2460\u2461\u2466.0.0.1",                                      # circled digits
]

#: IPv4-mapped IPv6 spellings of 127.0.0.1 (only ever sent to the strict policy: they would connect over IPv6).
MAPPED_LOOPBACK_SPELLINGS = ["[::ffff:127.0.0.1]", "[::FFFF:7F00:1]", "[0:0:0:0:0:ffff:127.0.0.1]"]

#: Spellings the client never connects to 127.0.0.1 with (refused as a non-canonical literal, or unresolvable).
ODD_LOOPBACK_SPELLINGS = [
    "127.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "017700000001",  # decimal, octal, hex
    "%31%32%37.0.0.1", "127%2e0%2e0%2e1", "%5b%3a%3a1%5d", "%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1",  # percent-encoded
    "127.0.0.1.",                                                                       # trailing dot
]

#: Private targets in every spelling: refused before any socket exists (the connects fixture proves it).
PRIVATE_SPELLINGS = [
    "10.0.0.1", full_width("10.0.0.1"), dots("10.0.0.1", IDEOGRAPHIC_STOP),
    "169.254.169.254", full_width("169.254.169.254"), dots("169.254.169.254", IDEOGRAPHIC_STOP),
    dots("169.254.169.254", FULL_WIDTH_STOP), "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]",
    "[fec0::1]", "[FEC0::1]", "[fe80::1%25eth0]", "[fe80::1%25lo]", "[::ffff:10.0.0.1]", "[fd00::1]",
    "%31%30.0.0.1", "0xa9.0xfe.0xa9.0xfe", "2852039166", "0251.0376.0251.0376",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + MAPPED_LOOPBACK_SPELLINGS + ODD_LOOPBACK_SPELLINGS)
async def test_no_spelling_of_loopback_reaches_it_under_the_strict_policy(
    loopback: LoopbackReceiver, connects: list[str], host: str
) -> None:
    assert await send_once(f"http://{host}:{loopback.port}/") in ("blocked_address", "connection_error")
    assert (loopback.connections, connects) == (0, [])


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_every_spelling_of_loopback_reaches_it_when_its_network_is_open(
    loopback: LoopbackReceiver, connects: list[str], host: str
) -> None:
    assert await send_once(f"http://{host}:{loopback.port}/", ["127.0.0.0/8"]) == "ok"
    assert (loopback.connections, connects) == (1, ["127.0.0.1"])


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_the_spellings_of_loopback_are_refused_by_another_open_network(
    loopback: LoopbackReceiver, connects: list[str], host: str
) -> None:
    assert await send_once(f"http://{host}:{loopback.port}/", ["10.0.0.0/8"]) == "blocked_address"
    assert (loopback.connections, connects) == (0, [])


@pytest.mark.parametrize("host", PRIVATE_SPELLINGS)
@pytest.mark.parametrize("allow", [False, ["127.0.0.0/8"]], ids=["strict", "loopback-open"])
async def test_private_targets_in_any_spelling_are_refused_without_a_connection(
    connects: list[str], host: str, allow: object
) -> None:
    assert await send_once(f"http://{host}:8080/", allow) in ("blocked_address", "connection_error")
    assert connects == []


@pytest.mark.parametrize(
    "host", [full_width("10.0.0.1"), dots("169.254.169.254", IDEOGRAPHIC_STOP), "[fec0::1]", "[::ffff:a9fe:a9fe]"]
)
async def test_unicode_and_ipv6_spellings_of_private_targets_are_blocked_addresses(
    connects: list[str], host: str
) -> None:
    assert await send_once(f"http://{host}/") == "blocked_address"
    assert connects == []


@pytest.mark.parametrize(("host", "asked"), [
    (full_width("HOOKS") + ".example.com", "hooks.example.com"),
    (dots("hooks.example.com", IDEOGRAPHIC_STOP), "hooks.example.com"),
    ("bücher.example", "xn--bcher-kva.example"), ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("HOOKS.Example.COM", "hooks.example.com"),
])
async def test_names_are_resolved_and_checked_in_their_idna_form(
    monkeypatch: pytest.MonkeyPatch, loopback: LoopbackReceiver, connects: list[str], host: str, asked: str
) -> None:
    resolver = FakeResolver("127.0.0.1")
    monkeypatch.setattr("deliverer.ssrf.ThreadedResolver", lambda: resolver)
    assert await send_once(f"http://{host}:{loopback.port}/") == "blocked_address"
    assert await send_once(f"http://{host}:{loopback.port}/", ["127.0.0.0/8"]) == "ok"
    assert [name for name, _, _ in resolver.asked] == [asked, asked]
    assert (loopback.connections, connects) == (1, ["127.0.0.1"])


def test_site_local_ipv6_is_refused() -> None:
    for address in ("fec0::1", "feff:ffff::1", "fec0:0:0:ffff::1"):
        assert not AddressPolicy(False).permits(address), address


@pytest.mark.parametrize("host", ["127.0.0.1", full_width("127.0.0.1"), "[::ffff:127.0.0.1]"])
async def test_the_pool_refuses_a_literal_even_without_the_senders_check(
    loopback: LoopbackReceiver, connects: list[str], host: str
) -> None:
    pool = SessionPool()
    try:
        with pytest.raises(aiohttp.ClientConnectorError) as raised:
            await pool.session_for(AddressPolicy(False)).post(f"http://{host}:{loopback.port}/", data=b"{}")
    finally:
        await pool.close()
    assert isinstance(blocked_cause(raised.value), BlockedAddress)
    assert (loopback.connections, connects) == (0, [])


def test_the_socket_factory_refuses_before_creating_a_socket() -> None:
    factory = guarded_socket_factory(AddressPolicy(LOOPBACK_ONLY))
    with pytest.raises(BlockedAddress):
        factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)))
    with pytest.raises(BlockedAddress):
        factory((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%lo", 80, 0, 1)))
    sock = factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    assert sock.family == socket.AF_INET
    sock.close()


@pytest.mark.parametrize(("url", "host"), [
    ("http://" + full_width("127.0.0.1") + "/", "127.0.0.1"), ("http://EXAMPLE.com/", "example.com"),
    ("http://b\u00fccher.example/", "xn--bcher-kva.example"), ("http://[::FFFF:7F00:1]:80/", "::ffff:7f00:1"),
    ("http://[fe80::1%25eth0]/", "fe80::1%25eth0"),
])
def test_connect_host_is_the_normal_form_the_client_connects_to(url: str, host: str) -> None:
    assert connect_host(URL(url)) == host


@pytest.mark.parametrize("host", ["%00", "%ff", "%zz", "%e3%80%82", "a%20b", "%5b%3a%3a1%5d", "%31%30.0.0.1"])
def test_check_url_never_raises_anything_but_blocked_address(host: str) -> None:
    url = URL(f"http://{host}:8080/")
    try:
        AddressPolicy(False).check_url(url)
    except BlockedAddress:
        assert host in ("%5b%3a%3a1%5d", "%31%30.0.0.1")  # ::1 and 10.0.0.1 once decoded
    else:
        assert host not in ("%5b%3a%3a1%5d", "%31%30.0.0.1")
