"""Test guard: record every socket connect of the running event loop, and refuse any outside 127.0.0.1.

Tests of the SSRF guard name private addresses (10.0.0.1, 169.254.169.254, a proxy at either); if the guard
ever let one through, this raises before the connect, so no test can send a packet off the machine.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest


def loopback_only_connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses sockets are connected to from now on in this test (call it inside the test's loop)."""
    attempted: list[str] = []
    loop = asyncio.get_running_loop()
    real_connect = loop.sock_connect

    async def only_loopback(sock: socket.socket, address: Any) -> None:
        attempted.append(address[0])
        if address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to connect to {address[0]}")
        await real_connect(sock, address)

    monkeypatch.setattr(loop, "sock_connect", only_loopback)
    return attempted
