"""End-to-end load harness: N events at concurrency C through ingest -> RabbitMQ -> router -> deliverer -> receiver.

    .venv/bin/python bench/e2e.py --start --events 20000 --concurrency 50
    .venv/bin/python bench/e2e.py --ingest-url http://127.0.0.1:8080/ingest/demo --id-header x-demo-id \\
        --receiver-port 9000

With `--start` the harness writes a temporary config (its own topology prefix `bench-<hex>`, free ports on
127.0.0.1), starts the three services as separate processes, waits for their `/readyz`, runs the load, reads
each process's CPU time and peak RSS, stops them with SIGTERM (by PID) and deletes the queues and exchanges of
its prefix. Without `--start` it drives a pipeline that is already running, whose destination must point at the
receiver this harness runs on `--receiver-port`.

The receiver runs in this process: it records when each event id first arrives (header `webhook-id`), answers
200 and counts duplicates. Everything it talks to is on 127.0.0.1. See bench/README.md for what each figure
means. Exit status: 0 when every accepted event was delivered, 1 when some were lost (accepted but not delivered
before `--timeout`) or none was accepted, 2 when the pipeline could not be set up, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hmac
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

# Importing `common` (bench/common.py) puts the repository root on sys.path: it must come before `deliverer`.
from common import (
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    HeaderSource,
    LoadResult,
    Presigned,
    ServiceProcess,
    SetupFailed,
    check_amqp_url,
    check_load_arguments,
    declare_quorum_queues,
    delete_queues,
    delete_topology,
    find_broker_pids,
    free_port,
    is_loopback,
    latency_ms,
    log,
    machine_cpu,
    own_cpu,
    read_process_stats,
    run_load,
    run_main,
)

from deliverer.signing import secret_key, standard_webhooks_signature
from router.service import PREFETCH as ROUTER_PREFETCH

SERVICES = ("ingest", "router", "deliverer")

#: Standard Webhooks secret of the destination the harness configures with --start (base64 of 32 bytes).
DEFAULT_RECEIVER_SECRET = "whsec_" + base64.b64encode(b"hookpipe-bench-receiver-secret!!").decode()

#: Source secret for --sign bearer / standard-webhooks with --start.
DEFAULT_SOURCE_SECRET = "whsec_" + base64.b64encode(b"hookpipe-bench-source-secret-32b").decode()

EXIT_OK, EXIT_LOST, EXIT_SETUP = 0, 1, 2


# --- the receiver ----------------------------------------------------------------------------------------


def standard_webhooks_valid(key: bytes, headers: Any, body: bytes) -> bool:
    msg_id, timestamp, signatures = (headers.get(h) for h in ("webhook-id", "webhook-timestamp",
                                                             "webhook-signature"))
    if not (msg_id and timestamp and signatures and timestamp.isdigit()):
        return False
    expected = standard_webhooks_signature([key], msg_id, int(timestamp), body).encode()
    return any(hmac.compare_digest(signature.encode(), expected) for signature in signatures.split())


class Receiver:
    """POST anything on 127.0.0.1:port: records the first arrival (perf_counter) of each event id at each
    destination.

    A delivery is keyed by (destination, `webhook-id`), the destination being the request's path when
    `by_path` (each configured destination posts to its own path) and "" otherwise (a pipeline the harness did
    not configure may post anywhere)."""

    def __init__(self, run_prefix: str, verify_key: bytes | None, *, by_path: bool = True) -> None:
        self.run_prefix = run_prefix
        self.verify_key = verify_key
        self.by_path = by_path
        self.arrivals: dict[tuple[str, str], float] = {}
        self.requests = 0
        self.duplicates = 0
        self.foreign = 0  # ids this run never sent (an earlier run's backlog, another client)
        self.bad_signatures = 0
        self.late = 0  # arrivals after the run ended (during shutdown): neither delivered nor duplicates
        self.cutoff: float | None = None
        self.expected: set[tuple[str, str]] | None = None  # deliveries awaited; `done` fires once all arrived
        self.done = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, port: int) -> None:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        self.requests += 1
        event_id = request.headers.get("webhook-id", "")
        if self.verify_key is not None and not standard_webhooks_valid(self.verify_key, request.headers, body):
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        key = (request.path if self.by_path else "", event_id)
        if self.cutoff is not None and now > self.cutoff:
            self.late += 1
        elif not event_id.startswith(self.run_prefix):
            self.foreign += 1
        elif key in self.arrivals:
            self.duplicates += 1
        else:
            self.arrivals[key] = now
            if self.expected is not None and key in self.expected:
                self.expected.discard(key)
                if not self.expected:
                    self.done.set()
        return web.Response(status=200, text="ok")

    def wait_for(self, deliveries: set[tuple[str, str]]) -> asyncio.Event:
        """`done` is set once every (destination, id) of `deliveries` has arrived (at once if all have)."""
        self.expected = {key for key in deliveries if key not in self.arrivals}
        if not self.expected:
            self.done.set()
        return self.done


# --- the pipeline (--start) ------------------------------------------------------------------------------


def destination_names(count: int) -> list[str]:
    """`receiver` for one destination (the name earlier runs used), `d00`... for a fan-out."""
    return ["receiver"] if count == 1 else [f"d{n:02d}" for n in range(count)]


def bench_config(prefix: str, broker_url: str, receiver_base: str, args: argparse.Namespace) -> dict[str, Any]:
    """The pipeline the harness runs with --start: source `bench` -> route `bench` -> --destinations
    destinations, each posting to its own path of the receiver (`/webhooks` for the only one, else `/{name}`)."""
    if args.sign == "none":
        source: dict[str, Any] = {"verify": {"scheme": "none"}, "unverified": True,
                                  "id": {"header": args.id_header}}
    elif args.sign == "bearer":
        source = {"verify": {"scheme": "bearer", "secrets": [args.source_secret]},
                  "id": {"header": args.id_header}}
    elif args.sign == "stripe":  # id and type come from the body, as Stripe's do
        source = {"verify": {"scheme": "stripe", "secrets": [args.source_secret]}}
    else:
        source = {"verify": {"scheme": "standard-webhooks", "secrets": [args.source_secret]},
                  "id": {"header": "webhook-id"}}
    source["max_body"] = max(args.body_size * 2, 64 * 1024)
    names = destination_names(args.destinations)
    return {
        "broker": {"url": broker_url, "prefix": prefix, "heartbeat": "10s"},
        "ingest": {"listen": f"127.0.0.1:{free_port()}", "ops": f"127.0.0.1:{free_port()}"},
        "router": {"ops": f"127.0.0.1:{free_port()}"},
        "deliverer": {"ops": f"127.0.0.1:{free_port()}"},
        "archive": {"max_age": "1h", "max_bytes": "2GiB"} if args.archive else "off",
        "delivery_log": {"max_age": "1h", "max_bytes": "2GiB"} if args.delivery_log else "off",
        "log": {"level": args.log_level},
        "sources": {"bench": source},
        "destinations": {
            name: {
                "url": f"{receiver_base}{destination_path(names, name)}",
                "timeout": "30s",
                "signing": {"scheme": "standard-webhooks", "secrets": [args.receiver_secret]},
                "concurrency": args.destination_concurrency,
                "allow_private_network": ["127.0.0.0/8"],
            }
            for name in names
        },
        "routes": [{"name": "bench", "sources": ["bench"], "to": names}],
    }


def destination_path(names: list[str], name: str) -> str:
    return "/webhooks" if len(names) == 1 else f"/{name}"


class Pipeline:
    """What a run drives: the processes it started, where to send, where deliveries arrive, how to clean up.

    This base class is a pipeline already running (no --start): nothing started, nothing to delete."""

    label = "external"

    def __init__(self, ingest_url: str) -> None:
        self.ingest_url = ingest_url
        self.services: list[ServiceProcess] = []
        self.paths = [""]  # the receiver does not tell destinations apart
        self.sampled_queues: dict[str, str] = {}
        self.tmp: Path | None = None

    async def start(self, receiver_base: str, deadline: float) -> None:
        pass

    async def stage_means(self, session: aiohttp.ClientSession) -> dict[str, float]:
        return {}

    async def cleanup(self) -> dict[str, int]:
        return {}

    async def _start_processes(self, deadline: float) -> None:
        for process in self.services:
            process.start()
        log("started " + ", ".join(f"{s.service} (pid {s.pid})" for s in self.services))
        ready_by = min(deadline, time.monotonic() + STARTUP_TIMEOUT)
        async with aiohttp.ClientSession(trust_env=False) as session:
            for process in self.services:  # started together, so waiting in turn costs no extra time
                await process.wait_ready(session, ready_by)
        await asyncio.sleep(0.5)
        for process in self.services:  # a /readyz answered by whatever else holds the port proves nothing
            if not process.alive():
                raise SetupFailed(f"{process.service} exited after its ops port answered; its log ends "
                                  f"with:\n{process.log_tail()}")
        log(f"{self.label}: all {len(self.services)} processes ready")


class HookpipePipeline(Pipeline):
    """ingest, router and deliverer with a temporary config under their own topology prefix."""

    label = "hookpipe"

    def __init__(self, args: argparse.Namespace, services: tuple[str, ...] = SERVICES) -> None:
        super().__init__("")
        self.args = args
        self.service_names = services  # ("ingest",): ingest alone, its events stay in the router queue
        self.loaded_config: Any = None

    async def start(self, receiver_base: str, deadline: float) -> None:
        import yaml

        from hookpipe.amqp.topology import Names
        from hookpipe.config import ConfigError, load_config

        self.tmp = Path(tempfile.mkdtemp(prefix="hookpipe-bench-"))
        prefix = f"bench-{secrets.token_hex(5)}"
        config = bench_config(prefix, self.args.amqp_url, receiver_base, self.args)
        config_path = self.tmp / "pipeline.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        config_path.chmod(0o600)
        try:
            self.loaded_config = load_config(config_path, environ={}).config
        except ConfigError as error:
            raise SetupFailed(f"the generated config is refused: {error}") from None
        self.ingest_url = f"http://{config['ingest']['listen']}/ingest/bench"
        names = list(config["destinations"])
        self.paths = [destination_path(names, name) for name in names]
        topology = Names(prefix)
        self.sampled_queues = {"router": topology.router_queue, "deliver": topology.deliver_queue(names[0])}
        log(f"topology prefix {prefix}; config and logs in {self.tmp}")
        self.services = [ServiceProcess(service, config_path, config[service]["ops"], self.tmp)
                         for service in self.service_names]
        await self._start_processes(deadline)

    async def stage_means(self, session: aiohttp.ClientSession) -> dict[str, float]:
        means = await scrape_means(session, self.services[0].ops, {
            "ingest_publish_confirm": "hookpipe_ingest_publish_seconds"})
        if len(self.services) < len(SERVICES):
            return means
        means.update(await scrape_means(session, self.services[2].ops, {
            "deliver_http_attempt": "hookpipe_delivery_attempt_seconds",
            "received_to_delivered": "hookpipe_end_to_end_seconds"}))
        return means

    async def cleanup(self) -> dict[str, int]:
        if self.loaded_config is None:
            return {}
        left = await delete_topology(self.loaded_config)
        log(f"deleted the queues and exchanges of {self.loaded_config.broker.prefix}")
        return left


class BarePipeline(Pipeline):
    """The bare three-hop baseline of bench/bare.py: ingest -> quorum queue -> relay -> quorum queue -> post.

    Same receiver, load, bodies and broker as HookpipePipeline; prefetch as hookpipe's (the router's 200, the
    destination's concurrency)."""

    label = "bare"

    def __init__(self, args: argparse.Namespace, *, ingest_only: bool = False) -> None:
        super().__init__("")
        self.args = args
        self.ingest_only = ingest_only  # the bare ingest alone: its events stay in the first queue
        self.queues: list[str] = []

    async def start(self, receiver_base: str, deadline: float) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="hookpipe-bench-bare-"))
        prefix = f"bench-bare-{secrets.token_hex(5)}"
        first, second = f"{prefix}.ingested", f"{prefix}.deliver"
        self.queues = [first, second]
        await declare_quorum_queues(self.args.amqp_url, self.queues)
        self.sampled_queues = {"router": first, "deliver": second}
        listen = f"127.0.0.1:{free_port()}"
        self.ingest_url = f"http://{listen}/ingest/bench"
        self.paths = ["/webhooks"]
        bare = str(Path(__file__).with_name("bare.py"))
        broker = ["--amqp-url", self.args.amqp_url]

        def hop(name: str, *argv: str) -> ServiceProcess:
            ops = f"127.0.0.1:{free_port()}"
            return ServiceProcess(name, None, ops, self.tmp or Path("."), [bare, *broker, "--ops", ops, *argv])

        self.services = [hop("bare-ingest", "ingest", "--listen", listen, "--queue", first)]
        if not self.ingest_only:
            self.services += [
                hop("bare-relay", "relay", "--source", first, "--target", second,
                    "--prefetch", str(ROUTER_PREFETCH)),
                hop("bare-post", "post", "--source", second, "--url", f"{receiver_base}/webhooks",
                    "--prefetch", str(self.args.destination_concurrency)),
            ]
        log(f"bare pipeline: queues {first}, {second}; logs in {self.tmp}")
        await self._start_processes(deadline)

    async def cleanup(self) -> dict[str, int]:
        left = await delete_queues(self.args.amqp_url, self.queues)
        log(f"deleted the bare pipeline's queues {', '.join(self.queues)}")
        return left


class QueueSampler:
    """Samples the ready-message count of the router and deliver queues every second (--start only).

    Where the backlog builds up tells which stage lags: a deep router queue means the router is behind
    ingest, a deep deliver queue means the deliverer is behind the router.
    """

    def __init__(self, url: str, queues: dict[str, str]) -> None:
        self.url = url
        self.queues = queues  # label -> queue name
        self.peak: dict[str, int] = dict.fromkeys(queues, 0)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> dict[str, int]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        return self.peak

    async def _sample(self) -> None:
        import aio_pika

        connection = await aio_pika.connect(self.url, timeout=10)
        async with connection:
            channel = await connection.channel()
            while True:
                for label, name in self.queues.items():
                    with contextlib.suppress(Exception):
                        declared = await channel.declare_queue(name, passive=True)
                        depth = int(declared.declaration_result.message_count or 0)
                        self.peak[label] = max(self.peak[label], depth)
                    if channel.is_closed:
                        channel = await connection.channel()
                await asyncio.sleep(1.0)


async def scrape_means(session: aiohttp.ClientSession, ops: str, histograms: dict[str, str]) -> dict[str, float]:
    """Mean of Prometheus histograms (sum / count over every label set), in ms, keyed by our label."""
    try:
        async with session.get(f"http://{ops}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        for metric in histograms.values():
            if name == f"{metric}_sum":
                sums[metric] = sums.get(metric, 0.0) + float(line.rsplit(" ", 1)[1])
            elif name == f"{metric}_count":
                counts[metric] = counts.get(metric, 0.0) + float(line.rsplit(" ", 1)[1])
    return {label: round(1000 * sums[metric] / counts[metric], 2)
            for label, metric in histograms.items() if counts.get(metric)}


# --- the load --------------------------------------------------------------------------------------------


class Signer:
    """Headers the harness adds to each ingest request for --sign."""

    def __init__(self, scheme: str, secret: str, id_header: str, extra: dict[str, str]) -> None:
        self.scheme = scheme
        self.id_header = id_header
        self.key = secret_key(secret)
        self.secret = secret
        self.extra = extra

    def headers(self, event_id: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", self.id_header: event_id, **self.extra}
        if self.scheme == "bearer":
            headers["Authorization"] = f"Bearer {self.secret}"

        elif self.scheme == "standard-webhooks":
            timestamp = int(time.time())
            headers.update({"webhook-id": event_id, "webhook-timestamp": str(timestamp),
                            "webhook-signature": standard_webhooks_signature([self.key], event_id, timestamp, body)})
        return headers


# --- figures ---------------------------------------------------------------------------------------------


def summarize(args: argparse.Namespace, pipeline: Pipeline, load: LoadResult, receiver: Receiver, end: float,
              processes: dict[str, dict[str, Any]], left_in_queues: dict[str, int],
              harness_cpu_s: float) -> dict[str, Any]:
    """A delivery is one event at one destination: with one destination `delivered` counts events."""
    arrivals = [(key, at) for key, at in receiver.arrivals.items() if key[1] in load.sent_at]
    e2e = [at - load.sent_at[event_id] for (_, event_id), at in arrivals]
    last_arrival = max((at for _, at in arrivals), default=load.first_sent)
    accept_window = max(load.last_answer - load.first_sent, 1e-9)
    deliver_window = max(last_arrival - load.first_sent, 1e-9)
    lost = sorted(f"{path}:{event_id}" if path else event_id for event_id in load.accepted
                  for path in pipeline.paths if (path, event_id) not in receiver.arrivals)
    return {
        "pipeline": pipeline.label,
        "events": args.events,
        "sent": load.sent,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "late_sends": load.late,
        "body_size": args.body_size,
        "destinations": len(pipeline.paths) if args.start else None,
        "sign": args.sign,
        "accepted": len(load.accepted),
        "rejected": sum(load.rejected.values()),
        "rejected_by_status": dict(sorted(load.rejected.items())),
        "delivered": len(arrivals),
        "duplicates": receiver.duplicates,
        "lost": len(lost),
        "lost_sample": lost[:5],
        "foreign_arrivals": receiver.foreign,
        "bad_signatures": receiver.bad_signatures,
        "late_arrivals": receiver.late,
        "elapsed": round(end - load.first_sent, 3),
        "accept_elapsed": round(accept_window, 3),
        "deliver_elapsed": round(deliver_window, 3),
        "accepted_per_s": round(len(load.accepted) / accept_window, 1),
        "delivered_per_s": round(len(arrivals) / deliver_window, 1),
        "ingest_ms": latency_ms(load.ingest_latency),
        "e2e_ms": latency_ms(e2e),
        "processes": processes,
        "harness_cpu_s": round(harness_cpu_s, 2),
        "left_in_queues": left_in_queues,
    }


def table(report: dict[str, Any]) -> str:
    def ms(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    pace = f"rate {report['rate']:g}/s ({report['late_sends']} sent late)" if report["rate"] else "saturation"
    lines = [
        f"{report['pipeline']}: events {report['events']}  {pace}  concurrency {report['concurrency']}  "
        f"body {report['body_size']} B  destinations {report['destinations'] or '-'}  sign {report['sign']}",
        f"accepted   {report['accepted']:>8}   {report['accepted_per_s']:>9.1f}/s  "
        f"(over {report['accept_elapsed']:.2f}s)",
        f"delivered  {report['delivered']:>8}   {report['delivered_per_s']:>9.1f}/s  "
        f"(over {report['deliver_elapsed']:.2f}s)",
        f"rejected   {report['rejected']:>8}   {report['rejected_by_status'] or ''}",
        f"lost       {report['lost']:>8}   duplicates {report['duplicates']}  foreign {report['foreign_arrivals']}"
        f"  bad signatures {report['bad_signatures']}  late {report['late_arrivals']}",
        f"elapsed    {report['elapsed']:>8.2f}s",
        "",
        f"{'latency ms':<12}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
    ]
    for key, label in (("ingest_ms", "ingest"), ("e2e_ms", "end-to-end")):
        figures = report[key]
        lines.append(f"{label:<12}" + "".join(f"{ms(figures[p]):>9}" for p in ("p50", "p95", "p99", "max")))
    if report["processes"] or report.get("broker"):
        lines += ["", f"{'process':<16}{'pid':>8}{'cpu s':>9}{'run cpu s':>11}{'run cpu %':>11}"
                      f"{'cpu ms/event':>14}{'peak RSS MiB':>14}"]
        for name, proc in report["processes"].items():
            lines.append(
                f"{name:<16}{proc['pid']:>8}{proc['cpu_s']:>9.2f}{proc['run_cpu_s']:>11.2f}"
                f"{proc['run_cpu_pct']:>10.0f}%{ms(proc['cpu_ms_per_event'], 2):>14}"
                f"{proc['rss_peak_kib'] / 1024:>14.1f}"
            )
        for name, proc in report.get("broker", {}).items():
            lines.append(f"{name:<16}{proc['pid']:>8}{'-':>9}{proc['run_cpu_s']:>11.2f}"
                         f"{proc['run_cpu_pct']:>10.0f}%{ms(proc['cpu_ms_per_event'], 2):>14}{'-':>14}")
    lines.append(f"harness cpu {report['harness_cpu_s']:.2f}s = {ms(report['harness_cpu_ms_per_event'], 2)} "
                 "ms/event (load generator + receiver)")
    if report.get("stage_mean_ms"):
        lines.append("service means (ms): " + ", ".join(
            f"{key} {value:.1f}" for key, value in report["stage_mean_ms"].items()))
    if report.get("queue_peak_ready"):
        lines.append("peak ready messages: " + ", ".join(
            f"{key} queue {value}" for key, value in report["queue_peak_ready"].items()))
    if report.get("machine"):
        machine = report["machine"]
        lines.append(f"machine: {machine['busy_pct']:.0f}% busy over {machine['cpus']} CPUs during the run, "
                     f"of which {machine['other_processes_pct']:.0f}% by processes not listed above"
                     f"{'' if report['processes'] else ' (the services among them)'}; "
                     f"steal {machine['steal_pct']:.0f}%")
        if machine["other_processes_pct"] >= 10 and report["processes"]:
            lines.append("warning: other work ran on this machine meanwhile; the figures are skewed by it")
    if report["left_in_queues"]:
        lines.append(f"left in queues before deletion: {report['left_in_queues']}")
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------------------


def make_pipeline(args: argparse.Namespace) -> Pipeline:
    if not args.start:
        return Pipeline(args.ingest_url)
    return BarePipeline(args) if args.bare else HookpipePipeline(args)


async def run_pipeline(args: argparse.Namespace, pipeline: Pipeline) -> tuple[int, dict[str, Any] | None]:
    """One bounded run against `pipeline`: start it, send the load, wait for the deliveries, stop it and delete
    its queues. Returns the exit status and the report (None when nothing was sent)."""
    deadline = time.monotonic() + args.timeout
    run_prefix = f"b{secrets.token_hex(4)}-"
    verify_secret = args.receiver_secret if (args.start or args.receiver_secret_given) else None
    verify = verify_secret and args.verify and not getattr(args, "bare", False)  # bare posts unsigned
    receiver = Receiver(run_prefix, secret_key(verify_secret) if verify else None, by_path=args.start)
    await receiver.start(0 if args.start else args.receiver_port)
    receiver_base = f"http://127.0.0.1:{receiver.port}"
    log(f"receiver on {receiver_base}/ (any path)")

    services = pipeline.services
    exit_code = EXIT_SETUP
    left: dict[str, int] = {}
    load: LoadResult | None = None
    end = 0.0
    processes: dict[str, dict[str, Any]] = {}
    broker_report: dict[str, dict[str, Any]] = {}
    sampler: QueueSampler | None = None
    queue_peaks: dict[str, int] = {}
    stage_means: dict[str, float] = {}
    died: list[str] = []
    machine: dict[str, Any] = {}
    harness_cpu = 0.0
    try:
        await pipeline.start(receiver_base, deadline)
        services = pipeline.services
        signer: HeaderSource
        if args.sign == "stripe":  # signed before the run: the load generator's CPU stays the same per scheme
            signer = await asyncio.to_thread(Presigned, "stripe", args.source_secret, run_prefix, args.events,
                                             args.body_size, args.id_header)
        else:
            signer = Signer(args.sign, args.source_secret, args.id_header, dict(args.header))
        for process in services:
            process.at_load_start = process.snapshot()
        broker = {pid: read_process_stats(pid) for pid in find_broker_pids()}
        if pipeline.sampled_queues:
            sampler = QueueSampler(args.amqp_url, pipeline.sampled_queues)
            sampler.start()
        machine_before = machine_cpu()
        harness_cpu_before = own_cpu()
        pace = f"at {args.rate:g}/s" if args.rate else "at saturation"
        log(f"{pipeline.label}: sending {args.events} events of {args.body_size} B {pace}, concurrency "
            f"{args.concurrency}, to {pipeline.ingest_url}")
        load = await run_load(pipeline.ingest_url, args.events, args.concurrency, args.body_size, run_prefix, signer,
                              deadline, lambda: len(receiver.arrivals), args.quiet, rate=args.rate)
        log(f"sending done: {len(load.accepted)} accepted, {sum(load.rejected.values())} rejected; "
            "waiting for deliveries")
        done = receiver.wait_for({(path, event_id) for event_id in load.accepted for path in pipeline.paths})
        while not done.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), min(0.5, max(0.0, deadline - time.monotonic())))
            dead = [process.service for process in services if not process.alive()]
            if dead and not done.is_set():
                log(f"{', '.join(dead)} exited during the run; not waiting for the rest")
                died.extend(dead)
                break
        if args.settle > 0:  # late duplicates (redeliveries) still count
            await asyncio.sleep(args.settle)
        end = time.perf_counter()
        receiver.cutoff = end  # what arrives from now on (while the services stop) is late, not delivered
        for process in services:
            process.at_load_end = process.snapshot()
        harness_cpu = own_cpu() - harness_cpu_before
        if sampler is not None:
            queue_peaks = await sampler.stop()
        if services:
            async with aiohttp.ClientSession(trust_env=False) as session:
                stage_means.update(await pipeline.stage_means(session))
        machine_after = machine_cpu()
        window = end - load.first_sent
        for pid, before in broker.items():
            after = read_process_stats(pid)
            if before is not None and after is not None:
                broker_report[f"rabbitmq {pid}"] = {
                    "pid": pid, "run_cpu_s": round(after.cpu_s - before.cpu_s, 2),
                    "run_cpu_pct": round(100 * (after.cpu_s - before.cpu_s) / window, 1),
                    "rss_kib": after.rss_kib}
        busy, steal, total = (a - b for a, b in zip(machine_after, machine_before, strict=True))
        if total > 0:
            ours = harness_cpu + sum(p["run_cpu_s"] for p in broker_report.values()) + sum(
                (p.at_load_end.cpu_s - p.at_load_start.cpu_s) for p in services
                if p.at_load_end is not None and p.at_load_start is not None)
            machine = {"cpus": os.cpu_count(), "busy_pct": round(100 * busy / total, 1),
                       "steal_pct": round(100 * steal / total, 1),
                       "other_processes_pct": round(100 * max(0.0, busy - ours) / total, 1)}
        expected = {(path, event_id) for event_id in load.accepted for path in pipeline.paths}
        exit_code = EXIT_OK if load.accepted and expected.issubset(receiver.arrivals) else EXIT_LOST
    except SetupFailed as error:
        log(f"setup failed: {error}")
    finally:
        if sampler is not None:
            await sampler.stop()
        for process in services:
            if process.at_load_end is None:
                process.at_load_end = process.snapshot()
        processes = _process_report(services, end - load.first_sent if load else 0.0)
        for process in services:
            process.terminate()
        codes = await asyncio.gather(*(process.wait_exit(STOP_TIMEOUT) for process in services))
        for process, code in zip(services, codes, strict=True):
            if code not in (0, None):
                log(f"{process.service} exited with status {code}; log: {process.log_path}")
        await receiver.stop()
        try:
            left = await pipeline.cleanup()
        except Exception as error:
            log(f"could not delete the queues of the {pipeline.label} pipeline: {error!r}")
        if pipeline.tmp is not None:
            if exit_code == EXIT_OK and not args.keep_logs:
                shutil.rmtree(pipeline.tmp, ignore_errors=True)
            else:
                log(f"logs kept in {pipeline.tmp}")

    if load is None:
        return exit_code, None
    report = summarize(args, pipeline, load, receiver, end, processes, left, harness_cpu)
    report["broker"] = broker_report
    report["machine"] = machine
    report["queue_peak_ready"] = queue_peaks
    report["stage_mean_ms"] = stage_means
    report["services_exited"] = died
    delivered = report["delivered"]
    for proc in [*report["processes"].values(), *broker_report.values()]:
        proc["cpu_ms_per_event"] = round(1000 * proc["run_cpu_s"] / delivered, 3) if delivered else None
    report["harness_cpu_ms_per_event"] = round(1000 * harness_cpu / delivered, 3) if delivered else None
    if exit_code == EXIT_LOST:
        if not load.accepted:
            log("no event was accepted")
        elif died:
            log(f"{report['lost']} accepted deliveries did not arrive: {', '.join(died)} exited during the run")
        else:
            log(f"{report['lost']} accepted deliveries did not arrive within --timeout {args.timeout:g}s")
    return exit_code, report


async def run(args: argparse.Namespace) -> int:
    exit_code, report = await run_pipeline(args, make_pipeline(args))
    if report is not None:
        if args.json:
            print(table(report), file=sys.stderr)
            print(json.dumps(report))
        else:
            print(table(report))
    return exit_code


def _process_report(services: list[ServiceProcess], window: float) -> dict[str, dict[str, Any]]:
    report = {}
    for process in services:
        end, start = process.at_load_end, process.at_load_start
        if end is None:
            continue
        run_cpu = end.cpu_s - start.cpu_s if start is not None else 0.0
        report[process.service] = {
            "pid": process.pid,
            "cpu_s": round(end.cpu_s, 2),
            "run_cpu_s": round(run_cpu, 2),
            "run_cpu_pct": round(100 * run_cpu / window, 1) if window > 0 else 0.0,
            "rss_peak_kib": end.rss_peak_kib,
            "rss_kib": end.rss_kib,
        }
    return report


# --- command line ----------------------------------------------------------------------------------------


def header_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected NAME:VALUE")
    return name.strip(), value.strip()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/e2e.py", description="End-to-end load harness for hookpipe (see bench/README.md).")
    target = parser.add_argument_group("target")
    target.add_argument("--start", action="store_true",
                        help="start ingest, router and deliverer with a temporary config, and clean up after")
    target.add_argument("--bare", action="store_true",
                        help="with --start: run the bare three-hop baseline of bench/bare.py instead of hookpipe")
    target.add_argument("--ingest-url", help="without --start: http://127.0.0.1:PORT/ingest/SOURCE")
    target.add_argument("--receiver-port", type=int, default=9000,
                        help="without --start: the port of the harness's receiver (default 9000); the "
                             "pipeline's destination must point at http://127.0.0.1:PORT/<any path>")
    target.add_argument("--id-header", default="x-bench-id",
                        help="header carrying the event id; the source's `id: {header: ...}` (default x-bench-id)")
    target.add_argument("--header", type=header_pair, action="append", default=[], metavar="NAME:VALUE",
                        help="extra header on every ingest request (repeatable)")
    target.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
                        help="with --start: the broker (default $AMQP_URL or guest@127.0.0.1:5672)")
    load = parser.add_argument_group("load")
    load.add_argument("--events", type=int, default=20000, help="events to send (default 20000)")
    load.add_argument("--concurrency", type=int, default=50, help="requests in flight (default 50)")
    load.add_argument("--body-size", type=int, default=1024, help="JSON body size in bytes (default 1024)")
    load.add_argument("--timeout", type=float, default=300.0,
                      help="bound in seconds on start-up + sending + waiting for deliveries (default 300)")
    load.add_argument("--settle", type=float, default=0.0,
                      help="seconds to keep receiving after the last delivery, to count late duplicates")
    load.add_argument("--rate", type=float, default=None,
                      help="offered requests/s on a fixed schedule (open loop, at most --concurrency in "
                           "flight); default: saturation (closed loop)")
    load.add_argument("--sign", choices=("none", "bearer", "stripe", "standard-webhooks"), default="none",
                      help="how requests authenticate to the source: none (scheme none, unverified; the "
                           "default), bearer (Authorization: Bearer), stripe (Stripe-Signature, signed before "
                           "the run), standard-webhooks (webhook-* headers)")
    load.add_argument("--source-secret", default=DEFAULT_SOURCE_SECRET,
                      help="the bearer token or standard-webhooks secret for --sign")
    load.add_argument("--archive", action="store_true",
                      help="with --start: archive every event in a stream, as the default config does (off by "
                           "default, like the bare pipeline)")
    load.add_argument("--delivery-log", action="store_true",
                      help="with --start: record every routing decision and attempt in the delivery log, as the "
                           "default config does (off by default, like the bare pipeline)")
    load.add_argument("--destinations", type=int, default=1,
                      help="with --start: destinations the route fans out to, each its own receiver path "
                           "(default 1)")
    load.add_argument("--destination-concurrency", type=int, default=50,
                      help="with --start: the destination's concurrency (deliveries in flight, default 50)")
    out = parser.add_argument_group("receiver and output")
    out.add_argument("--receiver-secret", default=None,
                     help="the destination's signing secret: the receiver checks each webhook-signature and "
                          "answers 401 to a bad one (with --start the harness sets its own)")
    out.add_argument("--no-verify", dest="verify", action="store_false",
                     help="do not check the deliveries' signatures")
    out.add_argument("--json", action="store_true",
                     help="print one JSON object with every figure on stdout (the table goes to stderr)")
    out.add_argument("--quiet", action="store_true", help="no progress lines")
    out.add_argument("--keep-logs", action="store_true", help="with --start: keep the temp dir (config, logs)")
    out.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                     help="with --start: the services' log level (default info)")
    args = parser.parse_args(argv)

    args.receiver_secret_given = args.receiver_secret is not None
    if args.receiver_secret is None:
        args.receiver_secret = DEFAULT_RECEIVER_SECRET
    check_load_arguments(parser, args)
    if args.destinations < 1 or (args.bare and args.destinations != 1):
        parser.error("--destinations must be at least 1 (and 1 with --bare)")
    if args.bare and not args.start:
        parser.error("--bare needs --start")
    if args.start:
        if args.ingest_url:
            parser.error("--ingest-url is for a running pipeline; --start makes its own")
        check_amqp_url(parser, args.amqp_url)
    else:
        if not args.ingest_url:
            parser.error("give --start, or --ingest-url of a running pipeline")
        parts = urlsplit(args.ingest_url)
        if parts.scheme != "http" or not is_loopback(parts.hostname):
            parser.error("--ingest-url must be http://127.0.0.1:PORT/ingest/SOURCE: the harness targets only "
                         "the local machine")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGINT/SIGTERM cancel the run, so the finally blocks still stop the services and delete the queues.
    return run_main(lambda: run(args))

if __name__ == "__main__":
    sys.exit(main())
