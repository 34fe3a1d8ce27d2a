"""Ingest-only benchmark: what verifying a signature costs, scheme `none` vs `stripe` vs `standard-webhooks`.

    .venv/bin/python bench/ingest.py                                    # 5 rounds x 6 combinations x 3000 requests
    .venv/bin/python bench/ingest.py --requests 300 --rounds 2          # a quick smoke run
    .venv/bin/python bench/ingest.py --json > result.json               # JSON on stdout, table on stderr

The harness starts ONE ingest process (`python -m ingest --config FILE`) with a temporary config under its own
topology prefix `bench-<hex>`: three sources, `none` (scheme none, unverified), `stripe` and `standard-webhooks`,
no router and no archive. A child process of the harness consumes ingest's router queue (auto-ack), and after each
run the harness waits until it has drained every event and purges whatever is left, so the queue never holds more
than one run's events. Every (scheme, body size) combination runs once per round, in a new shuffled order each
round, so drift on a shared machine touches every combination alike. Requests are signed before each run with the
providers' own libraries (stripe's `WebhookSignature.generate_signature_header`, standardwebhooks'
`Webhook.sign`), so the timed run spends the same harness CPU on every scheme.

Per combination it prints the median requests/s over the rounds, the median ingest CPU per request (utime + stime
of the ingest process from /proc/<pid>/stat, delta over the run / requests), p50 and p99 latency over every
request of every round, and the median per-round ratio of stripe and standard-webhooks to none.
Everything it talks to is on 127.0.0.1. It stops the ingest process by PID and deletes its queues and exchanges
at the end, also on Ctrl-C. Exit status: 0 when every request got 2xx and was published, 1 otherwise, 2 when the
set-up failed, 130 when interrupted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

# Importing `common` (bench/common.py) puts the repository root on sys.path, for `hookpipe`.
from common import (
    ID_HEADER,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    Presigned,
    ProcessStats,
    ServiceProcess,
    SetupFailed,
    add_amqp_argument,
    add_output_arguments,
    check_amqp_url,
    delete_topology,
    die_with_parent,
    find_broker_pids,
    free_port,
    latency_ms,
    log,
    machine_cpu,
    make_body,
    own_cpu,
    read_process_stats,
    run_load,
    run_main,
    signer_names,
)

SCHEMES = ("none", "stripe", "standard-webhooks")
SIZES = (1024, 100 * 1024)

#: Seconds the harness waits after a run for the drainer to have consumed every event it published.
DRAIN_TIMEOUT = 30.0

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


def bench_config(prefix: str, broker_url: str, args: argparse.Namespace, source_secrets: dict[str, str],
                 ) -> dict[str, Any]:
    """One ingest, three sources, nothing else: no destinations, no routes, no archive stream."""
    largest = max(args.sizes)
    sources: dict[str, Any] = {}
    for scheme in args.schemes:
        if scheme == "none":
            sources[scheme] = {"verify": {"scheme": "none"}, "unverified": True, "id": {"header": ID_HEADER}}
        else:
            # A 1 h window keeps headers signed before a long run fresh; the check costs the same at any width.
            sources[scheme] = {"verify": {"scheme": scheme, "secrets": [source_secrets[scheme]], "tolerance": "1h"}}
    return {
        "broker": {"url": broker_url, "prefix": prefix, "heartbeat": "10s"},
        "ingest": {"listen": f"127.0.0.1:{free_port()}", "ops": f"127.0.0.1:{free_port()}",
                   "max_body": max(1024**2, 2 * largest)},
        "archive": "off",
        "log": {"level": args.log_level},
        "sources": sources,
    }


def drain(url: str, queue: str, consumed: Any) -> None:  # pragma: no cover - runs in a child process
    """Child process: consume `queue` with auto-ack, counting messages in `consumed` (a shared integer)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness stops it (SIGTERM) after its own clean-up starts

    async def consume() -> None:
        import aio_pika

        connection = await aio_pika.connect(url, timeout=10, client_properties={"connection_name": "bench-drain"})
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)

            async def on_message(_: Any) -> None:
                consumed.value += 1

            await declared.consume(on_message, no_ack=True)
            closed = asyncio.Event()
            connection.close_callbacks.add(lambda *_: closed.set())
            await closed.wait()  # until the broker closes it, or SIGTERM ends the process

    asyncio.run(consume())


class Drainer:
    """The child process that keeps ingest's router queue short."""

    def __init__(self, url: str, queue: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.consumed = context.Value("q", 0, lock=False)
        self.process = context.Process(target=drain, args=(url, queue, self.consumed), name="bench-drain",
                                       daemon=True)

    def start(self) -> None:
        self.process.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def count(self) -> int:
        return int(self.consumed.value)

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        if self.process.pid is None:
            return
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM to this PID
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# --- runs ------------------------------------------------------------------------------------------------


@dataclass
class Run:
    scheme: str
    size: int
    round: int  # 0 for the warm-up
    requests: int
    accepted: int = 0
    non_2xx: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0  # first request sent -> last answer
    rps: float = 0.0
    ingest_cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    harness_cpu_s: float = 0.0  # load generator + drainer
    machine_busy_pct: float = 0.0
    machine_other_pct: float = 0.0
    steal_pct: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx only
    purged: int = 0  # events the drainer had not consumed DRAIN_TIMEOUT after the run

    def per_request_ms(self, cpu_s: float) -> float | None:
        return 1000 * cpu_s / self.accepted if self.accepted else None

    def summary(self) -> dict[str, Any]:
        return {
            "round": self.round, "requests": self.requests, "accepted": self.accepted, "non_2xx": self.non_2xx,
            "elapsed_s": round(self.elapsed_s, 3), "requests_per_s": round(self.rps, 1),
            "ingest_cpu_ms_per_request": _round(self.per_request_ms(self.ingest_cpu_s), 4),
            "broker_cpu_ms_per_request": _round(self.per_request_ms(self.broker_cpu_s), 4),
            "harness_cpu_ms_per_request": _round(self.per_request_ms(self.harness_cpu_s), 4),
            "latency_ms": latency_ms(self.latencies),
            "machine": {"busy_pct": round(self.machine_busy_pct, 1), "other_processes_pct":
                        round(self.machine_other_pct, 1), "steal_pct": round(self.steal_pct, 1)},
            "purged": self.purged,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class Bench:
    def __init__(self, args: argparse.Namespace, ingest: ServiceProcess, url_base: str, drainer: Drainer,
                 queue: str, source_secrets: dict[str, str], deadline: float) -> None:
        self.args = args
        self.ingest = ingest
        self.url_base = url_base
        self.drainer = drainer
        self.queue = queue
        self.source_secrets = source_secrets
        self.deadline = deadline
        self.published = 0  # 2xx answers so far: what the drainer should have consumed
        self.purged = 0
        self.tag = secrets.token_hex(3)
        self.broker_pids = find_broker_pids()

    async def probe(self) -> None:
        """Each signed source refuses a tampered body (401) and accepts the request as signed (2xx): otherwise
        the benchmark would not measure verification."""
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(trust_env=False, timeout=timeout) as session:
            for scheme in self.args.schemes:
                run_prefix = f"probe-{self.tag}-{scheme}-"
                event_id = f"{run_prefix}00000000"
                headers = Presigned(scheme, self.source_secrets.get(scheme, ""), run_prefix, 1, 256).headers(
                    event_id, b"")
                body = make_body(event_id, 256)
                tampered = body[:-3] + b"y" + body[-2:]  # the last byte of the `data` padding
                url = f"{self.url_base}/{scheme}"
                if scheme != "none":
                    async with session.post(url, data=tampered, headers=headers) as response:
                        if response.status != 401:
                            raise SetupFailed(f"source {scheme} answered {response.status} to a tampered body, "
                                              f"not 401: {(await response.text())[:200]}")
                async with session.post(url, data=body, headers=headers) as response:
                    if not 200 <= response.status < 300:
                        raise SetupFailed(f"source {scheme} answered {response.status} to a correctly signed "
                                          f"request: {(await response.text())[:200]}")
                self.published += 1
        await self.settle()

    async def one(self, scheme: str, size: int, round_number: int, requests: int) -> Run:
        run = Run(scheme=scheme, size=size, round=round_number, requests=requests)
        run_prefix = f"{self.tag}-{round_number}-{scheme}-{size}-"
        presigned = await asyncio.to_thread(Presigned, scheme, self.source_secrets.get(scheme, ""), run_prefix,
                                            requests, size)
        ingest_before = self._ingest_stats()
        broker_before = self._broker_cpu()
        drain_before = self._drainer_cpu()
        harness_before = own_cpu()
        machine_before = machine_cpu()
        load = await run_load(f"{self.url_base}/{scheme}", requests, self.args.concurrency, size, run_prefix,
                              presigned, self.deadline, None, True)
        machine_after = machine_cpu()
        harness = own_cpu() - harness_before + self._drainer_cpu() - drain_before
        broker = self._broker_cpu() - broker_before
        ingest_after = self._ingest_stats()
        run.accepted = len(load.accepted)
        rejected = dict(load.rejected)
        if load.sent < requests:  # --timeout reached before every request was sent
            rejected["not_sent"] = requests - load.sent
        run.non_2xx = dict(sorted(rejected.items()))
        run.elapsed_s = max(load.last_answer - load.first_sent, 1e-9)
        run.rps = run.accepted / run.elapsed_s
        run.ingest_cpu_s = ingest_after.cpu_s - ingest_before.cpu_s
        run.broker_cpu_s = broker
        run.harness_cpu_s = harness
        run.latencies = load.ingest_latency
        busy, steal, total = (a - b for a, b in zip(machine_after, machine_before, strict=True))
        if total > 0:
            run.machine_busy_pct = 100 * busy / total
            run.steal_pct = 100 * steal / total
            run.machine_other_pct = 100 * max(0.0, busy - run.ingest_cpu_s - broker - harness) / total
        self.published += run.accepted
        run.purged = await self.settle()
        return run

    async def settle(self) -> int:
        """Wait until the drainer has consumed everything published so far, then purge what is left: the queue
        never holds more than one run's events. Returns the messages purged."""
        waited_until = time.monotonic() + DRAIN_TIMEOUT
        while self.drainer.count() < self.published and time.monotonic() < waited_until:
            if not self.drainer.alive():
                raise SetupFailed("the drain consumer exited")
            await asyncio.sleep(0.05)
        import aio_pika

        connection = await aio_pika.connect(self.args.amqp_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.queue, passive=True)
            left = int(queue.declaration_result.message_count or 0)
            if left:
                await queue.purge()
        self.purged += left
        return left

    def _ingest_stats(self) -> ProcessStats:
        stats = self.ingest.snapshot()
        if stats is None:
            raise SetupFailed(f"ingest exited (status {self.ingest.process and self.ingest.process.poll()}); "
                              f"its log ends with:\n{self.ingest.log_tail()}")
        return stats

    def _broker_cpu(self) -> float:
        return sum(stats.cpu_s for stats in map(read_process_stats, self.broker_pids) if stats is not None)

    def _drainer_cpu(self) -> float:
        stats = read_process_stats(self.drainer.pid) if self.drainer.pid is not None else None
        return stats.cpu_s if stats is not None else 0.0


# --- figures ---------------------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarize(args: argparse.Namespace, runs: list[Run], signers: dict[str, str], seed: int,
              ingest_pid: int | None, ingest_stats: ProcessStats | None, published: int, consumed: int,
              purged: int, left: dict[str, int], orders: list[list[str]]) -> dict[str, Any]:
    measured = [run for run in runs if run.round > 0]
    combos: list[dict[str, Any]] = []
    by_key: dict[tuple[str, int], list[Run]] = {}
    for run in measured:
        by_key.setdefault((run.scheme, run.size), []).append(run)
    for size in args.sizes:
        for scheme in args.schemes:
            own = sorted(by_key.get((scheme, size), []), key=lambda r: r.round)
            if not own:
                continue
            baseline = {r.round: r for r in by_key.get(("none", size), [])}
            latencies = [latency for run in own for latency in run.latencies]
            non_2xx: dict[str, int] = {}
            for run in own:
                for status, count in run.non_2xx.items():
                    non_2xx[status] = non_2xx.get(status, 0) + count
            rps = [run.rps for run in own]
            cpu = [run.per_request_ms(run.ingest_cpu_s) for run in own]
            rps_ratio: list[float | None] = []
            cpu_ratio: list[float | None] = []
            for run in own:
                base = baseline.get(run.round)
                if base is None:
                    continue
                rps_ratio.append(run.rps / base.rps if base.rps else None)
                mine, theirs = run.per_request_ms(run.ingest_cpu_s), base.per_request_ms(base.ingest_cpu_s)
                cpu_ratio.append(mine / theirs if mine is not None and theirs else None)
            cpu_present = [value for value in cpu if value is not None]
            combos.append({
                "scheme": scheme,
                "body_size": size,
                "rounds": len(own),
                "requests": sum(run.requests for run in own),
                "accepted": sum(run.accepted for run in own),
                "non_2xx": dict(sorted(non_2xx.items())),
                "requests_per_s": {"median": _round(_median(list(rps)), 1), "min": round(min(rps), 1),
                                   "max": round(max(rps), 1)},
                "ingest_cpu_ms_per_request": {
                    "median": _round(_median(cpu), 4),
                    "min": _round(min(cpu_present), 4) if cpu_present else None,
                    "max": _round(max(cpu_present), 4) if cpu_present else None},
                "latency_ms": latency_ms(latencies),
                "vs_none": {"requests_per_s": _round(_median(rps_ratio), 3),
                            "ingest_cpu_ms_per_request": _round(_median(cpu_ratio), 3)},
                "broker_cpu_ms_per_request": _round(_median(
                    [run.per_request_ms(run.broker_cpu_s) for run in own]), 4),
                "harness_cpu_ms_per_request": _round(_median(
                    [run.per_request_ms(run.harness_cpu_s) for run in own]), 4),
                "machine_busy_pct": _round(_median([run.machine_busy_pct for run in own]), 1),
                "machine_other_processes_pct": _round(_median([run.machine_other_pct for run in own]), 1),
                "runs": [run.summary() for run in own],
            })
    non_2xx_total = sum(sum(run.non_2xx.values()) for run in runs)
    return {
        "requests_per_run": args.requests,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "completed_rounds": max((run.round for run in runs), default=0),
        "warmup_per_combination": args.warmup,
        "seed": seed,
        "orders": orders,
        "schemes": list(args.schemes),
        "body_sizes": list(args.sizes),
        "signed_with": {scheme: signers[scheme] for scheme in args.schemes},
        "cpus": os.cpu_count(),
        "results": combos,
        "non_2xx_total": non_2xx_total,
        "published": published,
        "consumed": consumed,
        "unpublished": max(0, published - consumed - purged),
        "purged": purged,
        "ingest": {"pid": ingest_pid, "cpu_s": ingest_stats and round(ingest_stats.cpu_s, 2),
                   "rss_peak_kib": ingest_stats and ingest_stats.rss_peak_kib},
        "left_in_queues": left,
    }


def size_label(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 and size >= 1024 else f"{size} B"


def table(report: dict[str, Any]) -> str:
    def num(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [
        f"ingest benchmark: {report['requests_per_run']} requests per run, concurrency {report['concurrency']}, "
        f"{report['completed_rounds']}/{report['rounds']} rounds in shuffled order (seed {report['seed']}), "
        f"warm-up {report['warmup_per_combination']} per combination, {report['cpus']} CPUs",
        "signed with: " + "; ".join(f"{scheme}: {how}" for scheme, how in report["signed_with"].items()
                                    if scheme != "none"),
        "",
        f"{'':<26}{'requests/s':^21}{'ingest CPU ms/req':^25}{'latency ms':^16}{'vs none':^14}"
        f"{'other CPU ms/req':^20}",
        f"{'scheme':<18}{'body':>8}{'median':>8}{'(min-max)':>13}{'median':>9}{'(min-max)':>16}"
        f"{'p50':>8}{'p99':>8}{'req/s':>7}{'CPU':>7}{'rabbitmq':>10}{'harness':>10}",
    ]
    previous_size = None
    for combo in report["results"]:
        if previous_size is not None and combo["body_size"] != previous_size:
            lines.append("")
        previous_size = combo["body_size"]
        rps, cpu, latency = combo["requests_per_s"], combo["ingest_cpu_ms_per_request"], combo["latency_ms"]
        ratio = combo["vs_none"]
        rps_range = f"({num(rps['min'], 0)}-{num(rps['max'], 0)})"
        cpu_range = f"({num(cpu['min'], 3)}-{num(cpu['max'], 3)})"
        lines.append(
            f"{combo['scheme']:<18}{size_label(combo['body_size']):>8}{num(rps['median'], 0):>8}{rps_range:>13}"
            f"{num(cpu['median'], 3):>9}{cpu_range:>16}{num(latency['p50'], 1):>8}{num(latency['p99'], 1):>8}"
            f"{num(ratio['requests_per_s'], 2):>7}{num(ratio['ingest_cpu_ms_per_request'], 2):>7}"
            f"{num(combo['broker_cpu_ms_per_request'], 3):>10}{num(combo['harness_cpu_ms_per_request'], 3):>10}")
    lines.append("")
    non_2xx = {f"{c['scheme']} {size_label(c['body_size'])}": c["non_2xx"] for c in report["results"] if c["non_2xx"]}
    lines.append(f"non-2xx answers: {report['non_2xx_total']}" + (f" {non_2xx}" if non_2xx else ""))
    lines.append(f"published (2xx) {report['published']}, consumed by the drainer {report['consumed']}, "
                 f"purged {report['purged']}, unaccounted {report['unpublished']}")
    busy = _median([c["machine_busy_pct"] for c in report["results"]])
    other = _median([c["machine_other_processes_pct"] for c in report["results"]])
    if busy is not None and other is not None:
        lines.append(f"machine: median {busy:.0f}% busy over {report['cpus']} CPUs during a run, of which {other:.0f}% "
                     "by processes other than ingest, rabbitmq and the harness")
        if other >= 10:
            lines.append("warning: other work ran on this machine meanwhile; requests/s are skewed by it "
                         "(CPU ms/req much less)")
    ingest = report["ingest"]
    if ingest.get("rss_peak_kib"):
        lines.append(f"ingest pid {ingest['pid']}: {ingest['cpu_s']:.1f} CPU s in all, peak RSS "
                     f"{ingest['rss_peak_kib'] / 1024:.0f} MiB")
    if report["left_in_queues"]:
        lines.append(f"left in queues before deletion: {report['left_in_queues']}")
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    import yaml

    from hookpipe.amqp.topology import Names
    from hookpipe.config import ConfigError, load_config

    deadline = time.monotonic() + args.timeout
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    shuffler = random.Random(seed)
    signers = signer_names()
    source_secrets = {
        "stripe": "whsec_" + secrets.token_hex(16),  # Stripe's secrets are used as written, prefix included
        "standard-webhooks": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    tmp = Path(tempfile.mkdtemp(prefix="hookpipe-bench-ingest-"))
    prefix = f"bench-{secrets.token_hex(5)}"
    config = bench_config(prefix, args.amqp_url, args, source_secrets)
    config_path = tmp / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    config_path.chmod(0o600)
    ingest = ServiceProcess("ingest", config_path, config["ingest"]["ops"], tmp)
    drainer: Drainer | None = None
    loaded_config: Any = None
    runs: list[Run] = []
    orders: list[list[str]] = []
    left: dict[str, int] = {}
    exit_code = EXIT_SETUP
    bench: Bench | None = None
    ingest_stats: ProcessStats | None = None
    try:
        try:
            loaded_config = load_config(config_path, environ={}).config
        except ConfigError as error:
            raise SetupFailed(f"the generated config is refused: {error}") from None
        names = Names(loaded_config.broker.prefix)
        log(f"topology prefix {prefix}; config and log in {tmp}")
        ingest.start()
        log(f"started ingest (pid {ingest.pid})")
        async with aiohttp.ClientSession(trust_env=False) as session:
            await ingest.wait_ready(session, min(deadline, time.monotonic() + STARTUP_TIMEOUT))
        await asyncio.sleep(0.3)
        if not ingest.alive():  # a /readyz answered by whatever else holds the port proves nothing
            raise SetupFailed(f"ingest exited after its ops port answered; its log ends with:\n{ingest.log_tail()}")
        drainer = Drainer(args.amqp_url, names.router_queue)
        drainer.start()
        bench = Bench(args, ingest, f"http://{config['ingest']['listen']}/ingest", drainer, names.router_queue,
                      source_secrets, deadline)
        await bench.probe()
        log(f"ingest ready (pid {ingest.pid}); drainer pid {drainer.pid}; each signed source refuses a tampered "
            "body with 401")
        combos = [(scheme, size) for size in args.sizes for scheme in args.schemes]
        if args.warmup:
            log(f"warm-up: {args.warmup} requests per combination, not counted")
            for scheme, size in combos:
                runs.append(await bench.one(scheme, size, 0, args.warmup))
        for round_number in range(1, args.rounds + 1):
            order = combos[:]
            shuffler.shuffle(order)
            orders.append([f"{scheme} {size}" for scheme, size in order])
            for scheme, size in order:
                if time.monotonic() >= deadline:
                    break
                result = await bench.one(scheme, size, round_number, args.requests)
                runs.append(result)
                if not args.quiet:
                    log(f"round {round_number}/{args.rounds} {scheme:<17} {size_label(size):>7}: "
                        f"{result.rps:7.0f} req/s, ingest {result.per_request_ms(result.ingest_cpu_s) or 0:.3f} "
                        f"CPU ms/req, p50 {latency_ms(result.latencies)['p50'] or 0:.1f} ms"
                        + (f", non-2xx {result.non_2xx}" if result.non_2xx else ""))
            if time.monotonic() >= deadline:
                log(f"--timeout {args.timeout:g}s reached in round {round_number}: stopping")
                break
        failed = any(run.non_2xx for run in runs) or (bench.published - drainer.count() - bench.purged) > 0
        exit_code = EXIT_FAILED if failed or len(runs) == 0 else EXIT_OK
    except SetupFailed as error:
        measured = any(run.round > 0 for run in runs)
        log(f"{'run' if measured else 'setup'} failed: {error}")
        exit_code = EXIT_FAILED if measured else EXIT_SETUP
    finally:
        ingest_stats = ingest.snapshot()
        ingest.terminate()
        code = await ingest.wait_exit(STOP_TIMEOUT)
        if code not in (0, None):
            log(f"ingest exited with status {code}; log: {ingest.log_path}")
        if drainer is not None:
            await asyncio.to_thread(drainer.stop)
        if loaded_config is not None:
            try:
                left = await delete_topology(loaded_config)
                log(f"deleted the queues and exchanges of {prefix}")
            except Exception as error:
                log(f"could not delete the topology of {prefix}: {error!r}")
        if exit_code == EXIT_OK and not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"config and log kept in {tmp}")

    if bench is None or drainer is None or not any(run.round > 0 for run in runs):
        return exit_code
    report = summarize(args, runs, signers, seed, ingest.pid, ingest_stats, bench.published, drainer.count(),
                       bench.purged, left, orders)
    if args.json:
        print(table(report), file=sys.stderr)
        print(json.dumps(report))
    else:
        print(table(report))
    if report["non_2xx_total"]:
        log(f"{report['non_2xx_total']} requests were not answered 2xx")
    if report["unpublished"]:
        log(f"{report['unpublished']} requests answered 2xx never reached the router queue")
    return exit_code


# --- command line ----------------------------------------------------------------------------------------


def _csv(kind: type, allowed: tuple[Any, ...] | None = None) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(kind(part.strip()) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}") from None
        if not values or len(set(values)) != len(values):
            raise argparse.ArgumentTypeError("expected a non-empty list without repeats")
        if allowed is not None and not set(values) <= set(allowed):
            raise argparse.ArgumentTypeError(f"choose from {', '.join(map(str, allowed))}")
        return values

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ingest.py",
        description="Ingest-only benchmark: CPU per request and requests/s for scheme none vs stripe vs "
                    "standard-webhooks (see bench/README.md).")
    parser.add_argument("--requests", type=int, default=3000, help="requests per run (default 3000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds; each runs every (scheme, size) combination once, shuffled (default 5)")
    parser.add_argument("--warmup", type=int, default=500,
                        help="requests per combination before round 1, not counted (default 500; 0: none)")
    parser.add_argument("--schemes", type=_csv(str, SCHEMES), default=SCHEMES,
                        help="comma-separated subset of none,stripe,standard-webhooks (default all three; the "
                             "ratios need none)")
    parser.add_argument("--sizes", type=_csv(int), default=SIZES,
                        help="comma-separated body sizes in bytes (default 1024,102400)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the per-round order (default random)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="bound in seconds on the whole benchmark; runs not started by then are skipped "
                             "and requests unanswered by then count as non-2xx (default 1800)")
    add_amqp_argument(parser)
    add_output_arguments(parser, "ingest")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.rounds < 1 or args.warmup < 0 or args.timeout <= 0:
        parser.error("--requests, --concurrency and --rounds must be at least 1, --warmup at least 0, "
                     "--timeout positive")
    if any(size < 64 for size in args.sizes):
        parser.error("--sizes: each body is at least 64 bytes (its id and type)")
    check_amqp_url(parser, args.amqp_url)
    args.schemes = tuple(scheme for scheme in SCHEMES if scheme in args.schemes)  # none first, for the ratios
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
