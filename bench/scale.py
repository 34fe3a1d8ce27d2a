"""Scale-out: delivered events/s end to end with 1, 2 and 3 deliverer processes, and with 1, 2 and 3 router
processes, in one run, on a private RabbitMQ node.

    .venv/bin/python bench/scale.py                          # 3 rounds x 6 shapes x 6,000 events, up to 9 min
    .venv/bin/python bench/scale.py --rounds 1 --events 1500 # a quick smoke run
    .venv/bin/python bench/scale.py --json > result.json     # JSON on stdout, the table on stderr
    make bench-scale

The shapes: (deliverers, routers) = (1, 1), (2, 1), (3, 1), (1, 2), (1, 3), each with --ingests ingest processes
(one by default), then (1, 1) with one ingest more, which says whether ingest limits the baseline. Each shape
is one run of bench/e2e.py's kind: its own topology prefix, processes, receiver and --events Stripe-signed 1 KiB
events at saturation (--concurrency in flight, spread over the ingests), then SIGTERM to the PIDs it started and
its queues deleted. A round runs every shape once, each round in a rotated order; the
figures are medians over the rounds.

The pipeline has --destinations destinations (6 by default), one route each, and event n carries the header
`x-bench-route: d0{n mod 6}` that sends it to exactly one of them: events are spread evenly by route. A
destination is delivered by one deliverer replica at a time (the holder of its lease), so deliverer processes add
throughput only across destinations, hence several. Every destination is unordered, so routers are competing
consumers of the router queue. Before the load starts, the harness waits until the deliverers' /status shows
every destination consumed and the counts per replica within one of each other (the leases spread).

Everything runs on this machine: on a 2-core machine, three deliverers, a router, an ingest, RabbitMQ and the
harness contend for two cores, and the ratios show that contention as much as the services' scaling; beside
each delivered/s ratio the harness prints the CPU-bound one (summed CPU per event, baseline over shape). Exit
status: 0 when every run delivered every accepted event; 1 otherwise; 2 when a set-up failed; 130 when
interrupted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

# Importing `common` (bench/common.py) puts the repository root on sys.path: it must come before `hookpipe`.
from common import (
    STOP_TIMEOUT,
    LoadResult,
    Presigned,
    ServiceProcess,
    SetupFailed,
    add_output_arguments,
    delete_topology,
    find_broker_pids,
    free_port,
    log,
    machine_cpu,
    own_cpu,
    read_process_stats,
    run_load,
    run_main,
)
from e2e import (
    DEFAULT_RECEIVER_SECRET,
    DEFAULT_SOURCE_SECRET,
    EXIT_LOST,
    EXIT_OK,
    EXIT_SETUP,
    Pipeline,
    QueueSampler,
    Receiver,
    bench_config,
    destination_names,
    destination_path,
)

#: Destinations the events are spread over, by default: 6 splits evenly over 1, 2 and 3 deliverers.
DEFAULT_DESTINATIONS = 6

#: Header whose value names the one destination an event goes to: each destination's route matches it exactly.
ROUTE_HEADER = "x-bench-route"

#: Seconds the deliverers get, once ready, to spread the destinations' leases between them before the load.
SPREAD_TIMEOUT = 30.0

#: A queue that held more than this share of a run's events at some sample is where that run's backlog built.
BACKLOG_SHARE = 0.05

#: Seconds between two looks at the deliverers' /status while their leases spread.
STATUS_POLL = 0.25


@dataclass(frozen=True)
class Shape:
    """How many processes of each service one run starts."""

    deliverers: int
    routers: int
    ingests: int

    @property
    def label(self) -> str:
        return f"{self.deliverers} dlv {self.routers} rtr {self.ingests} ing"

    def count(self, service: str) -> int:
        return {"ingest": self.ingests, "router": self.routers, "deliverer": self.deliverers}[service]


def shapes(args: argparse.Namespace) -> list[Shape]:
    """The baseline (1, 1), then 2..--replicas deliverers, then 2..--replicas routers, all with --ingests ingests;
    then, unless --no-ingest-check, the baseline with one ingest more: whether ingest limits the baseline."""
    replicas, ingests = args.replicas, args.ingests
    check = [Shape(1, 1, ingests + 1)] if args.ingest_check else []
    return [Shape(1, 1, ingests), *(Shape(n, 1, ingests) for n in range(2, replicas + 1)),
            *(Shape(1, n, ingests) for n in range(2, replicas + 1)), *check]


# --- routing: event n to destination n mod D ---------------------------------------------------------------


def destination_of(event_id: str, names: list[str]) -> str:
    """The destination event `{prefix}{n:08d}` goes to (run_load's and Presigned's numbering)."""
    return names[int(event_id[-8:]) % len(names)]


def add_route_headers(signed: Presigned, names: list[str]) -> None:
    for event_id, headers in signed.by_id.items():
        headers[ROUTE_HEADER] = destination_of(event_id, names)


def scale_config(prefix: str, broker_url: str, receiver_base: str, args: argparse.Namespace) -> dict[str, Any]:
    """bench/e2e.py's config with Stripe signing, and one route per destination, chosen by ROUTE_HEADER."""
    e2e_args = argparse.Namespace(
        sign="stripe", source_secret=DEFAULT_SOURCE_SECRET, id_header="x-bench-id", body_size=args.body_size,
        archive=False, log_level=args.log_level, destinations=args.destinations,
        receiver_secret=DEFAULT_RECEIVER_SECRET, destination_concurrency=args.destination_concurrency)
    config = bench_config(prefix, broker_url, receiver_base, e2e_args)
    config["routes"] = [{"name": f"to-{name}", "sources": ["bench"], "filter": {"headers": {ROUTE_HEADER: [name]}},
                         "to": [name]} for name in config["destinations"]]
    return config


# --- the pipeline of one shape -----------------------------------------------------------------------------


class ScaledPipeline(Pipeline):
    """ingest, router and deliverer processes in the numbers of `shape`, under one topology prefix.

    Replicas share the config but each has its own ops port (and ingest its own listen port), so each process
    gets its own config file; logs are `{service}-{n}.log` in the temp dir."""

    label = "hookpipe"

    def __init__(self, args: argparse.Namespace, shape: Shape, broker_url: str) -> None:
        super().__init__("")
        self.args = args
        self.shape = shape
        self.broker_url = broker_url
        self.names = destination_names(args.destinations)
        self.ingest_urls: list[str] = []
        self.loaded_config: Any = None

    def of(self, service: str) -> list[ServiceProcess]:
        return [process for process in self.services if process.service.startswith(f"{service}-")]

    async def start(self, receiver_base: str, deadline: float) -> None:
        import yaml

        from hookpipe.amqp.topology import Names
        from hookpipe.config import ConfigError, load_config

        self.tmp = tmp = Path(tempfile.mkdtemp(prefix="hookpipe-bench-scale-"))
        prefix = f"bench-{secrets.token_hex(5)}"
        config = scale_config(prefix, self.broker_url, receiver_base, self.args)
        for service in ("ingest", "router", "deliverer"):
            for number in range(1, self.shape.count(service) + 1):
                own = {**config, service: {**config[service], "ops": f"127.0.0.1:{free_port()}"}}
                if service == "ingest":
                    own["ingest"]["listen"] = f"127.0.0.1:{free_port()}"
                    self.ingest_urls.append(f"http://{own['ingest']['listen']}/ingest/bench")
                path = tmp / f"{service}-{number}.yaml"
                path.write_text(yaml.safe_dump(own, sort_keys=False))
                path.chmod(0o600)
                self.services.append(ServiceProcess(f"{service}-{number}", path, own[service]["ops"], tmp,
                                                    command=["-m", service, "--config", str(path)]))
        try:
            self.loaded_config = load_config(tmp / "ingest-1.yaml", environ={}).config
        except ConfigError as error:
            raise SetupFailed(f"the generated config is refused: {error}") from None
        self.ingest_url = self.ingest_urls[0]
        self.paths = [destination_path(self.names, name) for name in self.names]
        topology = Names(prefix)
        self.sampled_queues = {"router": topology.router_queue,
                               **{name: topology.deliver_queue(name) for name in self.names}}
        log(f"{self.shape.label}: topology prefix {prefix}; configs and logs in {tmp}")
        await self._start_processes(deadline)

    async def wait_spread(self, session: aiohttp.ClientSession) -> tuple[list[int], bool]:
        """Wait (up to SPREAD_TIMEOUT) until every destination is consumed by some deliverer and the counts per
        deliverer are within one of each other; returns the destinations each deliverer consumes, and whether
        they spread so."""
        deadline = time.monotonic() + SPREAD_TIMEOUT
        while True:
            consumed = [await consuming(session, process.ops) for process in self.of("deliverer")]
            counts = [len(names) for names in consumed]
            spread = set().union(*consumed) >= set(self.names) and max(counts) - min(counts) <= 1
            if spread or time.monotonic() >= deadline:
                if not spread:
                    log(f"{self.shape.label}: destinations not spread within {SPREAD_TIMEOUT:.0f}s: {counts}")
                return counts, spread
            await asyncio.sleep(STATUS_POLL)

    async def cleanup(self) -> dict[str, int]:
        if self.loaded_config is None:
            return {}
        return await delete_topology(self.loaded_config)


async def consuming(session: aiohttp.ClientSession, ops: str) -> set[str]:
    """The destinations a deliverer's /status says it consumes (none when it does not answer)."""
    try:
        async with session.get(f"http://{ops}/status", timeout=aiohttp.ClientTimeout(total=5)) as response:
            status = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return set()
    return {name for name, state in status.get("destinations", {}).items() if state.get("consuming")}


async def counter_total(session: aiohttp.ClientSession, ops: str, metric: str, **labels: str) -> float:
    """A Prometheus counter of one process summed over its label sets that have `labels`."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        async with session.get(f"http://{ops}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return 0.0
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()))


# --- one run -----------------------------------------------------------------------------------------------


@dataclass
class Window:
    """CPU seconds at the start of the load, per process started, RabbitMQ PID, and the harness."""

    broker: dict[int, float]
    harness: float
    machine: tuple[float, float, float]


def open_window(pipeline: ScaledPipeline, broker_pids: list[int]) -> Window:
    for process in pipeline.services:
        process.at_load_start = process.snapshot()
    broker = {pid: stats.cpu_s for pid in broker_pids if (stats := read_process_stats(pid)) is not None}
    return Window(broker, own_cpu(), machine_cpu())


def close_window(pipeline: ScaledPipeline, window: Window, seconds: float) -> dict[str, Any]:
    """CPU seconds per service (its replicas summed), per replica, RabbitMQ's and the harness's, over the load."""
    for process in pipeline.services:
        process.at_load_end = process.snapshot()
    per_process = {}
    for process in pipeline.services:
        start, end = process.at_load_start, process.at_load_end
        if start is not None and end is not None:
            per_process[process.service] = round(end.cpu_s - start.cpu_s, 3)
    services = {service: round(sum(cpu for name, cpu in per_process.items() if name.startswith(f"{service}-")), 3)
                for service in ("ingest", "router", "deliverer")}
    broker = sum(stats.cpu_s - window.broker[pid] for pid in window.broker
                 if (stats := read_process_stats(pid)) is not None)
    harness = own_cpu() - window.harness
    busy, steal, total = (a - b for a, b in zip(machine_cpu(), window.machine, strict=True))
    other = max(0.0, busy - sum(per_process.values()) - broker - harness)  # CPU of processes not ours
    return {"services": services, "processes": per_process, "rabbitmq": round(broker, 3),
            "harness": round(harness, 3), "seconds": round(seconds, 3),
            "machine_busy_pct": round(100 * busy / total, 1) if total > 0 else None,
            "other_processes_pct": round(100 * other / total, 1) if total > 0 else None,
            "steal_pct": round(100 * steal / total, 1) if total > 0 else None}


@dataclass
class Share:
    """One ingest's part of the load: its URL, id prefix, events, requests in flight, and their signed headers."""

    url: str
    prefix: str
    events: int
    concurrency: int
    signed: Presigned


async def sign_shares(pipeline: ScaledPipeline, args: argparse.Namespace, run_prefix: str) -> list[Share]:
    """--events and --concurrency split between the ingests, each request signed (and routed) before the load."""
    ingests = len(pipeline.ingest_urls)
    shares = []
    for n, url in enumerate(pipeline.ingest_urls):
        events = args.events // ingests + (n < args.events % ingests)
        concurrency = max(1, args.concurrency // ingests + (n < args.concurrency % ingests))
        signed = await asyncio.to_thread(Presigned, "stripe", DEFAULT_SOURCE_SECRET, f"{run_prefix}{n}-", events,
                                         args.body_size)
        add_route_headers(signed, pipeline.names)
        shares.append(Share(url, f"{run_prefix}{n}-", events, concurrency, signed))
    return shares


async def send(shares: list[Share], args: argparse.Namespace, receiver: Receiver, deadline: float) -> LoadResult:
    """Every share's load at once (one load generator per ingest, in this process); their results merged."""
    loads = await asyncio.gather(*(
        run_load(share.url, share.events, share.concurrency, args.body_size, share.prefix, share.signed, deadline,
                 lambda: len(receiver.arrivals), args.quiet or n > 0)
        for n, share in enumerate(shares)))
    merged = LoadResult(first_sent=min(load.first_sent for load in loads),
                        last_answer=max(load.last_answer for load in loads))
    for load in loads:
        merged.sent_at.update(load.sent_at)
        merged.ingest_latency += load.ingest_latency
        merged.accepted |= load.accepted
        merged.sent += load.sent
        for status, count in load.rejected.items():
            merged.rejected[status] = merged.rejected.get(status, 0) + count
    return merged


async def wait_deliveries(pipeline: ScaledPipeline, receiver: Receiver, expected: set[tuple[str, str]],
                          deadline: float) -> list[str]:
    """Until every expected delivery arrived, the deadline, or a started process exited; returns those exited."""
    done = receiver.wait_for(expected)
    while not done.is_set() and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), min(0.5, max(0.0, deadline - time.monotonic())))
        dead = [process.service for process in pipeline.services if not process.alive()]
        if dead and not done.is_set():
            return dead
    return []


async def replica_work(pipeline: ScaledPipeline) -> dict[str, list[float]]:
    """What each replica did, from its own /metrics: deliveries per deliverer, events routed per router, requests
    answered per ingest."""
    async with aiohttp.ClientSession(trust_env=False) as session:
        delivered = [await counter_total(session, p.ops, "hookpipe_delivery_attempts_total", outcome="delivered")
                     for p in pipeline.of("deliverer")]
        routed = [await counter_total(session, p.ops, "hookpipe_router_events_total", outcome="routed")
                  for p in pipeline.of("router")]
        answered = [await counter_total(session, p.ops, "hookpipe_ingest_requests_total")
                    for p in pipeline.of("ingest")]
    return {"deliverer": delivered, "router": routed, "ingest": answered}


async def run_shape(args: argparse.Namespace, shape: Shape, broker_url: str, broker_pids: list[int]
                    ) -> dict[str, Any]:
    """One bounded run of one shape: start, spread, send, wait, read the CPU, stop by PID, delete the queues."""
    deadline = time.monotonic() + args.timeout
    run_prefix = f"s{secrets.token_hex(4)}-"
    receiver = Receiver(run_prefix, None)
    await receiver.start(0)
    pipeline = ScaledPipeline(args, shape, broker_url)
    sampler: QueueSampler | None = None
    result: dict[str, Any] = {"shape": shape.label, "deliverers": shape.deliverers, "routers": shape.routers,
                              "ingests": shape.ingests, "exit_status": EXIT_SETUP}
    try:
        await pipeline.start(f"http://127.0.0.1:{receiver.port}", deadline)
        async with aiohttp.ClientSession(trust_env=False) as session:
            result["destinations_per_deliverer"], result["spread"] = await pipeline.wait_spread(session)
        shares = await sign_shares(pipeline, args, run_prefix)
        sampler = QueueSampler(broker_url, pipeline.sampled_queues)
        sampler.start()
        window = open_window(pipeline, broker_pids)
        load = await send(shares, args, receiver, deadline)
        expected = {(destination_path(pipeline.names, destination_of(event_id, pipeline.names)), event_id)
                    for event_id in load.accepted}
        result["services_exited"] = await wait_deliveries(pipeline, receiver, expected, deadline)
        end = time.perf_counter()
        receiver.cutoff = end
        result["cpu_s"] = close_window(pipeline, window, end - load.first_sent)
        result["queue_peak_ready"] = await sampler.stop()
        result["work_per_replica"] = await replica_work(pipeline)
        result.update(figures(load, receiver, expected, args.events))
    finally:
        if sampler is not None:
            await sampler.stop()
        await stop(pipeline, receiver, result.get("exit_status") == EXIT_OK and not args.keep_logs)
    return result


def figures(load: LoadResult, receiver: Receiver, expected: set[tuple[str, str]], events: int) -> dict[str, Any]:
    arrivals = [at for key, at in receiver.arrivals.items() if key in expected]
    window = max(max(arrivals, default=load.first_sent) - load.first_sent, 1e-9)
    accept_window = max(load.last_answer - load.first_sent, 1e-9)
    lost = len(expected) - len(arrivals)
    return {"events": events, "accepted": len(load.accepted), "rejected_by_status": load.rejected,
            "delivered": len(arrivals), "lost": lost, "duplicates": receiver.duplicates,
            "accepted_per_s": round(len(load.accepted) / accept_window, 1),
            "delivered_per_s": round(len(arrivals) / window, 1),
            "exit_status": EXIT_OK if load.accepted and lost == 0 else EXIT_LOST}


async def stop(pipeline: ScaledPipeline, receiver: Receiver, remove_logs: bool) -> None:
    """SIGTERM to each PID this run started (SIGKILL after STOP_TIMEOUT), then its queues and its temp dir."""
    for process in pipeline.services:
        process.terminate()
    codes = await asyncio.gather(*(process.wait_exit(STOP_TIMEOUT) for process in pipeline.services))
    for process, code in zip(pipeline.services, codes, strict=True):
        if code not in (0, None):
            log(f"{process.service} exited with status {code}; log: {process.log_path}")
    await receiver.stop()
    try:
        await pipeline.cleanup()
    except Exception as error:
        log(f"could not delete the queues of {pipeline.shape.label}: {error!r}")
    if pipeline.tmp is not None:
        if remove_logs:
            shutil.rmtree(pipeline.tmp, ignore_errors=True)
        else:
            log(f"logs kept in {pipeline.tmp}")


# --- the figures -------------------------------------------------------------------------------------------


def per_event_ms(run: dict[str, Any]) -> dict[str, float]:
    """CPU ms per delivered event of each service (replicas summed), RabbitMQ, the harness, and their sum."""
    delivered, cpu = run["delivered"], run["cpu_s"]
    parts = {**cpu["services"], "rabbitmq": cpu["rabbitmq"], "harness": cpu["harness"]}
    ms = {name: 1000 * seconds / delivered for name, seconds in parts.items()} if delivered else {}
    if ms:
        ms["total"] = sum(ms.values())
    return ms


def summarize(runs: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per shape, medians over its rounds: delivered/s, CPU ms per event, the machine's busy share, backlogs."""
    rows = []
    cpus = os.cpu_count() or 1
    for shape in shapes(args):
        mine = [run for run in runs if run["shape"] == shape.label and "delivered_per_s" in run]
        if not mine:
            continue
        ms = [per_event_ms(run) for run in mine]
        shown = next((run for run in mine if not run.get("spread", True)), mine[-1])
        cpu = {name: round(statistics.median(m[name] for m in ms if name in m), 3) for name in ms[0]}
        rates = [run["delivered_per_s"] for run in mine]
        peaks = [run["queue_peak_ready"] for run in mine]
        rows.append({
            "shape": shape.label, "deliverers": shape.deliverers, "routers": shape.routers, "ingests": shape.ingests,
            "delivered_per_s": round(statistics.median(rates), 1), "min": min(rates), "max": max(rates),
            "cpu_ms_per_event": cpu,
            # The rate every process's summed CPU per event allows on this machine's cores, all busy.
            "cpu_ceiling_per_s": round(cpus * 1000 / cpu["total"], 1) if cpu.get("total") else None,
            "ingest_core_pct": round(statistics.median(
                100 * run["cpu_s"]["services"]["ingest"] / run["cpu_s"]["seconds"] / shape.ingests for run in mine), 1),
            "machine_busy_pct": statistics.median(run["cpu_s"]["machine_busy_pct"] or 0 for run in mine),
            "other_processes_pct": max(run["cpu_s"]["other_processes_pct"] or 0 for run in mine),
            "router_queue_peak": max(peak.get("router", 0) for peak in peaks),
            "deliver_queue_peak": max(max((v for k, v in peak.items() if k != "router"), default=0) for peak in peaks),
            # A round whose leases did not spread is shown if there is one: it ran on fewer deliverers.
            "destinations_per_deliverer": shown.get("destinations_per_deliverer"),
            "work_per_replica": shown.get("work_per_replica"),
            "rounds_not_spread": sum(not run.get("spread", True) for run in mine),
            "rounds": len(mine),
        })
    base = next((row for row in rows if (row["deliverers"], row["routers"], row["ingests"]) == (1, 1, args.ingests)),
                None)
    for row in rows:
        row["ratio_vs_1"] = round(row["delivered_per_s"] / base["delivered_per_s"], 2) if base else None
        # The ratio if every run were CPU-bound on a machine of its own: the baseline's summed CPU per event over
        # this shape's. Steady where the rates are not (other work on the machine).
        total = row["cpu_ms_per_event"].get("total")
        row["cpu_ratio_vs_1"] = round(base["cpu_ms_per_event"]["total"] / total, 2) if base and total else None
        row["backlog"] = backlog(row, args.events, args.destinations)
    return rows


def backlog(row: dict[str, Any], events: int, destinations: int) -> str:
    """Where the events waited: before the routers, before the deliverers (a destination's queue held over
    its share), or nowhere (ingest set the pace)."""
    if row["router_queue_peak"] > BACKLOG_SHARE * events:
        return "router queue"
    if row["deliver_queue_peak"] > BACKLOG_SHARE * events / destinations:
        return "deliver queues"
    return "none"


def table(rows: list[dict[str, Any]], args: argparse.Namespace, seconds: float) -> str:
    cpus = os.cpu_count()
    lines = [
        f"scale-out on a private RabbitMQ node: {args.destinations} destinations, one route each, event n to "
        f"destination n mod {args.destinations} (spread evenly), all unordered. A destination is delivered by one",
        "deliverer at a time, so deliverers add throughput across destinations; routers are competing consumers.",
        f"{args.events} Stripe-signed {args.body_size} B events per run at {args.concurrency} in flight, "
        f"{args.ingests} ingest process(es); median of {args.rounds} round(s); CPU in ms per delivered event.",
        "",
        heading(),
    ]
    for row in rows:
        lines.append(row_line(row))
    by_shape = {(row["deliverers"], row["routers"], row["ingests"]): row for row in rows}
    ingests = args.ingests
    for kind, key in (("deliverers", lambda n: (n, 1, ingests)), ("routers", lambda n: (1, n, ingests))):
        ratios = [f"{n} vs 1 = {by_shape[key(n)]['ratio_vs_1']:.2f} ({by_shape[key(n)]['cpu_ratio_vs_1']:.2f} "
                  "CPU-bound)" for n in range(2, args.replicas + 1) if key(n) in by_shape]
        lines.append(f"delivered/s with more {kind}: {', '.join(ratios) or '-'}")
    if (1, 1, ingests + 1) in by_shape:
        row = by_shape[(1, 1, ingests + 1)]
        lines.append(f"delivered/s with {ingests + 1} ingests vs {ingests}: {row['ratio_vs_1']:.2f} "
                     f"({row['cpu_ratio_vs_1']:.2f} CPU-bound), one deliverer, one router")
    worst = max((row["other_processes_pct"] for row in rows), default=0)
    lines += [
        "",
        "dlvr = deliverer, rabbit = RabbitMQ, harn = the harness (load generator and receiver), each service's "
        "replicas summed;",
        f"ceil/s = {cpus} cores x 1000 / sum: the rate this machine allows with every core busy; cpu vs 1 = the "
        "baseline's sum / this sum,",
        "the ratio if every run were CPU-bound on a machine of its own (CPU-bound above); ingest = one ingest's "
        "share of a core;",
        "busy, other = the machine's CPUs busy, and busy with processes this run did not start (worst round);",
        f"backlog = the queue that held over {BACKLOG_SHARE:.0%} of the events (none: every stage kept up with "
        "ingest);",
        "dest/dlv = destinations each deliverer consumed when the load started (! = not spread within "
        f"{SPREAD_TIMEOUT:.0f} s in some round, that round shown);",
        "work per replica = deliveries per deliverer, events routed per router, or requests answered per ingest.",
        f"This machine has {cpus} CPU(s): the replicas, ingest, RabbitMQ and the harness all share them, so more "
        "processes split the same cores;",
        "the ratios show that contention as much as the services' own scaling.",
    ]
    if worst >= 10:
        lines += [f"warning: processes this run did not start took up to {worst:.0f}% of the machine: figures skewed."
                  " More processes also win a larger share",
                  "of the CPU from that other work, so the delivered/s ratios follow that share as much as the "
                  "scaling; the CPU-bound ratios are steadier."]
    lines.append(f"whole run {seconds:.0f} s")
    return "\n".join(lines)


#: The table's columns after the config: heading and width.
COLUMNS = (("dlv/s", 6), ("(min-max)", 12), ("vs 1", 6), ("ingest", 7), ("router", 7), ("dlvr", 6), ("rabbit", 7),
           ("harn", 6), ("sum", 6), ("ceil/s", 7), ("cpu vs 1", 9), ("ingest", 7), ("busy", 5), ("other", 6))


def heading() -> str:
    return (f"{'config':<18}" + "".join(f"{name:>{width}}" for name, width in COLUMNS)
            + f"  {'backlog':<15}{'dest/dlv':<9}work per replica")


def row_line(row: dict[str, Any]) -> str:
    cpu = row["cpu_ms_per_event"]
    cells = [f"{row['delivered_per_s']:.0f}", f"({row['min']:.0f}-{row['max']:.0f})", f"{row['ratio_vs_1'] or 0:.2f}",
             *(f"{cpu.get(key, 0):.2f}" for key in ("ingest", "router", "deliverer", "rabbitmq", "harness", "total")),
             f"{row['cpu_ceiling_per_s'] or 0:.0f}", f"{row['cpu_ratio_vs_1'] or 0:.2f}",
             f"{row['ingest_core_pct']:.0f}%", f"{row['machine_busy_pct']:.0f}%", f"{row['other_processes_pct']:.0f}%"]
    work = row["work_per_replica"] or {}
    kind = ("router" if row["routers"] > 1 else
            "deliverer" if row["deliverers"] > 1 or row["ingests"] == 1 else "ingest")
    split = "/".join(f"{v:.0f}" for v in work.get(kind, []))
    spread = "/".join(str(n) for n in row["destinations_per_deliverer"] or [])
    spread += "!" if row["rounds_not_spread"] else ""
    return (f"{row['shape']:<18}" + "".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True))
            + f"  {row['backlog']:<15}{spread:<9}{split}")


# --- the run -----------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    from tests.support.rabbitmq_node import NodeUnavailable, start_private_rabbitmq

    started = time.monotonic()
    load_before = os.getloadavg()
    try:
        node = await asyncio.to_thread(start_private_rabbitmq, "hp-bench-scale", ())
    except NodeUnavailable as error:
        log(f"no private RabbitMQ node: {error}")
        return EXIT_SETUP
    runs: list[dict[str, Any]] = []
    try:
        broker_pids = find_broker_pids(node.amqp_port)
        log(f"private RabbitMQ node on {node.amqp_port} (pid {', '.join(map(str, broker_pids)) or '?'})")
        order = shapes(args)
        for number in range(args.rounds):
            turn = order[number % len(order):] + order[:number % len(order)]  # rotated: drift touches every shape
            for shape in turn:
                result = await run_shape(args, shape, node.amqp_url, broker_pids)
                result["round"] = number + 1
                runs.append(result)
                log(f"round {number + 1}, {shape.label}: {result.get('delivered_per_s', '-')} delivered/s, "
                    f"{result.get('lost', '-')} lost")
    except SetupFailed as error:
        log(f"setup failed: {error}")
        return EXIT_SETUP
    finally:
        await asyncio.to_thread(node.stop)
    rows = summarize(runs, args)
    text = table(rows, args, time.monotonic() - started)
    report = {"shapes": rows, "runs": runs, "cpus": os.cpu_count(), "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "seconds": round(time.monotonic() - started, 1)}
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(report))
    else:
        print(text)
    return EXIT_OK if all(run["exit_status"] == EXIT_OK for run in runs) else EXIT_LOST


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/scale.py", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=6000, help="events per run (default 6000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each running every shape once (default 3)")
    parser.add_argument("--replicas", type=int, default=3,
                        help="the most deliverers and routers a shape has (default 3: shapes 1, 2, 3)")
    parser.add_argument("--ingests", type=int, default=1, help="ingest processes in every shape (default 1)")
    parser.add_argument("--no-ingest-check", dest="ingest_check", action="store_false",
                        help="skip the baseline with one ingest more")
    parser.add_argument("--destinations", type=int, default=DEFAULT_DESTINATIONS,
                        help=f"destinations the events are spread over (default {DEFAULT_DESTINATIONS})")
    parser.add_argument("--destination-concurrency", type=int, default=50,
                        help="each destination's concurrency (default 50)")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="ingest requests in flight, spread over the ingests (default 50)")
    parser.add_argument("--body-size", type=int, default=1024, help="JSON body size in bytes (default 1024)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="bound in seconds on each run's start-up, sending and waiting (default 120)")
    add_output_arguments(parser, "the services")
    args = parser.parse_args(argv)
    if min(args.events, args.rounds, args.replicas, args.ingests, args.concurrency) < 1 or args.timeout <= 0:
        parser.error("--events, --rounds, --replicas, --ingests and --concurrency must be at least 1, --timeout "
                     "positive")
    if args.destinations < args.replicas:
        parser.error("--destinations must be at least --replicas: a destination is delivered by one deliverer")
    if args.concurrency < args.ingests:
        parser.error("--concurrency must be at least --ingests")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGINT/SIGTERM cancel the run, so the finally blocks still stop the processes and the node.
    return run_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
