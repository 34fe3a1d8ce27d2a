"""Router hot reload against the real RabbitMQ: new rules while events flow, without a restart and without loss.

Every accepted event reaches the destinations of the rules in force when the router took it; a destination new to
the config has its queue declared before the first event is routed to it; a file that cannot be used keeps the
running rules and counts a failed reload; SIGHUP reloads, and the wiring in `hookpipe router` does all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from hookpipe.amqp.broker import queue_state
from hookpipe.amqp.topology import Names
from hookpipe.config import ConfigError
from hookpipe.runtime.reload import ConfigReloader
from router.service import RouterService
from tests.support.broker import connect
from tests.support.pipeline import (
    DESTINATION_SECRET,
    InProcessPipeline,
    ingest_url,
    load,
    ops_url,
    pipeline_config,
    post_events,
    queue_depth,
    write_config,
)
from tests.support.receiver import Receiver
from tests.support.service_set import ServiceSet

pytestmark = pytest.mark.integration

#: Seconds between the in-process reloader's checks of the file (the services use 1 s).
POLL_INTERVAL = 0.1

#: Pause between two posts of the event flow (s): a steady stream, not a flood.
POST_INTERVAL = 0.005


def _destination(url: str) -> dict[str, object]:
    return {"url": url, "timeout": "5s", "allow_private_network": ["127.0.0.0/8"],
            "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]}}


def _reloads(result: str) -> float:
    return REGISTRY.get_sample_value("hookpipe_config_reloads_total", {"result": result}) or 0.0


async def _eventually(condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = condition()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


class EventFlow:
    """Posts events `flow-00000`, `flow-00001`, ... one after another; `accepted` keeps the order of the 200s."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.accepted: list[str] = []
        self.refused: list[tuple[str, int]] = []
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            number = 0
            while not self._stopping:
                event_id = f"flow-{number:05d}"
                number += 1
                async with http.post(self.url, data=b'{"n": %d}' % number,
                                     headers={"x-test-id": event_id}) as response:
                    if response.status == 200:
                        self.accepted.append(event_id)
                    else:
                        self.refused.append((event_id, response.status))
                await asyncio.sleep(POST_INTERVAL)

    async def until(self, count: int, timeout: float = 20.0) -> list[str]:
        """Wait until `count` more events are accepted; returns those accepted meanwhile (and maybe a few more)."""
        start = len(self.accepted)
        await _eventually(lambda: len(self.accepted) >= start + count, timeout, f"{count} events accepted")
        return self.accepted[start:]

    async def stop(self) -> None:
        """Stop after the post in progress has its answer (a post cut short could be accepted unrecorded)."""
        self._stopping = True
        if self._task is not None:
            await self._task
            self._task = None


async def test_changed_routes_file_applies_to_new_events_with_none_lost_and_no_restart(
    prefix, tmp_path: Path, topology_cleanup, caplog: pytest.LogCaptureFixture
):
    first, second, third = Receiver(), Receiver(), Receiver()  # `third` is never reached: nothing consumes it
    for receiver in (first, second, third):
        await receiver.start()
    destinations = {"first": _destination(first.url), "second": _destination(second.url)}
    v1 = pipeline_config(prefix, first.url, destinations=destinations,
                         routes=[{"name": "to-first", "sources": ["demo"], "to": ["first"]}])
    # v2 routes elsewhere, and to a destination the running router has never heard of.
    v2 = copy.deepcopy(v1)
    v2["destinations"]["third"] = _destination(third.url)
    v2["routes"] = [{"name": "to-second", "sources": ["demo"], "to": ["second", "third"]}]
    # v3 cannot be used: a broker setting changes, a filter and a transform do not compile.
    v3 = copy.deepcopy(v2)
    v3["broker"]["prefix"] = f"{prefix}-other"
    v3["routes"] = [
        {"name": "bad-filter", "sources": ["demo"], "filter": {"type": "push"}, "to": ["first"]},
        {"name": "bad-transform", "sources": ["demo"], "transform": {"body": "$.data"}, "to": ["first"]},
    ]
    topology_cleanup(v2)  # v2 holds every queue of this test
    names = Names(prefix)
    path = write_config(tmp_path, v1)
    pipeline = InProcessPipeline(v1)
    await pipeline.start()
    router: RouterService = pipeline["router"]
    consumer_connection = router.consumer.connection
    reloader = ConfigReloader(path, router.reload, service="router", poll_interval=POLL_INTERVAL, sighup=False)
    reloader.start()
    flow = EventFlow(ingest_url(v1))
    ok_before, errors_before = _reloads("ok"), _reloads("error")
    try:
        flow.start()
        await flow.until(40)
        write_config(tmp_path, v2)
        await _eventually(lambda: _reloads("ok") == ok_before + 1, 10, "the new routes file applied")
        after_reload = await flow.until(40)  # accepted once the reload was seen done: v2 only
        caplog.clear()
        write_config(tmp_path, v3)
        await _eventually(lambda: _reloads("error") == errors_before + 1, 10, "the bad file refused")
        after_refusal = await flow.until(20)
        await flow.stop()
        accepted = list(flow.accepted)
        await _eventually(lambda: set(accepted) <= first.ids() | second.ids(), 30, "every accepted event delivered")
        await _eventually(lambda: _depth_is(names.deliver_queue("third"), len(second.ids())), 10,
                          "third's queue holds a copy of every event routed by v2")
        router_dead = await queue_depth(names.router_dead)
        same_connection = router.consumer.connection is consumer_connection  # no reconnect, no restart
    finally:
        with contextlib.suppress(Exception):  # a failure of the flow itself is not the news here
            await flow.stop()
        await reloader.stop()
        await pipeline.stop()
        for receiver in (first, second, third):
            await receiver.stop()

    assert flow.refused == []
    # None lost, none routed twice, none routed by a mix of old and new rules.
    assert first.ids() | second.ids() == set(accepted)
    assert not first.ids() & second.ids()
    assert first.duplicates() == 0 and second.duplicates() == 0
    assert third.received == []
    assert router_dead == 0
    # One cut in the order the router took events: before it the old rules, after it the new.
    cut = len(first.ids())
    assert set(accepted[:cut]) == first.ids()
    assert set(accepted[cut:]) == second.ids()
    assert cut >= 40
    assert set(after_reload) <= second.ids()
    # The refused file changed nothing: still v2.
    assert set(after_refusal) <= second.ids()
    assert _reloads("ok") == ok_before + 1
    problems = [record.problem for record in caplog.records  # type: ignore[attr-defined]
                if record.name == "hookpipe.runtime.reload" and record.levelno == logging.ERROR]
    assert len(problems) == 3
    assert problems[0] == "broker.prefix: cannot change on reload; restart the service to apply it"
    assert problems[1].startswith("routes[0].filter.type: ")
    assert problems[2].startswith("routes[1].transform.body: ")
    assert same_connection
    assert router.config.routes[0].name == "to-second"


async def _depth_is(queue: str, expected: int) -> bool:
    return await queue_depth(queue) == expected


def test_a_reload_changing_broker_settings_or_ops_address_is_refused_naming_each_without_values() -> None:
    config = pipeline_config("hp-test-fixed", "http://127.0.0.1:9/webhooks")
    router = RouterService(load(config))
    changed = copy.deepcopy(config)
    changed["broker"]["url"] = "amqp://guest:S3CRET-PASSWORD@127.0.0.2:5672/"
    changed["broker"]["heartbeat"] = "3s"
    changed["router"]["ops"] = "127.0.0.1:1"
    changed["routes"] = [{"name": "other", "sources": ["demo"], "to": ["receiver"]}]
    with pytest.raises(ConfigError) as caught:
        asyncio.run(router.reload(load(changed)))
    assert caught.value.problems == [
        f"{key}: cannot change on reload; restart the service to apply it"
        for key in ("broker.url", "broker.heartbeat", "router.ops")
    ]
    assert "S3CRET" not in str(caught.value)
    assert router.config.routes[0].name == "demo"  # the running rules stay


# --- the `hookpipe router` process: file changes and SIGHUP ---------------------------------------------


async def _router_metric(config: dict[str, Any], name: str, labels: dict[str, str] | None = None) -> float | None:
    async with aiohttp.ClientSession() as http, http.get(ops_url(config, "router", "/metrics")) as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == (labels or {}):
                return float(sample.value)
    return None


async def _metric_is(config: dict[str, Any], name: str, labels: dict[str, str] | None, value: float) -> bool:
    return await _router_metric(config, name, labels) == value


async def _post(config: dict[str, Any], event_id: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(
        ingest_url(config), data=b"{}", headers={"x-test-id": event_id}
    ) as response:
        assert response.status == 200


async def test_router_process_reloads_on_file_change_and_on_sighup_and_keeps_running_on_a_bad_file(
    prefix, tmp_path: Path, topology_cleanup
):
    first, second = Receiver(), Receiver()
    await first.start()
    await second.start()
    v1 = pipeline_config(prefix, first.url,
                         destinations={"first": _destination(first.url), "second": _destination(second.url)},
                         routes=[{"name": "to-first", "sources": ["demo"], "to": ["first"]}])
    v2 = copy.deepcopy(v1)
    v2["routes"] = [{"name": "to-second", "sources": ["demo"], "to": ["second"]}]
    bad = copy.deepcopy(v2)
    bad["routes"] = [{"name": "to-nowhere", "sources": ["demo"], "to": ["nowhere"]}]
    topology_cleanup(v1)
    services = ServiceSet(v1, tmp_path)
    reloads = "hookpipe_config_reloads_total"
    try:
        await services.start()
        router = services["router"].process
        assert router is not None
        await _post(v1, "before")
        await first.wait_for_ids({"before"}, timeout=15)

        write_config(tmp_path, v2)
        await _eventually(lambda: _metric_is(v1, reloads, {"result": "ok"}, 1), 15, "file change reloaded")
        await _post(v1, "after-change")
        await second.wait_for_ids({"after-change"}, timeout=15)

        router.send_signal(signal.SIGHUP)
        await _eventually(lambda: _metric_is(v1, reloads, {"result": "ok"}, 2), 15, "SIGHUP reloaded")

        write_config(tmp_path, bad)
        await _eventually(lambda: _metric_is(v1, reloads, {"result": "error"}, 1), 15, "bad file refused")
        assert await _router_metric(v1, "hookpipe_config_last_reload_successful") == 0
        await _post(v1, "after-bad-file")
        await second.wait_for_ids({"after-bad-file"}, timeout=15)
        assert router.poll() is None  # the same process all along
        codes = await services.stop()
    finally:
        services.kill_all()
        await first.stop()
        await second.stop()

    assert codes == {"deliverer": 0, "router": 0, "ingest": 0}
    assert first.ids() == {"before"}
    assert second.ids() == {"after-change", "after-bad-file"}
    log = services.logs()["router"]
    assert '"trigger": "file changed"' in log or '"trigger":"file changed"' in log
    assert '"trigger":"SIGHUP"' in log.replace(" ", "")
    assert "routes[0].to: no destination named 'nowhere'" in log


# --- the reloader alone -----------------------------------------------------------------------------------


async def test_reloader_notices_a_rewrite_that_keeps_size_and_mtime_and_coalesces_requests(tmp_path: Path):
    config = pipeline_config("hp-test-reloader", "http://127.0.0.1:9/webhooks")
    path = write_config(tmp_path, config)  # route `demo`, rewritten below as `demx`: same size
    applied: list[str] = []

    async def apply(loaded: Any) -> None:
        applied.append(loaded.config.routes[0].name)
        await asyncio.sleep(0.3)  # a slow apply: requests meanwhile give one more reload, not one each

    reloader = ConfigReloader(path, apply, service="test", poll_interval=POLL_INTERVAL, sighup=False)
    reloader.start()
    try:
        stat = path.stat()
        path.write_text(path.read_text().replace("name: demo", "name: demx"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
        await _eventually(lambda: applied == ["demx"], 5, "the same-size, same-mtime rewrite reloaded")
        await asyncio.sleep(0.5)  # that reload is over
        for _ in range(5):
            reloader.request()
        await asyncio.sleep(0.05)  # the first of them started a reload; these arrive during it
        for _ in range(5):
            reloader.request()
        await _eventually(lambda: len(applied) == 3, 5, "two coalesced reloads")
        await asyncio.sleep(1)
        assert applied == ["demx"] * 3
    finally:
        await reloader.stop()


async def test_a_reload_adding_a_fifo_destination_makes_the_router_route_under_the_router_lease(
    prefix, receiver, topology_cleanup
):
    v1 = pipeline_config(prefix, receiver.url)
    v2 = copy.deepcopy(v1)
    v2["destinations"]["ordered"] = {**v1["destinations"]["receiver"], "ordering": "fifo"}
    v2["routes"][0]["to"] = ["receiver", "ordered"]
    topology_cleanup(v2)
    pipeline = InProcessPipeline(v1)
    await pipeline.start()
    names = Names(prefix)
    try:
        await pipeline["router"].reload(load(v2))
        connection = await connect()
        try:
            async with asyncio.timeout(15):  # the consumer link starts again and queues for the router lease
                while True:
                    state = await queue_state(connection, names.router_lease)
                    if state is not None and state.consumers:
                        break
                    await asyncio.sleep(0.1)
        finally:
            await connection.close()
        assert pipeline["router"]._lease is not None and pipeline["router"]._lease.held
        await post_events(v2, ["after-1", "after-2"])
        await receiver.wait_for_ids({"after-1", "after-2"}, timeout=15)
    finally:
        await pipeline.stop()
