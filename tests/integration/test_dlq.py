"""`hookpipe dlq`: dead letters are listed, shown in place, replayed once the receiver is fixed (removed only
after their replay is confirmed, so a killed replay loses nothing) and purged, each as a separate process."""

from __future__ import annotations

import asyncio
import signal

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from tests.support.broker import connect
from tests.support.cli import hookpipe, start_hookpipe
from tests.support.pipeline import (
    InProcessPipeline,
    pipeline_config,
    post_events,
    queue_depth,
    wait_for_depth,
    write_config,
)

pytestmark = pytest.mark.integration


class SwitchableReceiver:
    """Answers as `broken(event_id)` says (a status) until `fix()`, then 200."""

    def __init__(self, broken: dict[str, int]) -> None:
        self.broken = broken  # event id prefix -> status answered while broken
        self.fixed = False

    async def __call__(self, request: web.Request, _: int) -> web.StreamResponse:
        event_id = request.headers["webhook-id"]
        if not self.fixed:
            for prefix, status in self.broken.items():
                if event_id.startswith(prefix):
                    return web.Response(status=status, text=f"refused {event_id}")
        return web.Response(status=200)

    def fix(self) -> None:
        self.fixed = True


@pytest.fixture
async def dlq_pipeline(prefix, receiver, topology_cleanup, tmp_path):
    """Starts a pipeline whose destination `receiver` dead-letters a 400 at once; returns (config, its file)."""
    started: list[InProcessPipeline] = []

    async def start(**settings: object) -> tuple[dict, str]:
        base = pipeline_config(prefix, receiver.url)
        # A breaker that never opens: these receivers refuse on purpose, and every event should reach the
        # dead queue rather than wait for a probe.
        destination = {**base["destinations"]["receiver"], "dead_letter_on": [400],
                       "breaker": {"failures": 100_000}, **settings}
        config = pipeline_config(prefix, receiver.url, destinations={"receiver": destination})
        topology_cleanup(config)
        pipeline = InProcessPipeline(config)
        await pipeline.start()
        started.append(pipeline)
        return config, str(write_config(tmp_path, config))

    yield start
    for pipeline in started:
        await pipeline.stop()


async def wait_for_no_consumer(queue: str, timeout: float = 10.0) -> None:
    """Wait until nobody consumes `queue` (a killed consumer's unacked messages are back in it by then)."""
    connection = await connect()
    async with connection:
        for _ in range(int(timeout / 0.1)):
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            await channel.close()
            if not declared.declaration_result.consumer_count:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{queue} still has a consumer after {timeout}s")


EVENTS = 200


async def test_dlq_replay_after_the_receiver_is_fixed_delivers_every_dead_letter_even_if_killed_half_way(
    dlq_pipeline, receiver, prefix
):
    answers = SwitchableReceiver({"dead-": 400})
    receiver.respond = answers
    config, path = await dlq_pipeline()
    dead_queue = f"{prefix}.dead.receiver"
    ids = [f"dead-{n:03d}" for n in range(EVENTS)]
    await post_events(config, ids)
    await wait_for_depth(dead_queue, EVENTS, timeout=30)
    assert receiver.received == []  # every attempt was refused
    answers.fix()

    # Paced at 100/s the replay takes 2 s; it is killed (SIGKILL: no clean-up at all) once 50 are delivered.
    first = await start_hookpipe("dlq", "replay", "--config", path, "--destination", "receiver", "--rate", "100/s")
    await receiver.wait_for(lambda r: len(r.ids()) >= 50, timeout=20)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    delivered_before_the_kill = len(receiver.ids())
    assert delivered_before_the_kill < EVENTS, "the replay finished before it could be killed half-way"
    await wait_for_no_consumer(dead_queue)
    left = await queue_depth(dead_queue)
    assert 0 < left < EVENTS  # half done: what was not acked is back (a replay whose ack was lost included)

    second = await hookpipe("dlq", "replay", "--config", path, "--destination", "receiver", "--json")
    assert second.returncode == 0, second.stderr
    report = second.json()["reports"][0]
    assert report["depth"] == left and report["replayed"] == left and report["kept"] == 0

    await receiver.wait_for_ids(set(ids), timeout=30)
    assert await queue_depth(dead_queue) == 0
    await wait_for_depth(f"{prefix}.deliver.receiver", 0)
    duplicates = receiver.duplicates()
    print(f"killed with {EVENTS - left} dead letters replayed ({delivered_before_the_kill} delivered by then); "
          f"{left} replayed by the second run; {duplicates} duplicate deliveries")
    assert len(receiver.received) == EVENTS + duplicates
    assert duplicates <= 50  # at most a prefetch window's replays can be in doubt when the process dies


async def test_a_filtered_replay_killed_half_way_loses_neither_what_it_replays_nor_what_it_keeps(
    dlq_pipeline, receiver, prefix
):
    answers = SwitchableReceiver({"gone-": 400, "busy-": 500})
    receiver.respond = answers
    config, path = await dlq_pipeline()
    dead_queue = f"{prefix}.dead.receiver"
    gone, busy = [f"gone-{n:03d}" for n in range(60)], [f"busy-{n:03d}" for n in range(60)]
    await post_events(config, gone + busy)
    await wait_for_depth(dead_queue, 120, timeout=30)
    answers.fix()

    # Only the replays are paced (50/s): the kept gone-* are copied to the tail at full speed meanwhile.
    first = await start_hookpipe("dlq", "replay", "--config", path, "--reason", "exhausted", "--rate", "50/s")
    await receiver.wait_for(lambda r: len(r.ids()) >= 15, timeout=20)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    assert len(receiver.ids()) < len(busy), "the replay finished before it could be killed half-way"
    await wait_for_no_consumer(dead_queue)

    second = await hookpipe("dlq", "replay", "--config", path, "--reason", "exhausted", "--json")
    assert second.returncode == 0, second.stderr
    await receiver.wait_for_ids(set(busy), timeout=30)
    assert receiver.ids() == set(busy)  # no kept dead letter was delivered
    left = (await hookpipe("dlq", "show", "--config", path, "--limit", "1000", "--json")).json()
    left_ids = [letter["id"] for letter in left["letters"]]
    assert set(left_ids) == set(gone)  # every kept one is still a dead letter...
    assert {letter["reason"] for letter in left["letters"]} == {"dead_letter_on"}
    print(f"kept dead letters left twice by the kill: {len(left_ids) - len(gone)}; "
          f"deliveries duplicated: {receiver.duplicates()}")
    assert len(left_ids) - len(gone) <= 50  # ...at most a window's copies twice


async def test_a_filtered_replay_keeps_the_others_and_starts_their_attempts_again(dlq_pipeline, receiver, prefix):
    answers = SwitchableReceiver({"gone-": 400, "busy-": 500})  # busy-* are retried twice, then exhausted
    receiver.respond = answers
    config, path = await dlq_pipeline()
    dead_queue = f"{prefix}.dead.receiver"
    gone, busy = [f"gone-{n}" for n in range(3)], [f"busy-{n}" for n in range(3)]
    await post_events(config, gone + busy)
    await wait_for_depth(dead_queue, 6)

    shown = await hookpipe("dlq", "show", "--config", path, "--reason", "exhausted", "--json")
    assert shown.returncode == 0, shown.stderr
    letters = shown.json()["letters"]
    assert sorted(letter["id"] for letter in letters) == busy
    assert {(letter["attempts"], letter["status"], letter["destination"]) for letter in letters} == {
        (3, 500, "receiver")}
    assert all(0 <= letter["age_s"] < 60 for letter in letters)
    assert await queue_depth(dead_queue) == 6  # shown in place, nothing removed

    listed = await hookpipe("dlq", "list", "--config", path, "--scan", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["destination"]: row for row in listed.json()["queues"]}
    assert rows["receiver"]["depth"] == 6
    assert rows["receiver"]["reasons"] == {"dead_letter_on": 3, "exhausted": 3}
    assert rows["router"]["depth"] == 0

    from_metrics = await hookpipe("dlq", "list", "--config", path, "--json")
    counted = {row["destination"]: row for row in from_metrics.json()["queues"]}["receiver"]["reasons"]
    for reason in ("dead_letter_on", "exhausted"):  # the in-process deliverer's own counters, scraped over HTTP
        expected = REGISTRY.get_sample_value("hookpipe_dead_letters_total",
                                             {"destination": "receiver", "reason": reason})
        assert expected is not None and expected >= 3
        assert counted[reason] == expected

    answers.fix()
    replayed = await hookpipe("dlq", "replay", "--config", path, "--reason", "exhausted", "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert {(r["destination"], r["replayed"], r["kept"]) for r in replayed.json()["reports"]} == {
        ("receiver", 3, 3), ("router", 0, 0)}
    await receiver.wait_for_ids(set(busy), timeout=15)
    assert {r.headers["x-hookpipe-attempt"] for r in receiver.received} == {"1"}  # the schedule starts again
    assert await queue_depth(dead_queue) == 3
    remaining = (await hookpipe("dlq", "show", "--config", path, "--json")).json()["letters"]
    assert sorted(letter["id"] for letter in remaining) == gone

    one = await hookpipe("dlq", "replay", "--config", path, "--id", "gone-1", "--destination", "receiver", "--json")
    assert one.json()["reports"][0] | {"queue": None} == {
        "destination": "receiver", "queue": None, "exists": True, "depth": 3, "scanned": 3, "replayed": 1,
        "kept": 2, "failed": None}
    await receiver.wait_for_ids({"gone-1"}, timeout=15)

    unconfirmed = await hookpipe("dlq", "purge", "--config", path, "--destination", "receiver")
    assert unconfirmed.returncode == 2 and "would purge 2" in unconfirmed.stderr
    assert await queue_depth(dead_queue) == 2
    purged = await hookpipe("dlq", "purge", "--config", path, "--reason", "dead_letter_on", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert "receiver: purged 2 of 2" in purged.stdout
    assert await queue_depth(dead_queue) == 0
    assert receiver.ids() == {*busy, "gone-1"}


async def test_router_dead_letters_replay_into_the_router_queue(dlq_pipeline, receiver, prefix, topology_cleanup,
                                                                 tmp_path):
    config = pipeline_config(prefix, receiver.url, routes=[
        {"name": "json-only", "sources": ["demo"], "filter": {"body": {"kind": ["x"]}}, "to": ["receiver"]},
    ])
    topology_cleanup(config)
    path = str(write_config(tmp_path, config))
    pipeline = InProcessPipeline(config)
    await pipeline.start()
    try:
        await post_events(config, ["not-json"], body=b"<xml/>")  # the filter needs JSON: dead letter bad_json
        await wait_for_depth(f"{prefix}.router.dead", 1)
    finally:
        await pipeline.stop()
    shown = (await hookpipe("dlq", "show", "--config", path, "--destination", "router", "--json")).json()
    assert [(letter["id"], letter["reason"]) for letter in shown["letters"]] == [("not-json", "bad_json")]
    replayed = await hookpipe("dlq", "replay", "--config", path, "--destination", "router")
    assert replayed.returncode == 0, replayed.stderr
    assert "router: replayed 1 of 1" in replayed.stdout
    assert await queue_depth(f"{prefix}.router.dead") == 0
    assert await queue_depth(f"{prefix}.router") == 1  # back before the router, to be routed again


async def test_an_unknown_destination_is_a_usage_error(dlq_pipeline):
    _, path = await dlq_pipeline()
    result = await hookpipe("dlq", "replay", "--config", path, "--destination", "nope")
    assert result.returncode == 2
    assert result.stderr == ("hookpipe: no destination named 'nope' in the config; destinations: receiver, or "
                             "`router` for the router's dead letters\n")


async def test_dlq_commands_fail_plainly_when_the_broker_cannot_be_reached(prefix, receiver, tmp_path):
    from tests.support.pipeline import free_port

    config = pipeline_config(prefix, receiver.url, broker_url=f"amqp://guest:secret@127.0.0.1:{free_port()}/")
    path = str(write_config(tmp_path, config))
    for command in (["dlq", "list"], ["dlq", "replay"], ["events", "show", "x"]):
        result = await hookpipe(*command, "--config", path)
        assert result.returncode == 1, command
        assert "cannot reach the broker at amqp://guest:***@127.0.0.1" in result.stderr
        assert "secret" not in result.stderr and "Traceback" not in result.stderr
