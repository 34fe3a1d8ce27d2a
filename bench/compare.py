"""hookpipe against bare baselines on this machine, in interleaved A/B pairs, and the load matrix.

    .venv/bin/python bench/compare.py                          # 5 pairs + the matrix, about 15 minutes
    .venv/bin/python bench/compare.py --pairs 1 --events 2000 --no-matrix    # a quick smoke run
    .venv/bin/python bench/compare.py --json > result.json     # JSON on stdout, tables on stderr

Each pair runs, in this order (A then B, every pair alike):
1. end to end, hookpipe (bench/e2e.py's HookpipePipeline) then the bare three-hop pipeline (bench/bare.py):
   --events Stripe-signed 1 KiB events at saturation (concurrency --concurrency), one destination;
2. ingest alone, hookpipe's ingest with `stripe` verification then the bare durable-publish ingest:
   --ingest-events requests of the same kind, nothing consuming (the events wait in a queue, deleted after);
3. the raw broker rate (bench/broker_rate.py): publish with confirms and consume, 1 KiB.
Per pair it computes hookpipe's delivered/s over the bare pipeline's, hookpipe ingest's accepted/s over the
bare ingest's, and hookpipe's delivered/s over the raw broker rate; it prints each pair and the medians.

Then the matrix: hookpipe alone at a fixed offered rate and at saturation, with 1 KiB and 32 KiB bodies, to 1 and
20 destinations (8 runs), each reporting accepted/s, delivered/s (deliveries: one event at one destination),
ingest and end-to-end latency p50/p95/p99, and CPU and peak RSS per process.

Every run starts its own processes, uses its own topology prefix or queues, and deletes them after; every run is
bounded (--timeout each). The receiver does not verify signatures here (bare deliveries are unsigned, and both
sides should cost the receiver the same). Exit status: 0 when every run delivered (or, ingest alone, accepted)
everything; 1 otherwise; 2 when a set-up failed; 130 when interrupted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import asdict
from typing import Any

# Importing `common` (bench/common.py) puts the repository root on sys.path.
from broker_rate import measure_broker_rate
from common import (
    LoadResult,
    Presigned,
    SetupFailed,
    add_amqp_argument,
    add_output_arguments,
    check_amqp_url,
    find_broker_pids,
    latency_ms,
    log,
    own_cpu,
    read_process_stats,
    run_load,
    run_main,
)
from e2e import (
    DEFAULT_SOURCE_SECRET,
    EXIT_LOST,
    EXIT_OK,
    EXIT_SETUP,
    BarePipeline,
    HookpipePipeline,
    Pipeline,
    _process_report,
    run_pipeline,
)
from e2e import parse_args as e2e_args

#: The matrix: fixed-rate runs offer this many events per second for this long (per destination count, so that
#: 20 destinations get about the same deliveries per second as one).
FIXED_RATE = {1: 200.0, 20: 20.0}
FIXED_SECONDS = 20.0

#: Saturation runs of the matrix: events per run, per destination count.
SATURATION_EVENTS = {1: 10000, 20: 1000}

BODY_SIZES = (1024, 32 * 1024)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def run_arguments(args: argparse.Namespace, *, events: int, body_size: int = 1024, destinations: int = 1,
                  rate: float | None = None, bare: bool = False, delivery_log: bool = False) -> argparse.Namespace:
    """The bench/e2e.py options of one run."""
    argv = ["--start", "--events", str(events), "--concurrency", str(args.concurrency), "--body-size",
            str(body_size), "--destinations", str(destinations), "--sign", "stripe", "--no-verify", "--quiet",
            "--timeout", str(args.timeout), "--amqp-url", args.amqp_url, "--log-level", args.log_level,
            "--source-secret", DEFAULT_SOURCE_SECRET]
    if rate is not None:
        argv += ["--rate", str(rate)]
    if bare:
        argv.append("--bare")
    if delivery_log:
        argv.append("--delivery-log")
    if args.keep_logs:
        argv.append("--keep-logs")
    return e2e_args(argv)


async def end_to_end(args: argparse.Namespace, run_args: argparse.Namespace, pipeline: Pipeline) -> dict[str, Any]:
    code, report = await run_pipeline(run_args, pipeline)
    if report is None:
        raise SetupFailed(f"{pipeline.label}: the run could not start")
    report["exit_status"] = code
    return report


async def ingest_alone(run_args: argparse.Namespace, pipeline: Pipeline) -> dict[str, Any]:
    """Start only the pipeline's ingest, send the load, read its CPU; its events stay queued until the clean-up
    deletes the queue (which counts them: every accepted event must be there)."""
    deadline = time.monotonic() + run_args.timeout
    run_prefix = f"i{os.urandom(4).hex()}-"
    load: LoadResult | None = None
    processes: dict[str, dict[str, Any]] = {}
    left: dict[str, int] = {}
    harness_cpu = broker_cpu = 0.0
    try:
        await pipeline.start("http://127.0.0.1:9", deadline)  # no deliveries: the receiver is never used
        signer = await asyncio.to_thread(Presigned, "stripe", run_args.source_secret, run_prefix, run_args.events,
                                         run_args.body_size, run_args.id_header)
        for process in pipeline.services:
            process.at_load_start = process.snapshot()
        broker_before = {pid: read_process_stats(pid) for pid in find_broker_pids()}
        cpu_before = own_cpu()
        load = await run_load(pipeline.ingest_url, run_args.events, run_args.concurrency, run_args.body_size,
                              run_prefix, signer, deadline, None, True)
        harness_cpu = own_cpu() - cpu_before
        for process in pipeline.services:
            process.at_load_end = process.snapshot()
        for pid, before in broker_before.items():
            after = read_process_stats(pid)
            if before is not None and after is not None:
                broker_cpu += after.cpu_s - before.cpu_s
    finally:
        window = (load.last_answer - load.first_sent) if load else 0.0
        processes = _process_report(pipeline.services, window)
        for process in pipeline.services:
            process.terminate()
        await asyncio.gather(*(process.wait_exit(30) for process in pipeline.services))
        left = await pipeline.cleanup()
    accepted = len(load.accepted)
    queued = sum(left.values())
    for proc in processes.values():
        proc["cpu_ms_per_request"] = round(1000 * proc["run_cpu_s"] / accepted, 3) if accepted else None
    return {
        "pipeline": pipeline.label,
        "requests": run_args.events,
        "accepted": accepted,
        "rejected_by_status": load.rejected,
        "queued": queued,
        "accepted_per_s": round(accepted / max(window, 1e-9), 1),
        "ingest_ms": latency_ms(load.ingest_latency),
        "processes": processes,
        "harness_cpu_ms_per_request": round(1000 * harness_cpu / accepted, 3) if accepted else None,
        "broker_cpu_ms_per_request": round(1000 * broker_cpu / accepted, 3) if accepted else None,
        "exit_status": EXIT_OK if accepted == run_args.events and queued >= accepted else EXIT_LOST,
    }


def e2e_cpu(report: dict[str, Any]) -> float:
    """Every process's CPU ms per delivered event, summed: services, RabbitMQ, and the harness."""
    procs = [*report["processes"].values(), *report["broker"].values()]
    return round(sum(p["cpu_ms_per_event"] or 0.0 for p in procs) + (report["harness_cpu_ms_per_event"] or 0.0), 3)


def ingest_cpu(report: dict[str, Any]) -> float:
    return round(sum(p["cpu_ms_per_request"] or 0.0 for p in report["processes"].values())
                 + (report["broker_cpu_ms_per_request"] or 0.0) + (report["harness_cpu_ms_per_request"] or 0.0), 3)


async def one_pair(args: argparse.Namespace, number: int) -> dict[str, Any]:
    log(f"pair {number}: end to end, hookpipe then bare")
    e2e_hookpipe_args = run_arguments(args, events=args.events)
    hookpipe = await end_to_end(args, e2e_hookpipe_args, HookpipePipeline(e2e_hookpipe_args))
    e2e_bare_args = run_arguments(args, events=args.events, bare=True)
    bare = await end_to_end(args, e2e_bare_args, BarePipeline(e2e_bare_args))
    log(f"pair {number}: ingest alone, hookpipe (stripe) then bare")
    ingest_args = run_arguments(args, events=args.ingest_events)
    ingest_hookpipe = await ingest_alone(ingest_args, HookpipePipeline(ingest_args, services=("ingest",)))
    ingest_bare = await ingest_alone(ingest_args, BarePipeline(ingest_args, ingest_only=True))
    log(f"pair {number}: raw broker rate")
    raw = asdict(await measure_broker_rate(args.amqp_url, args.broker_messages, 1024))
    cpu = {"hookpipe": e2e_cpu(hookpipe), "bare": e2e_cpu(bare),
           "ingest_hookpipe": ingest_cpu(ingest_hookpipe), "ingest_bare": ingest_cpu(ingest_bare)}
    pair = {
        "pair": number,
        "cpu_ms_per_event": cpu,
        # What the throughput ratio would be if each side were CPU-bound on an otherwise idle machine:
        # the inverse ratio of their summed CPU per event (services, RabbitMQ, load generator and receiver).
        "delivered_cpu_ratio": round(cpu["bare"] / cpu["hookpipe"], 3),
        "ingest_cpu_ratio": round(cpu["ingest_bare"] / cpu["ingest_hookpipe"], 3),
        "hookpipe": hookpipe, "bare": bare, "ingest_hookpipe": ingest_hookpipe, "ingest_bare": ingest_bare,
        "broker": raw,
        "delivered_ratio": round(hookpipe["delivered_per_s"] / bare["delivered_per_s"], 3),
        "ingest_ratio": round(ingest_hookpipe["accepted_per_s"] / ingest_bare["accepted_per_s"], 3),
        "broker_ratio": round(hookpipe["delivered_per_s"] / raw["messages_per_s"], 3),
    }
    log(f"pair {number}: delivered/s hookpipe {hookpipe['delivered_per_s']} vs bare {bare['delivered_per_s']} "
        f"({pair['delivered_ratio']:.2f}); ingest accepted/s {ingest_hookpipe['accepted_per_s']} vs "
        f"{ingest_bare['accepted_per_s']} ({pair['ingest_ratio']:.2f}); raw broker {raw['messages_per_s']}/s")
    return pair


async def delivery_log_pair(args: argparse.Namespace, number: int) -> dict[str, Any]:
    """hookpipe end to end with the delivery log on, then off: what recording every decision and attempt costs."""
    log(f"delivery-log pair {number}: end to end, log on then off")
    on_args = run_arguments(args, events=args.events, delivery_log=True)
    on = await end_to_end(args, on_args, HookpipePipeline(on_args))
    off_args = run_arguments(args, events=args.events)
    off = await end_to_end(args, off_args, HookpipePipeline(off_args))
    pair = {
        "pair": number, "on": on, "off": off,
        "delivered_ratio": round(on["delivered_per_s"] / off["delivered_per_s"], 3),
        "cpu_ms_per_event": {"on": e2e_cpu(on), "off": e2e_cpu(off)},
    }
    log(f"delivery-log pair {number}: delivered/s on {on['delivered_per_s']} vs off {off['delivered_per_s']} "
        f"({pair['delivered_ratio']:.3f}); CPU ms/event {pair['cpu_ms_per_event']['on']} vs "
        f"{pair['cpu_ms_per_event']['off']}")
    return pair


async def matrix(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    for rate_mode in ("fixed", "saturation"):
        for body_size in BODY_SIZES:
            for destinations in (1, 20):
                if rate_mode == "fixed":
                    rate: float | None = FIXED_RATE[destinations]
                    events = int(FIXED_RATE[destinations] * FIXED_SECONDS)
                else:
                    rate, events = None, SATURATION_EVENTS[destinations]
                log(f"matrix: {rate_mode}, {body_size} B, {destinations} destination(s), {events} events")
                run_args = run_arguments(args, events=events, body_size=body_size, destinations=destinations,
                                         rate=rate)
                report = await end_to_end(args, run_args, HookpipePipeline(run_args))
                report["mode"] = rate_mode
                runs.append(report)
    return runs


# --- figures ---------------------------------------------------------------------------------------------


def delivery_log_table(pairs: list[dict[str, Any]], median_ratio: float | None) -> str:
    lines = [
        "interleaved pairs (A = delivery log on, B = off), hookpipe end to end, 1 KiB, 1 destination, saturation",
        f"{'pair':>4} {'on dlv/s':>9} {'off dlv/s':>9} {'ratio':>6}   {'on CPU ms/ev':>12} {'off CPU ms/ev':>13}",
    ]
    for pair in pairs:
        cpu = pair["cpu_ms_per_event"]
        lines.append(f"{pair['pair']:>4} {pair['on']['delivered_per_s']:>9.1f} {pair['off']['delivered_per_s']:>9.1f}"
                     f" {pair['delivered_ratio']:>6.3f}   {cpu['on']:>12.2f} {cpu['off']:>13.2f}")
    lines.append(f"median delivered/s ratio, on over off: {median_ratio}")
    return "\n".join(lines)


def pairs_table(pairs: list[dict[str, Any]], medians: dict[str, float | None]) -> str:
    lines = [
        "interleaved pairs (A = hookpipe, B = bare), 1 KiB, 1 destination, stripe-signed, saturation",
        f"{'pair':>4} {'hp dlv/s':>9} {'bare dlv/s':>10} {'ratio':>6}   {'hp ingest/s':>11} {'bare ingest/s':>13}"
        f" {'ratio':>6}   {'broker msg/s':>12} {'hp/broker':>9}",
    ]
    for pair in pairs:
        lines.append(
            f"{pair['pair']:>4} {pair['hookpipe']['delivered_per_s']:>9.1f} {pair['bare']['delivered_per_s']:>10.1f}"
            f" {pair['delivered_ratio']:>6.2f}   {pair['ingest_hookpipe']['accepted_per_s']:>11.1f}"
            f" {pair['ingest_bare']['accepted_per_s']:>13.1f} {pair['ingest_ratio']:>6.2f}   "
            f"{pair['broker']['messages_per_s']:>12.1f} {pair['broker_ratio']:>9.2f}")
    lines.append(f"median: delivered/s ratio {medians['delivered_ratio']}, ingest accepted/s ratio "
                 f"{medians['ingest_ratio']}, hookpipe delivered/s over raw broker rate {medians['broker_ratio']}")
    lines.append("summed CPU ms/event (services + rabbitmq + harness), bare over hookpipe = the throughput ratio "
                 "on an idle machine:")
    for pair in pairs:
        cpu = pair["cpu_ms_per_event"]
        lines.append(f"{pair['pair']:>4} end to end {cpu['hookpipe']:.2f} vs {cpu['bare']:.2f} "
                     f"({pair['delivered_cpu_ratio']:.2f}); ingest {cpu['ingest_hookpipe']:.2f} vs "
                     f"{cpu['ingest_bare']:.2f} ({pair['ingest_cpu_ratio']:.2f})")
    lines.append(f"median: end to end {medians['delivered_cpu_ratio']}, ingest {medians['ingest_cpu_ratio']}")
    cpu = {}
    for key in ("hookpipe", "bare"):
        per_process: dict[str, list[float]] = {}
        for pair in pairs:
            for name, proc in pair[key]["processes"].items():
                if proc.get("cpu_ms_per_event") is not None:
                    per_process.setdefault(name, []).append(proc["cpu_ms_per_event"])
        cpu[key] = ", ".join(f"{name} {statistics.median(v):.2f}" for name, v in per_process.items())
    lines.append(f"median CPU ms/event: hookpipe {cpu['hookpipe']}; bare {cpu['bare']}")
    return "\n".join(lines)


def matrix_table(runs: list[dict[str, Any]]) -> str:
    def ms(figures: dict[str, Any]) -> str:
        return "/".join("-" if figures[p] is None else f"{figures[p]:.0f}" for p in ("p50", "p95", "p99"))

    lines = ["matrix (hookpipe): deliveries = events x destinations; latency p50/p95/p99 ms; CPU ms per delivery "
             "and peak RSS MiB per process",
             f"{'mode':<10} {'body':>6} {'dst':>4} {'offered':>8} {'acc/s':>7} {'dlv/s':>7} {'ingest ms':>15} "
             f"{'e2e ms':>17}  {'ingest':>12} {'router':>12} {'deliverer':>12} {'rabbitmq':>8}"]
    def proc(run: dict[str, Any], name: str) -> str:
        p = run["processes"].get(name)
        return "-" if p is None else f"{p['cpu_ms_per_event'] or 0:.2f}/{p['rss_peak_kib'] / 1024:.0f}"

    for run in runs:
        broker = next(iter(run.get("broker", {}).values()), None)
        lines.append(
            f"{run['mode']:<10} {run['body_size'] // 1024:>4}Ki {run['destinations']:>4} "
            f"{(str(run['rate']) + '/s') if run['rate'] else 'max':>8} {run['accepted_per_s']:>7.0f} "
            f"{run['delivered_per_s']:>7.0f} {ms(run['ingest_ms']):>15} {ms(run['e2e_ms']):>17}  "
            f"{proc(run, 'ingest'):>12} {proc(run, 'router'):>12} {proc(run, 'deliverer'):>12} "
            f"{'-' if broker is None else format(broker['cpu_ms_per_event'] or 0, '.2f'):>8}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()
    started = time.time()
    pairs: list[dict[str, Any]] = []
    log_pairs: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    try:
        for number in range(1, args.log_pairs + 1):
            log_pairs.append(await delivery_log_pair(args, number))
        for number in range(1, args.pairs + 1):
            pairs.append(await one_pair(args, number))
        if args.matrix:
            runs = await matrix(args)
    except SetupFailed as error:
        log(f"setup failed: {error}")
        return EXIT_SETUP
    medians = {key: median([pair[key] for pair in pairs])
               for key in ("delivered_ratio", "ingest_ratio", "broker_ratio", "delivered_cpu_ratio",
                           "ingest_cpu_ratio")} if pairs else {}
    report = {
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                    "seconds": round(time.time() - started, 1)},
        "pairs": pairs, "medians": medians, "matrix": runs, "delivery_log_pairs": log_pairs,
        "delivery_log_median_ratio": median([pair["delivered_ratio"] for pair in log_pairs]) if log_pairs else None,
    }
    tables = [delivery_log_table(log_pairs, report["delivery_log_median_ratio"])] if log_pairs else []
    tables += [pairs_table(pairs, medians)] if pairs else []
    if runs:
        tables.append(matrix_table(runs))
    tables.append(f"load average before {load_before[0]:.2f}, after {report['machine']['loadavg_after'][0]:.2f}")
    text = "\n\n".join(tables)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(report))
    else:
        print(text)
    failed = [run.get("exit_status") for run in [*runs, *(r for p in pairs for r in (
        p["hookpipe"], p["bare"], p["ingest_hookpipe"], p["ingest_bare"])), *(r for p in log_pairs for r in (
        p["on"], p["off"]))] if run.get("exit_status") != EXIT_OK]
    return EXIT_OK if not failed else EXIT_LOST


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/compare.py", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved A/B pairs (default 5)")
    parser.add_argument("--events", type=int, default=10000,
                        help="events per end-to-end run of a pair (default 10000)")
    parser.add_argument("--ingest-events", type=int, default=10000,
                        help="requests per ingest-alone run of a pair (default 10000)")
    parser.add_argument("--broker-messages", type=int, default=10000,
                        help="messages per raw broker rate run (default 10000)")
    parser.add_argument("--concurrency", type=int, default=50, help="ingest requests in flight (default 50)")
    parser.add_argument("--no-matrix", dest="matrix", action="store_false", help="the pairs only")
    parser.add_argument("--log-pairs", type=int, default=0,
                        help="first, this many interleaved end-to-end pairs of hookpipe with the delivery log on "
                             "and off (default 0)")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on each run, in seconds (default 300)")
    add_amqp_argument(parser)
    add_output_arguments(parser, "the services")
    args = parser.parse_args(argv)
    check_amqp_url(parser, args.amqp_url)
    smallest = min(args.events, args.ingest_events, args.broker_messages, args.concurrency)
    if args.pairs < 0 or args.log_pairs < 0 or smallest < 1:
        parser.error("--pairs and --log-pairs must be at least 0; --events, --ingest-events, --broker-messages and "
                     "--concurrency at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
