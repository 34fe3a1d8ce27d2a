"""What providers see when the broker link breaks or the router queue disappears (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import aiohttp
import pytest

from hookpipe.amqp.topology import Names, declare_ingest_path
from ingest.app import IngestService
from tests.support.broker import connect
from tests.support.pipeline import AMQP_URL, InProcessPipeline, ingest_url, load, ops_url, pipeline_config
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.integration

PUBLISH_TIMEOUT = 2.0  # pipeline_config's ingest.publish_timeout


class Sender:
    """Posts events in a loop from several workers, recording each answer and how long it took."""

    def __init__(self, url: str, workers: int = 8) -> None:
        self.url = url
        self.workers = workers
        self.accepted: set[str] = set()
        self.answers: list[tuple[float, int, float, str | None]] = []  # (sent_at, status, seconds, retry_after)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._counter = 0

    async def __aenter__(self) -> Sender:
        self._session = aiohttp.ClientSession()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self._session.close()

    async def _work(self) -> None:
        while not self._stop.is_set():
            self._counter += 1
            event_id = f"evt-{self._counter}"
            sent = time.monotonic()
            try:
                async with self._session.post(self.url, data=f'{{"n": {self._counter}}}',
                                              headers={"x-test-id": event_id}) as response:
                    await response.read()
                    status, retry_after = response.status, response.headers.get("Retry-After")
            except aiohttp.ClientError:
                status, retry_after = 0, None
            self.answers.append((sent, status, time.monotonic() - sent, retry_after))
            if status == 200:
                self.accepted.add(event_id)
            await asyncio.sleep(0.01)

    async def wait_until(self, predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not within {timeout}s: {what}")

    def answered_since(self, moment: float) -> list[tuple[float, int, float, str | None]]:
        return [answer for answer in self.answers if answer[0] >= moment]


async def test_broker_link_cut_answers_503_then_recovers_without_restart(prefix, receiver, topology_cleanup):
    broker = urlsplit(AMQP_URL)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    direct = pipeline_config(prefix, receiver.url)
    through_proxy = dict(direct, broker={**direct["broker"], "url": f"amqp://guest:guest@127.0.0.1:{proxy.port}/"})
    topology_cleanup(direct)
    backend = InProcessPipeline(direct, services=("router", "deliverer"))
    await backend.start()
    ingest = IngestService(load(through_proxy))
    await ingest.start()
    assert await ingest.publisher.link.wait_ready(10)
    try:
        async with Sender(ingest_url(through_proxy)) as sender:
            await sender.wait_until(lambda: len(sender.accepted) >= 50, 10, "50 events accepted before the cut")

            cut_at = time.monotonic()
            await proxy.cut()
            await sender.wait_until(
                lambda: sum(1 for a in sender.answered_since(cut_at + PUBLISH_TIMEOUT + 0.5) if a[1] == 503) >= 5,
                15, "503s while the link is cut",
            )
            during = sender.answered_since(cut_at)
            refused = [a for a in during if a[1] == 503]
            assert refused, "no 503 while the broker link was cut"
            assert all(a[3] is not None and int(a[3]) > 0 for a in refused), "503 without Retry-After"
            assert max(a[2] for a in refused) <= PUBLISH_TIMEOUT + 1.0, "a 503 took longer than the publish time-out"
            assert not any(a[1] == 200 for a in sender.answered_since(cut_at + 0.5))

            restored_at = time.monotonic()
            await proxy.restore()
            await sender.wait_until(
                lambda: any(a[1] == 200 for a in sender.answered_since(restored_at)), 20,
                "2xx again after the proxy came back",
            )
            accepted_after = len(sender.accepted)
            await sender.wait_until(lambda: len(sender.accepted) >= accepted_after + 20, 10, "steady 2xx again")

        # Every event that got 2xx, before, during or after the cut, reached the destination.
        await receiver.wait_for_ids(set(sender.accepted), timeout=30)
        assert {a[1] for a in sender.answers} <= {200, 503}
    finally:
        await ingest.stop()
        await backend.stop()
        await proxy.stop()


async def test_missing_router_queue_fails_readiness_and_answers_503_until_it_is_back(
    prefix, receiver, topology_cleanup
):
    config = pipeline_config(prefix, receiver.url)
    topology_cleanup(config)
    ingest = InProcessPipeline(config, services=("ingest",))
    await ingest.start()
    names = Names(prefix)
    try:
        async with aiohttp.ClientSession() as http:

            async def status_now() -> tuple[int, int]:
                async with http.post(ingest_url(config), data=b"{}") as post:
                    await post.read()
                async with http.get(ops_url(config, "ingest", "/readyz")) as ready:
                    return post.status, ready.status

            assert await status_now() == (200, 200)

            connection = await connect()
            async with connection:
                channel = await connection.channel()
                await channel.queue_delete(names.router_queue)
                deleted_at = time.monotonic()
                while await status_now() != (503, 503):
                    assert time.monotonic() - deleted_at < 5, "ingest still accepting 5 s after the queue was deleted"
                    await asyncio.sleep(0.1)

                async with http.post(ingest_url(config), data=b"{}") as post:
                    assert post.status == 503
                    assert post.headers["Retry-After"].isdigit()
                    assert await post.json() == {"error": "broker_unavailable"}

                await declare_ingest_path(channel, names)  # what `hookpipe topology apply` does
                restored_at = time.monotonic()
                while await status_now() != (200, 200):
                    assert time.monotonic() - restored_at < 5, "ingest still refusing 5 s after the queue came back"
                    await asyncio.sleep(0.1)
    finally:
        await ingest.stop()
