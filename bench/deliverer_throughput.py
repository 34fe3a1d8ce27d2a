"""Deliverer-only benchmark: deliveries/s and CPU per delivery at destination concurrency 1, 10 and 100.

    .venv/bin/python bench/deliverer_throughput.py                                 # 3 rounds x 3 concurrencies x 5000
    .venv/bin/python bench/deliverer_throughput.py --events 500 --rounds 1         # a quick smoke run
    .venv/bin/python bench/deliverer_throughput.py --json > result.json            # JSON on stdout, table on stderr

The harness runs a receiver on 127.0.0.1 (aiohttp, in this process) that answers 200 at once, checks each
delivery's Standard Webhooks signature and counts deliveries, duplicates and retried attempts. It writes one
temporary config under its own topology prefix `bench-<hex>` with three destinations, `c1`, `c10` and `c100`,
whose `concurrency` is 1, 10 and 100, all pointing at the receiver. Each run preloads N delivery messages
(`encode_event(hookpipe.event.Event(...))`, published with confirms to the deliver exchange, key = destination)
into ONE destination's queue while no deliverer runs, then starts a fresh `python -m deliverer --config FILE`
and times the arrivals at the receiver: the deliverer works through a full backlog, as it does when it lags the
router. The window runs from the max(c, N/20)-th arrival to the (N-c)-th, so the destination's concurrency is
full at both ends and start-up, connection set-up and the final drain are left out. Every concurrency runs once
per round, in a new shuffled order each round; the table gives medians over the rounds.

Per concurrency: deliveries/s, the deliverer's CPU per delivery (utime + stime from /proc/<pid>/stat over the
window), its CPU share, the gaps between consecutive arrivals at the receiver (at concurrency 1, one whole
delivery cycle: the attempt, the ack and the next message), the deliverer's own attempt latency (its
`hookpipe_delivery_attempt_seconds` histogram: mean, and p50/p99 interpolated within the buckets), its peak RSS,
and what RabbitMQ and the harness spent meanwhile. Everything it talks to is on 127.0.0.1. It stops the
deliverer by PID and deletes its queues and exchanges at the end, also on Ctrl-C. Exit status: 0 when every
run delivered all N with valid signatures and dead-lettered nothing, 1 otherwise, 2 when the set-up failed, 130
when interrupted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

# Importing `common` (bench/common.py) puts the repository root on sys.path ahead of bench/, so that
# `deliverer` below is the service's package, not this file: it must come first. (Not when the root is on
# sys.path already, e.g. PYTHONPATH=.: then bench/ comes first, and `deliverer` is this file.)
from common import (
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    ProcessStats,
    ServiceProcess,
    SetupFailed,
    add_amqp_argument,
    add_output_arguments,
    check_amqp_url,
    delete_topology,
    find_broker_pids,
    free_port,
    latency_ms,
    log,
    machine_cpu,
    make_body,
    own_cpu,
    read_process_stats,
    run_main,
)
from e2e import standard_webhooks_valid

from deliverer.signing import secret_key

CONCURRENCIES = (1, 10, 100)

#: Publishes awaiting their confirm at once while preloading a queue.
PRELOAD_WINDOW = 256

#: Seconds without a new arrival after which a run gives up on the rest (longer than the retry schedule).
STALL_TIMEOUT = 60.0

#: The destinations' retry schedule: short, so a failed attempt would come back during the run.
RETRY_SCHEDULE = ["1s", "2s", "5s"]

#: Bound on deleting the topology at the end (s).
CLEANUP_TIMEOUT = 60.0

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2

ATTEMPT_METRIC = "hookpipe_delivery_attempt_seconds"


def destination_name(concurrency: int) -> str:
    return f"c{concurrency}"


# --- the receiver ----------------------------------------------------------------------------------------


@dataclass
class Mark:
    """What the clocks said at one arrival: the window's ends."""

    at: float  # perf_counter
    deliverer: ProcessStats | None
    broker_cpu_s: float
    harness_cpu_s: float
    machine: tuple[float, float, float]


@dataclass
class Tally:
    """One run as the receiver sees it: deliveries whose `webhook-id` starts with `prefix`."""

    prefix: str
    expected: int
    window: tuple[int, int]  # arrival numbers (1-based) whose marks bound the measured window
    snapshot: Callable[[float], Mark]
    arrived: set[str] = field(default_factory=set)
    requests: int = 0
    duplicates: int = 0
    retried: int = 0  # requests whose x-hookpipe-attempt is not 1
    bad_signatures: int = 0
    first_at: float | None = None
    last_at: float | None = None
    marks: dict[int, Mark] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)  # s between two consecutive first arrivals, in the window
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Receiver:
    """POST anything on 127.0.0.1:port: answers 200 at once and tallies the current run's deliveries."""

    def __init__(self, verify_key: bytes) -> None:
        self.verify_key = verify_key
        self.tally: Tally | None = None
        self.foreign = 0  # deliveries of no current run (a previous run's redelivery)
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application(client_max_size=16 * 1024**2)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        for _ in range(20):  # free_port() leaves a short race with other listeners: try another port
            port = free_port()
            site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True, backlog=1024)
            try:
                await site.start()
            except OSError:
                await site.stop()  # unregister it from the runner; nothing is listening
                continue
            return port
        raise SetupFailed("no free port on 127.0.0.1 for the receiver")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        tally = self.tally
        event_id = request.headers.get("webhook-id", "")
        if tally is None or not event_id.startswith(tally.prefix):
            self.foreign += 1
            return web.Response(text="ok")
        tally.requests += 1
        if not standard_webhooks_valid(self.verify_key, request.headers, body):
            tally.bad_signatures += 1  # counted, still answered 200: a retry storm would measure nothing
        if request.headers.get("x-hookpipe-attempt") != "1":
            tally.retried += 1
        if event_id in tally.arrived:
            tally.duplicates += 1
            return web.Response(text="ok")
        tally.arrived.add(event_id)
        count = len(tally.arrived)
        start, end = tally.window
        if start < count <= end and tally.last_at is not None:
            tally.gaps.append(now - tally.last_at)
        if tally.first_at is None:
            tally.first_at = now
        tally.last_at = now
        if count in (start, end):
            tally.marks[count] = tally.snapshot(now)
        if count >= tally.expected:
            tally.done.set()
        return web.Response(text="ok")


# --- the config, the queue, the deliverer ----------------------------------------------------------------


def bench_config(prefix: str, broker_url: str, receiver_port: int, secret: str, concurrencies: tuple[int, ...],
                 log_level: str) -> dict[str, Any]:
    """The deliverer alone: one destination per concurrency, all pointing at the harness's receiver."""
    destinations = {
        destination_name(concurrency): {
            "url": f"http://127.0.0.1:{receiver_port}/{destination_name(concurrency)}",
            "timeout": "30s",
            "signing": {"scheme": "standard-webhooks", "secrets": [secret]},
            "concurrency": concurrency,
            "retry": {"schedule": RETRY_SCHEDULE, "max_age": "1h"},
            "allow_private_network": ["127.0.0.0/8"],
        }
        for concurrency in concurrencies
    }
    return {
        "broker": {"url": broker_url, "prefix": prefix, "heartbeat": "10s"},
        "deliverer": {"ops": f"127.0.0.1:{free_port()}"},
        "archive": "off",
        "log": {"level": log_level},
        "destinations": destinations,
    }


def build_messages(run_prefix: str, count: int, body_size: int) -> list[Any]:
    """`count` delivery messages as the router publishes them: ids `{run_prefix}{n:08d}`, JSON bodies."""
    from hookpipe.amqp.codec import encode_event
    from hookpipe.event import Event, now_ms

    messages = []
    for number in range(count):
        event_id = f"{run_prefix}{number:08d}"
        event = Event(
            id=event_id, source="bench", type="bench.event", received_at=now_ms(), verified=True,
            content_type="application/json", body=make_body(event_id, body_size),
            headers={"content-type": "application/json", "user-agent": "hookpipe-bench", "x-bench-id": event_id},
        )
        messages.append(encode_event(event))
    return messages


class Broker:
    """The harness's own AMQP connection: declares the destinations' queues, preloads and inspects them."""

    def __init__(self, url: str, config: Any) -> None:
        from hookpipe.amqp.topology import Names

        self.url = url
        self.config = config
        self.names = Names.of(config.broker)
        self.connection: Any = None

    async def open(self) -> None:
        import aio_pika

        from hookpipe.amqp.topology import declare_destination

        try:
            self.connection = await aio_pika.connect(self.url, timeout=10,
                                                     client_properties={"connection_name": "bench-deliverer"})
        except Exception as error:  # refused, authentication, time-out: aio-pika raises several kinds
            raise SetupFailed(f"cannot connect to the broker: {error!r}") from None
        async with self.connection.channel() as channel:
            for destination in self.config.destinations:
                await declare_destination(channel, self.names, destination)

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.connection.close(), 10)

    async def depth(self, queue: str) -> int:
        async with self.connection.channel() as channel:
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count or 0)

    async def purge(self, queue: str) -> int:
        async with self.connection.channel() as channel:
            declared = await channel.declare_queue(queue, passive=True)
            left = int(declared.declaration_result.message_count or 0)
            if left:
                await declared.purge()
            return left

    async def preload(self, destination: str, messages: list[Any]) -> None:
        """Publish every message to the deliver exchange (key = destination) and await each confirm; then the
        destination's queue must hold exactly them."""
        queue = self.names.deliver_queue(destination)
        stale = await self.purge(queue)
        if stale:
            log(f"purged {stale} messages left in {queue} before preloading")
        window = asyncio.Semaphore(PRELOAD_WINDOW)
        async with self.connection.channel(publisher_confirms=True, on_return_raises=True) as channel:
            await channel.get_exchange(self.names.deliver, ensure=True)
            underlay = await channel.get_underlay_channel()

            async def publish(message: Any) -> None:  # a hookpipe.amqp.wire.Outgoing, as the router publishes it
                async with window:
                    await underlay.basic_publish(message.body, exchange=self.names.deliver, routing_key=destination,
                                                 properties=message.properties, mandatory=True, timeout=30)

            await asyncio.gather(*(publish(message) for message in messages))
        depth = 0
        for _ in range(50):  # the count of a quorum queue can trail its confirms by a moment
            depth = await self.depth(queue)
            if depth >= len(messages):
                break
            await asyncio.sleep(0.1)
        if depth != len(messages):
            raise SetupFailed(f"{queue} holds {depth} messages after {len(messages)} confirmed publishes")


async def scrape_histogram(session: aiohttp.ClientSession, ops: str, metric: str, destination: str,
                           ) -> dict[str, Any] | None:
    """One destination's histogram from the service's /metrics: cumulative buckets, sum and count."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        async with session.get(f"http://{ops}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    buckets: dict[float, float] = {}
    total = count = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.labels.get("destination") != destination:
                continue
            if sample.name.endswith("_bucket"):
                buckets[float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    if not count:
        return None
    return {"buckets": sorted(buckets.items()), "sum": total, "count": count}


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile: linear interpolation within the bucket holding rank q x count."""
    if not buckets or not buckets[-1][1]:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(upper):
                return lower  # above the highest finite bound: that bound is all a histogram can say
            if cumulative == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (cumulative - below)
        lower, below = upper, cumulative
    return lower


def merge_histograms(histograms: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Sum of several scrapes of the same buckets (one per run, each from a fresh process)."""
    if not histograms:
        return None
    buckets: dict[float, float] = {}
    for histogram in histograms:
        for upper, cumulative in histogram["buckets"]:
            buckets[upper] = buckets.get(upper, 0.0) + cumulative
    return {"buckets": sorted(buckets.items()), "sum": sum(h["sum"] for h in histograms),
            "count": sum(h["count"] for h in histograms)}


def attempt_figures(histogram: dict[str, Any] | None) -> dict[str, float | None]:
    if histogram is None:
        return {"mean": None, "p50": None, "p99": None, "count": None}
    p50, p99 = (histogram_quantile(q, histogram["buckets"]) for q in (0.5, 0.99))
    return {"mean": round(1000 * histogram["sum"] / histogram["count"], 3),
            "p50": None if p50 is None else round(1000 * p50, 3),
            "p99": None if p99 is None else round(1000 * p99, 3),
            "count": int(histogram["count"])}


# --- one run ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    concurrency: int
    round: int
    events: int
    delivered: int = 0
    duplicates: int = 0
    retried: int = 0
    bad_signatures: int = 0
    dead_letters: int = 0
    left_in_queue: int = 0
    window_deliveries: int = 0
    window_s: float | None = None
    deliveries_per_s: float | None = None
    first_to_last_per_s: float | None = None
    deliverer_cpu_s: float | None = None
    broker_cpu_s: float | None = None
    harness_cpu_s: float | None = None
    machine_busy_pct: float | None = None
    machine_other_pct: float | None = None
    steal_pct: float | None = None
    rss_peak_kib: int | None = None
    preload_s: float = 0.0
    startup_s: float | None = None  # deliverer started -> first arrival
    pid: int | None = None
    exited: int | None = None  # the deliverer's status if it exited during the run
    gaps: list[float] = field(default_factory=list)
    attempt: dict[str, Any] | None = None

    def per_delivery_ms(self, cpu_s: float | None) -> float | None:
        if cpu_s is None or not self.window_deliveries:
            return None
        return 1000 * cpu_s / self.window_deliveries

    @property
    def deliverer_cpu_pct(self) -> float | None:
        if self.deliverer_cpu_s is None or not self.window_s:
            return None
        return 100 * self.deliverer_cpu_s / self.window_s

    @property
    def failed(self) -> bool:
        return (self.delivered < self.events or self.bad_signatures > 0 or self.dead_letters > 0
                or self.exited is not None)

    def summary(self) -> dict[str, Any]:
        return {
            "round": self.round, "events": self.events, "delivered": self.delivered,
            "duplicates": self.duplicates, "retried_attempts": self.retried, "bad_signatures": self.bad_signatures,
            "dead_letters": self.dead_letters, "left_in_queue": self.left_in_queue,
            "window_deliveries": self.window_deliveries, "window_s": _round(self.window_s, 3),
            "deliveries_per_s": _round(self.deliveries_per_s, 1),
            "first_to_last_per_s": _round(self.first_to_last_per_s, 1),
            "deliverer_cpu_ms_per_delivery": _round(self.per_delivery_ms(self.deliverer_cpu_s), 4),
            "deliverer_cpu_pct": _round(self.deliverer_cpu_pct, 1),
            "broker_cpu_ms_per_delivery": _round(self.per_delivery_ms(self.broker_cpu_s), 4),
            "harness_cpu_ms_per_delivery": _round(self.per_delivery_ms(self.harness_cpu_s), 4),
            "machine_busy_pct": _round(self.machine_busy_pct, 1),
            "machine_other_processes_pct": _round(self.machine_other_pct, 1),
            "steal_pct": _round(self.steal_pct, 1),
            "rss_peak_kib": self.rss_peak_kib, "preload_s": round(self.preload_s, 3),
            "startup_s": _round(self.startup_s, 3), "deliverer_pid": self.pid,
            "deliverer_exited": self.exited, "arrival_gap_ms": latency_ms(self.gaps),
            "attempt_ms": attempt_figures(self.attempt),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def measurement_window(events: int, concurrency: int) -> tuple[int, int]:
    """Arrival numbers bounding the window: concurrency is full at both ends, the first 5% are warm-up."""
    return max(concurrency, events // 20), events - concurrency


class Bench:
    def __init__(self, args: argparse.Namespace, config_path: Path, ops: str, tmp: Path, receiver: Receiver,
                 broker: Broker, deadline: float) -> None:
        self.args = args
        self.config_path = config_path
        self.ops = ops
        self.tmp = tmp
        self.receiver = receiver
        self.broker = broker
        self.deadline = deadline
        self.tag = secrets.token_hex(3)
        self.broker_pids = find_broker_pids()
        self.current: ServiceProcess | None = None  # the deliverer now running, for the clean-up

    def _broker_cpu(self) -> float:
        return sum(stats.cpu_s for stats in map(read_process_stats, self.broker_pids) if stats is not None)

    async def one(self, concurrency: int, round_number: int) -> Run:
        args = self.args
        destination = destination_name(concurrency)
        run = Run(concurrency=concurrency, round=round_number, events=args.events)
        run_prefix = f"{self.tag}-{round_number}-{destination}-"
        messages = build_messages(run_prefix, args.events, args.body_size)
        started = time.perf_counter()
        await self.broker.preload(destination, messages)
        run.preload_s = time.perf_counter() - started
        del messages

        deliverer = ServiceProcess("deliverer", self.config_path, self.ops, self.tmp)

        def snapshot(now: float) -> Mark:
            pid = deliverer.pid
            return Mark(now, read_process_stats(pid) if pid is not None else None, self._broker_cpu(), own_cpu(),
                        machine_cpu())

        window = measurement_window(args.events, concurrency)
        tally = Tally(prefix=run_prefix, expected=args.events, window=window, snapshot=snapshot)
        self.receiver.tally = tally
        self.current = deliverer
        try:
            started = time.perf_counter()
            deliverer.start()
            run.pid = deliverer.pid
            if not args.quiet:
                log(f"round {round_number}: {tally.expected} messages in "
                    f"{self.broker.names.deliver_queue(destination)}; started the deliverer (pid {deliverer.pid})")
            async with aiohttp.ClientSession(trust_env=False) as session:
                await deliverer.wait_ready(session, min(self.deadline, time.monotonic() + STARTUP_TIMEOUT))
                last_progress, last_count = time.monotonic(), 0
                while not tally.done.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(tally.done.wait(), 0.5)
                    now = time.monotonic()
                    if len(tally.arrived) != last_count:
                        last_progress, last_count = now, len(tally.arrived)
                    if not deliverer.alive():
                        run.exited = deliverer.process.returncode if deliverer.process else None
                        log(f"the deliverer exited (status {run.exited}) during the run; its log ends with:\n"
                            f"{deliverer.log_tail()}")
                        break
                    if now >= self.deadline:
                        log(f"--timeout {args.timeout:g}s reached during the run")
                        break
                    if now - last_progress > STALL_TIMEOUT:
                        log(f"no delivery for {STALL_TIMEOUT:g}s: giving up on this run")
                        break
                run.attempt = await scrape_histogram(session, self.ops, ATTEMPT_METRIC, destination)
            end_stats = deliverer.snapshot()
            run.rss_peak_kib = end_stats.rss_peak_kib if end_stats is not None else None
        finally:
            deliverer.terminate()
            code = await deliverer.wait_exit(STOP_TIMEOUT)
            self.current = None
            if code not in (0, None) and run.exited is None:
                log(f"the deliverer exited with status {code}; log: {deliverer.log_path}")
        self.receiver.tally = None
        run.left_in_queue = await self.broker.purge(self.broker.names.deliver_queue(destination))
        run.dead_letters = await self.broker.purge(self.broker.names.dead_queue(destination))
        self._figures(run, tally, started)
        return run

    def _figures(self, run: Run, tally: Tally, started: float) -> None:
        run.delivered = len(tally.arrived)
        run.duplicates = tally.duplicates
        run.retried = tally.retried
        run.bad_signatures = tally.bad_signatures
        run.gaps = tally.gaps
        if tally.first_at is not None:
            run.startup_s = tally.first_at - started
            if tally.last_at is not None and run.delivered > 1 and tally.last_at > tally.first_at:
                run.first_to_last_per_s = (run.delivered - 1) / (tally.last_at - tally.first_at)
        start, end = tally.window
        first, last = tally.marks.get(start), tally.marks.get(end)
        if first is None or last is None or last.at <= first.at:
            return
        run.window_deliveries = end - start
        run.window_s = last.at - first.at
        run.deliveries_per_s = run.window_deliveries / run.window_s
        if first.deliverer is not None and last.deliverer is not None:
            run.deliverer_cpu_s = last.deliverer.cpu_s - first.deliverer.cpu_s
        run.broker_cpu_s = last.broker_cpu_s - first.broker_cpu_s
        run.harness_cpu_s = last.harness_cpu_s - first.harness_cpu_s
        busy, steal, total = (a - b for a, b in zip(last.machine, first.machine, strict=True))
        if total > 0:
            run.machine_busy_pct = 100 * busy / total
            run.steal_pct = 100 * steal / total
            ours = (run.deliverer_cpu_s or 0.0) + run.broker_cpu_s + run.harness_cpu_s
            run.machine_other_pct = 100 * max(0.0, busy - ours) / total


# --- figures ---------------------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _spread(values: list[float | None], digits: int) -> dict[str, float | None]:
    present = [value for value in values if value is not None]
    return {"median": _round(_median(values), digits), "min": _round(min(present), digits) if present else None,
            "max": _round(max(present), digits) if present else None}


def summarize(args: argparse.Namespace, runs: list[Run], seed: int, orders: list[list[int]],
              receiver: Receiver, left: dict[str, int]) -> dict[str, Any]:
    results = []
    for concurrency in args.concurrency:
        own = sorted((run for run in runs if run.concurrency == concurrency), key=lambda run: run.round)
        if not own:
            continue
        attempts = merge_histograms([run.attempt for run in own if run.attempt is not None])
        results.append({
            "concurrency": concurrency,
            "destination": destination_name(concurrency),
            "rounds": len(own),
            "events": sum(run.events for run in own),
            "delivered": sum(run.delivered for run in own),
            "duplicates": sum(run.duplicates for run in own),
            "retried_attempts": sum(run.retried for run in own),
            "bad_signatures": sum(run.bad_signatures for run in own),
            "dead_letters": sum(run.dead_letters for run in own),
            "deliveries_per_s": _spread([run.deliveries_per_s for run in own], 1),
            "deliverer_cpu_ms_per_delivery": _spread(
                [run.per_delivery_ms(run.deliverer_cpu_s) for run in own], 4),
            "deliverer_cpu_pct": _round(_median([run.deliverer_cpu_pct for run in own]), 1),
            "arrival_gap_ms": latency_ms([gap for run in own for gap in run.gaps]),
            "attempt_ms": attempt_figures(attempts),
            "rss_peak_kib": max((run.rss_peak_kib for run in own if run.rss_peak_kib is not None), default=None),
            "broker_cpu_ms_per_delivery": _round(_median([run.per_delivery_ms(run.broker_cpu_s) for run in own]), 4),
            "harness_cpu_ms_per_delivery": _round(_median(
                [run.per_delivery_ms(run.harness_cpu_s) for run in own]), 4),
            "machine_busy_pct": _round(_median([run.machine_busy_pct for run in own]), 1),
            "machine_other_processes_pct": _round(_median([run.machine_other_pct for run in own]), 1),
            "runs": [run.summary() for run in own],
        })
    return {
        "events_per_run": args.events,
        "body_size": args.body_size,
        "rounds": args.rounds,
        "completed_rounds": max((run.round for run in runs), default=0),
        "seed": seed,
        "orders": orders,
        "concurrencies": list(args.concurrency),
        "window": "arrivals max(c, N/20) .. N-c",
        "cpus": os.cpu_count(),
        "results": results,
        "failed_runs": sum(run.failed for run in runs),
        "foreign_arrivals": receiver.foreign,
        "left_in_queues": left,
    }


def table(report: dict[str, Any]) -> str:
    def num(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [
        f"deliverer benchmark: {report['events_per_run']} deliveries per run, {report['body_size']} B bodies, "
        f"standard-webhooks signing, {report['completed_rounds']}/{report['rounds']} rounds in shuffled order "
        f"(seed {report['seed']}), {report['cpus']} CPUs",
        "window: arrivals max(c, N/20) to N-c of each run (backlog preloaded, concurrency full at both ends)",
        "",
        f"{'':<5}{'deliveries/s':^20}{'deliverer CPU':^26}{'arrival gap ms':^21}{'attempt ms':^20}"
        f"{'peak RSS':>9}{'other CPU ms/dlv':^20}",
        f"{'conc':<5}{'median':>8}{'(min-max)':>12}{'ms/dlv':>8}{'(min-max)':>14}{'%':>4}{'p50':>7}{'p99':>7}"
        f"{'max':>7}{'mean':>7}{'~p50':>7}{'~p99':>6}{'MiB':>9}{'rabbitmq':>10}{'harness':>10}",
    ]
    for result in report["results"]:
        rate, cpu = result["deliveries_per_s"], result["deliverer_cpu_ms_per_delivery"]
        gap, attempt = result["arrival_gap_ms"], result["attempt_ms"]
        rss = result["rss_peak_kib"]
        lines.append(
            f"{result['concurrency']:<5}{num(rate['median'], 0):>8}"
            f"{'(' + num(rate['min'], 0) + '-' + num(rate['max'], 0) + ')':>12}"
            f"{num(cpu['median'], 3):>8}{'(' + num(cpu['min'], 3) + '-' + num(cpu['max'], 3) + ')':>14}"
            f"{num(result['deliverer_cpu_pct'], 0):>4}{num(gap['p50'], 2):>7}{num(gap['p99'], 2):>7}"
            f"{num(gap['max'], 1):>7}"
            f"{num(attempt['mean'], 2):>7}{num(attempt['p50'], 2):>7}{num(attempt['p99'], 1):>6}"
            f"{num(None if rss is None else rss / 1024, 0):>9}"
            f"{num(result['broker_cpu_ms_per_delivery'], 3):>10}{num(result['harness_cpu_ms_per_delivery'], 3):>10}")
    lines.append("")
    problems = []
    for result in report["results"]:
        for key in ("duplicates", "retried_attempts", "bad_signatures", "dead_letters"):
            if result[key]:
                problems.append(f"c{result['concurrency']} {key.replace('_', ' ')} {result[key]}")
        missing = result["events"] - result["delivered"]
        if missing:
            problems.append(f"c{result['concurrency']} not delivered {missing}")
    delivered = sum(result["delivered"] for result in report["results"])
    events = sum(result["events"] for result in report["results"])
    lines.append(f"delivered {delivered}/{events}; " + (", ".join(problems) if problems else
                 "each once, at the first attempt, with a valid signature; no dead letter"))
    busy = _median([result["machine_busy_pct"] for result in report["results"]])
    other = _median([result["machine_other_processes_pct"] for result in report["results"]])
    if busy is not None and other is not None:
        lines.append(f"machine: median {busy:.0f}% busy over {report['cpus']} CPUs during a window, of which "
                     f"{other:.0f}% by processes other than the deliverer, rabbitmq and the harness")
        if other >= 10:
            lines.append("warning: other work ran on this machine meanwhile; deliveries/s are skewed by it "
                         "(CPU ms/delivery much less)")
    if report["foreign_arrivals"]:
        lines.append(f"deliveries of no current run (late redeliveries): {report['foreign_arrivals']}")
    if report["left_in_queues"]:
        lines.append(f"left in queues before deletion: {report['left_in_queues']}")
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    import yaml

    from hookpipe.config import ConfigError, load_config

    deadline = time.monotonic() + args.timeout
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    shuffler = random.Random(seed)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    receiver = Receiver(secret_key(secret))
    tmp = Path(tempfile.mkdtemp(prefix="hookpipe-bench-deliverer-"))
    prefix = f"bench-{secrets.token_hex(5)}"
    loaded_config: Any = None
    broker: Broker | None = None
    bench: Bench | None = None
    runs: list[Run] = []
    orders: list[list[int]] = []
    left: dict[str, int] = {}
    exit_code = EXIT_SETUP
    try:
        port = await receiver.start()
        config = bench_config(prefix, args.amqp_url, port, secret, args.concurrency, args.log_level)
        config_path = tmp / "pipeline.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        config_path.chmod(0o600)
        try:
            loaded_config = load_config(config_path, environ={}).config
        except ConfigError as error:
            raise SetupFailed(f"the generated config is refused: {error}") from None
        log(f"topology prefix {prefix}; receiver on http://127.0.0.1:{port}/; config and logs in {tmp}")
        broker = Broker(args.amqp_url, loaded_config)
        await broker.open()
        bench = Bench(args, config_path, config["deliverer"]["ops"], tmp, receiver, broker, deadline)
        for round_number in range(1, args.rounds + 1):
            order = list(args.concurrency)
            shuffler.shuffle(order)
            orders.append(order)
            for concurrency in order:
                if time.monotonic() >= deadline:
                    break
                result = await bench.one(concurrency, round_number)
                runs.append(result)
                if not args.quiet:
                    log(f"round {round_number}/{args.rounds} concurrency {concurrency:>3}: "
                        f"{result.deliveries_per_s or 0:7.0f} deliveries/s, deliverer "
                        f"{result.per_delivery_ms(result.deliverer_cpu_s) or 0:.3f} CPU ms/delivery "
                        f"({result.deliverer_cpu_pct or 0:.0f}% of a core), delivered {result.delivered}/"
                        f"{result.events}, preload {result.preload_s:.1f}s, start-up {result.startup_s or 0:.1f}s")
                if result.exited is not None:
                    raise SetupFailed("the deliverer exited during a run")
            if time.monotonic() >= deadline:
                log(f"--timeout {args.timeout:g}s reached in round {round_number}: stopping")
                break
        exit_code = EXIT_FAILED if not runs or any(run.failed for run in runs) else EXIT_OK
    except SetupFailed as error:
        log(f"{'run' if runs else 'setup'} failed: {error}")
        exit_code = EXIT_FAILED if runs else EXIT_SETUP
    finally:
        if bench is not None and bench.current is not None:  # interrupted during a run
            bench.current.terminate()
            await bench.current.wait_exit(STOP_TIMEOUT)
        await receiver.stop()
        if broker is not None:
            await broker.close()
        if loaded_config is not None:
            try:
                left = await asyncio.wait_for(delete_topology(loaded_config), CLEANUP_TIMEOUT)
                log(f"deleted the queues and exchanges of {prefix}")
            except Exception as error:
                log(f"could not delete the topology of {prefix}: {error!r}")
        if exit_code == EXIT_OK and not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"config and logs kept in {tmp}")

    if not runs:
        return exit_code
    report = summarize(args, runs, seed, orders, receiver, left)
    if args.json:
        print(table(report), file=sys.stderr)
        print(json.dumps(report))
    else:
        print(table(report))
    return exit_code


# --- command line ----------------------------------------------------------------------------------------


def _concurrencies(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected a comma-separated list of integers") from None
    if not values or len(set(values)) != len(values) or not all(1 <= value <= 1000 for value in values):
        raise argparse.ArgumentTypeError("expected distinct integers from 1 to 1000")
    return tuple(sorted(values))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/deliverer_throughput.py",
        description="Deliverer-only benchmark: deliveries/s and CPU per delivery at destination concurrency "
                    "1, 10 and 100 (see bench/README.md).")
    parser.add_argument("--events", type=int, default=5000, help="deliveries per run (default 5000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; each runs every concurrency once, shuffled (default 3)")
    parser.add_argument("--concurrency", type=_concurrencies, default=CONCURRENCIES,
                        help="comma-separated destination concurrencies (default 1,10,100)")
    parser.add_argument("--body-size", type=int, default=1024, help="JSON body size in bytes (default 1024)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the per-round order (default random)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="bound in seconds on the whole benchmark; runs not started by then are skipped "
                             "(default 1800)")
    add_amqp_argument(parser)
    add_output_arguments(parser, "the deliverer")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.timeout <= 0 or args.body_size < 64:
        parser.error("--rounds must be at least 1, --timeout positive, --body-size at least 64")
    if args.events < 4 * max(args.concurrency):
        parser.error(f"--events must be at least 4 x the largest concurrency ({4 * max(args.concurrency)}), so "
                     "the window holds deliveries at full concurrency")
    check_amqp_url(parser, args.amqp_url)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
