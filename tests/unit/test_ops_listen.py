"""Every service's listeners bind where their address says, and an address without a host means loopback."""

from __future__ import annotations

from hookpipe.runtime.ops_listener import ops_app, ops_base_url, split_host_port, start_site
from tests.support.pipeline import free_port


async def always_ready() -> list[str]:
    return []


def test_an_address_without_host_means_loopback_not_every_interface() -> None:
    assert split_host_port(":9101") == ("127.0.0.1", 9101)
    assert split_host_port("0.0.0.0:9101") == ("0.0.0.0", 9101)  # every interface only when asked for
    assert split_host_port("[::1]:9101") == ("::1", 9101)
    assert ops_base_url(":9101") == "http://127.0.0.1:9101"


async def test_a_listener_without_host_binds_loopback_only() -> None:
    port = free_port()
    runner = await start_site(ops_app(always_ready), f":{port}")
    try:
        assert [address[:2] for address in runner.addresses] == [("127.0.0.1", port)]
    finally:
        await runner.cleanup()
