"""Failed deliveries wait in retry rungs and come back, within their jitter bounds; some go straight to dead."""

from __future__ import annotations

import asyncio

import aio_pika
import aiohttp
import pytest
from aiohttp import web

from tests.support.broker import connect
from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config, queue_depth

pytestmark = pytest.mark.integration

FIRST_DELAY = 0.2  # pipeline_config's schedule: [200ms, 500ms]


async def _send(config: dict, event_id: str) -> None:
    url = ingest_url(config)
    async with aiohttp.ClientSession() as http, http.post(url, data=b"{}", headers={"x-test-id": event_id}) as r:
        assert r.status == 200


async def _dead_letter(queue_name: str, timeout: float = 15.0) -> aio_pika.abc.AbstractIncomingMessage:
    connection = await connect()
    async with connection:
        queue = await (await connection.channel()).get_queue(queue_name)
        for _ in range(int(timeout / 0.1)):
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                return message
            await asyncio.sleep(0.1)
    raise AssertionError(f"no dead letter in {queue_name} within {timeout}s")


@pytest.fixture
async def pipeline(prefix, receiver, topology_cleanup):
    async def start(**destination_settings: object) -> dict:
        base = pipeline_config(prefix, receiver.url)
        destination = {**base["destinations"]["receiver"], **destination_settings}
        config = pipeline_config(prefix, receiver.url, destinations={"receiver": destination})
        topology_cleanup(config)
        running = InProcessPipeline(config)
        await running.start()
        started.append(running)
        return config

    started: list[InProcessPipeline] = []
    yield start
    for running in started:
        await running.stop()


def _attempt_times(log: list[tuple[float, str]]) -> list[float]:
    return [moment for moment, _ in log]


async def test_a_500_is_retried_after_the_scheduled_delay_and_then_delivered(pipeline, receiver):
    attempts: list[tuple[float, str]] = []

    async def flaky(request: web.Request, n: int) -> web.StreamResponse:
        attempts.append((asyncio.get_running_loop().time(), request.headers["x-hookpipe-attempt"]))
        return web.Response(status=500 if n == 1 else 200)

    receiver.respond = flaky
    config = await pipeline()
    await _send(config, "retry-me")
    await receiver.wait_for_ids({"retry-me"}, timeout=10)
    assert [attempt for _, attempt in attempts] == ["1", "2"]
    gap = attempts[1][0] - attempts[0][0]
    assert 0.8 * FIRST_DELAY - 0.05 <= gap <= 1.2 * FIRST_DELAY + 1.0, f"retried after {gap:.3f}s"
    assert receiver.received[0].headers["webhook-id"] == "retry-me"


async def test_retry_after_is_honoured_and_never_earlier_than_asked(pipeline, receiver):
    attempts: list[float] = []

    async def busy(_: web.Request, n: int) -> web.StreamResponse:
        attempts.append(asyncio.get_running_loop().time())
        return web.Response(status=429, headers={"Retry-After": "1"}) if n == 1 else web.Response(status=200)

    receiver.respond = busy
    config = await pipeline()
    await _send(config, "slow-down")
    await receiver.wait_for_ids({"slow-down"}, timeout=10)
    assert 1.0 <= attempts[1] - attempts[0] <= 3.0


@pytest.mark.parametrize(("status", "settings"), [(410, {}), (400, {"dead_letter_on": [400]})])
async def test_a_dead_letter_on_status_is_dead_lettered_at_once(pipeline, receiver, prefix, status, settings):
    calls = 0

    async def refuse(_: web.Request, __: int) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        return web.Response(status=status, text="go away")

    receiver.respond = refuse
    config = await pipeline(**settings)
    await _send(config, "unwanted")
    dead = await _dead_letter(f"{prefix}.dead.receiver")
    assert dead.headers["x-hookpipe-dead-reason"] == "dead_letter_on"
    assert dead.headers["x-hookpipe-dead-status"] == status
    assert dead.headers["x-hookpipe-dead-attempts"] == 1
    assert bytes(dead.headers["x-hookpipe-dead-response"]) == b"go away"
    assert calls == 1


async def test_an_unreachable_endpoint_is_retried_then_dead_lettered_exhausted(pipeline, prefix):
    from tests.support.pipeline import free_port

    config = await pipeline(url=f"http://127.0.0.1:{free_port()}/nobody-listens")
    await _send(config, "nowhere")
    dead = await _dead_letter(f"{prefix}.dead.receiver")
    assert dead.headers["x-hookpipe-dead-reason"] == "exhausted"
    assert dead.headers["x-hookpipe-dead-attempts"] == 3
    assert "Connect" in dead.headers["x-hookpipe-dead-error"]
    assert await queue_depth(f"{prefix}.deliver.receiver") == 0


@pytest.mark.parametrize("misbehaviour", ["hang", "reset", "slow_error_body", "unauthorized"])
async def test_a_misbehaving_receiver_is_retried_until_it_answers(pipeline, receiver, misbehaviour):
    attempts: list[str] = []

    async def misbehave(request: web.Request, n: int) -> web.StreamResponse:
        attempts.append(request.headers["x-hookpipe-attempt"])
        if n >= 2:
            return web.Response(status=200)
        if misbehaviour == "hang":
            await asyncio.sleep(5)  # past the destination's 1 s time-out
        elif misbehaviour == "reset":
            assert request.transport is not None
            request.transport.abort()  # connection reset, no response at all
        elif misbehaviour == "slow_error_body":
            response = web.StreamResponse(status=500)
            await response.prepare(request)
            await response.write(b"x")
            await asyncio.sleep(5)  # headers came, the body never finishes within the time-out
            return response
        return web.Response(status=401)

    receiver.respond = misbehave
    config = await pipeline(timeout="1s")
    await _send(config, f"misbehaving-{misbehaviour}")
    await receiver.wait_for_ids({f"misbehaving-{misbehaviour}"}, timeout=15)
    assert attempts[:2] == ["1", "2"]


async def test_a_2xx_with_a_body_that_never_ends_is_a_success_at_once(pipeline, receiver):
    attempts: list[str] = []

    async def slow_body(request: web.Request, _: int) -> web.StreamResponse:
        attempts.append(request.headers["x-hookpipe-attempt"])
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        await response.write(b"accepted, still talking")
        await asyncio.sleep(5)
        return response

    receiver.respond = slow_body
    config = await pipeline(timeout="3s")
    await _send(config, "slow-ok")
    await receiver.wait_for_ids({"slow-ok"}, timeout=10)
    await asyncio.sleep(1.5)  # a retry would come within the first delay (200 ms + jitter) after the time-out
    assert attempts == ["1"]
