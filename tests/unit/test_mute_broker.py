"""Against a broker that accepts TCP but never answers (a wedged RabbitMQ), every connect gives up within its
time-out and says which broker: the tests' connects, the session check of tests/conftest.py, a service's link."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterator

import pytest

from hookpipe.amqp import broker as service_broker
from hookpipe.amqp.broker import Link, describe, link_problems
from tests.support.broker import broker_address, connect, handshake_problem
from tests.support.mute_broker import MuteBroker

PASSWORD = "pw-never-printed"

#: A short connect time-out (s), so these tests do not wait the real one out.
SHORT = 0.5

#: Generous bound (s) on waiting for what a short time-out makes happen, on a busy machine.
SETTLE = 15.0


async def _eventually(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while not condition():
        assert loop.time() < deadline, f"{what} did not happen within {SETTLE} s"
        await asyncio.sleep(0.05)


@pytest.fixture
def mute() -> Iterator[MuteBroker]:
    with MuteBroker() as broker:
        yield broker


async def test_a_test_connect_to_a_mute_broker_raises_timeout_error_and_closes_its_socket(mute: MuteBroker) -> None:
    with pytest.raises(TimeoutError):
        await connect(mute.url(password=PASSWORD), timeout=SHORT)
    assert mute.accepted == 1
    await _eventually(lambda: mute.closed_by_peer() == 1, "closing the abandoned connection")


async def test_the_session_check_names_a_mute_broker_and_not_its_password(mute: MuteBroker) -> None:
    problem = await handshake_problem(mute.url(password=PASSWORD), timeout=SHORT)
    assert problem is not None
    assert f"RabbitMQ at 127.0.0.1:{mute.port} accepts TCP but did not answer the AMQP handshake" in problem
    assert PASSWORD not in problem


async def test_the_session_check_says_when_nothing_accepts_connections() -> None:
    with socket.socket() as unused:  # bound, never listening: connects to it are refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        problem = await handshake_problem(f"amqp://guest:{PASSWORD}@127.0.0.1:{port}/", timeout=SHORT)
    assert problem is not None
    assert f"RabbitMQ at 127.0.0.1:{port} refuses connections" in problem
    assert PASSWORD not in problem


def test_the_broker_address_is_host_and_port_with_amqp_defaults_and_no_credentials() -> None:
    assert broker_address(f"amqp://user:{PASSWORD}@rabbit.internal/vhost") == "rabbit.internal:5672"
    assert broker_address("amqps://rabbit.internal/") == "rabbit.internal:5671"
    assert broker_address("amqp://[::1]:5673/") == "[::1]:5673"


async def test_a_service_link_to_a_mute_broker_is_not_ready_and_says_which_broker(
    mute: MuteBroker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(service_broker, "CONNECT_TIMEOUT", SHORT)
    caplog.set_level(logging.WARNING, logger="hookpipe.amqp.broker")
    link = Link(mute.url(password=PASSWORD), name="test-mute", heartbeat=2)
    link.start()
    try:
        await _eventually(lambda: any(r.getMessage() == "broker connection failed" for r in caplog.records),
                          "a failed connection attempt")
        failed = next(r for r in caplog.records if r.getMessage() == "broker connection failed")
        logged_url, logged_error = failed.__dict__["url"], failed.__dict__["error"]
        assert logged_url == f"amqp://guest:***@127.0.0.1:{mute.port}/"
        assert logged_error == f"TimeoutError: no answer to the connection handshake within {SHORT:g} s"
        assert not link.is_ready
        assert link_problems(link) == [f"test-mute not connected to {logged_url}: {logged_error}"]
    finally:
        await link.close()


async def test_a_cli_that_connects_to_a_mute_broker_says_it_got_no_answer(mute: MuteBroker) -> None:
    # The CLI's commands report a failed connect as describe(error); aio-pika's time-out has no message of its own.
    with pytest.raises(TimeoutError) as timed_out:
        await connect(mute.url(password=PASSWORD), timeout=SHORT)
    assert describe(timed_out.value) == "TimeoutError: no answer in time"
