"""The tests' broker connections: every one bounded in time, and a check that RabbitMQ really answers.

aio-pika's connect has no time-out by default: against a broker that accepts TCP but never sends the AMQP
greeting (a wedged RabbitMQ) it waits forever, and a fixture's clean-up waiting on it hangs the whole run without
a word. Tests connect through `connect()` only (tests/unit/test_broker_connects.py holds every connect in the
repository to a time-out).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractConnection

from hookpipe.amqp.broker import describe

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

#: Seconds one test connect may take, TCP and AMQP handshake together. RabbitMQ answers in milliseconds even on a
#: loaded machine; past this the connect raises TimeoutError and the test fails instead of hanging.
CONNECT_TIMEOUT = 15.0

#: Seconds the session check (tests/conftest.py) gives RabbitMQ to complete a handshake before the run stops.
SESSION_CHECK_TIMEOUT = 15.0


async def connect(url: str = AMQP_URL, *, timeout: float = CONNECT_TIMEOUT, **kwargs: Any) -> AbstractConnection:
    """`aio_pika.connect(url)` bounded by `timeout` seconds (TimeoutError past it); `kwargs` as aio_pika's.

    aio-pika's `timeout` covers the TCP connect and the whole AMQP handshake (Connection.Start to OpenOk), and
    closes the socket when it expires (tests/unit/test_mute_broker.py checks both against a mute broker).
    """
    return await aio_pika.connect(url, timeout=timeout, **kwargs)


def host_port(url: str) -> tuple[str, int]:
    """The host and port of an amqp:// or amqps:// URL, with AMQP's default ports."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (5671 if parts.scheme == "amqps" else 5672)


def broker_address(url: str) -> str:
    """host:port of an amqp:// or amqps:// URL; never its user or password."""
    host, port = host_port(url)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def handshake_problem(url: str = AMQP_URL, timeout: float = SESSION_CHECK_TIMEOUT) -> str | None:
    """None when a full AMQP handshake with `url` (login and virtual host included) succeeds within `timeout`
    seconds, else one line saying what is wrong and what to do, naming host:port and never the password."""
    address = broker_address(url)
    # TCP first, on its own: "nothing listens" and "listens but never answers" need different remedies.
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(*host_port(url)), timeout)
    except TimeoutError:
        return (f"RabbitMQ at {address} did not accept a TCP connection within {timeout:g} s "
                f"(a firewall, or the wrong host?): set AMQP_URL to a running broker")
    except OSError as error:
        return (f"RabbitMQ at {address} refuses connections ({error.strerror or error}): start it "
                f"(`make test` starts rabbitmq-server when it is installed), or set AMQP_URL to a running broker")
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout)
    try:
        connection = await connect(url, timeout=timeout)
    except TimeoutError:
        return (f"RabbitMQ at {address} accepts TCP but did not answer the AMQP handshake within {timeout:g} s "
                f"(is it wedged? restart it: rabbitmqctl stop; rabbitmq-server -detached. Or does another program "
                f"hold that port?)")
    except aiormq.exceptions.ProbableAuthenticationError:
        user = unquote(urlsplit(url).username or "guest")
        return f"RabbitMQ at {address} refused the login of user {user!r}: check the credentials in AMQP_URL"
    except Exception as error:
        return f"RabbitMQ at {address} failed the AMQP handshake ({describe(error)}): check AMQP_URL"
    await connection.close()
    return None


async def get_one(queue_name: str, timeout: float = 20.0) -> aio_pika.abc.AbstractIncomingMessage:
    """The first message to arrive in `queue_name` (acked), waiting for it up to `timeout` seconds."""
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                return message
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing arrived in {queue_name} within {timeout}s")
