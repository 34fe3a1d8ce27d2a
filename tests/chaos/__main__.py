"""`python -m tests.chaos`: the chaos scenarios and the overload run, a table each; exit 1 if anything failed.

    python -m tests.chaos                            # full: 20,000 events per scenario, 60 s overload
    python -m tests.chaos --events 3000 --overload-seconds 15   # the short run CI does (make chaos-short)
    python -m tests.chaos --only kill-router,proxy-cut --no-overload
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.report import chaos_table, overload_table
from tests.chaos.runner import ScenarioResult, run_scenario
from tests.chaos.scenarios import SCENARIOS

#: Events per scenario in the full run (the issue's figure).
FULL_EVENTS = 20_000

#: Requests the provider-like load keeps in flight during the chaos scenarios.
LOAD_CONCURRENCY = 32

#: Bytes per event body in the chaos scenarios.
BODY_SIZE = 1024

#: Bound on the wait for the last ids after sending ends (s): far above a healthy drain (seconds), well below
#: the 5-minute unacked bound, so a stuck pipeline fails the run instead of hanging it.
DRAIN_TIMEOUT = 240.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=FULL_EVENTS, help="events per scenario")
    parser.add_argument("--concurrency", type=int, default=LOAD_CONCURRENCY, help="load requests in flight")
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--no-chaos", action="store_true", help="skip the scenarios")
    parser.add_argument("--no-overload", action="store_true", help="skip the overload run")
    parser.add_argument("--overload-seconds", type=float, default=60.0, help="seconds of load per body size")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs even if all passed")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> int:
    work_dir = Path(tempfile.mkdtemp(prefix="hookpipe-chaos-"))
    started = time.monotonic()
    failed = False
    if not args.no_chaos:
        wanted = set(filter(None, args.only.split(",")))
        unknown = wanted - {s.name for s in SCENARIOS}
        if unknown:
            print(f"unknown scenario(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        results: list[ScenarioResult] = []
        for scenario in SCENARIOS:
            if wanted and scenario.name not in wanted:
                continue
            print(f"[chaos] {scenario.name}: {scenario.what}, {args.events} events ...", flush=True)
            result = await run_scenario(scenario, events=args.events, concurrency=args.concurrency,
                                        body_size=BODY_SIZE, work_dir=work_dir, drain_timeout=DRAIN_TIMEOUT)
            results.append(result)
            for line in result.timeline:
                print(f"    {line}")
            for problem in result.problems:
                print(f"    PROBLEM: {problem}")
            if result.lost:
                print(f"    LOST {result.lost}, e.g. {result.lost_sample}")
            if result.skipped:
                print(f"    skipped: {result.skipped}")
            print(f"[chaos] {scenario.name}: {'ok' if result.passed else 'FAIL'} in {result.seconds:.0f}s",
                  flush=True)
        print("\nchaos: events per scenario; dup = arrivals beyond an id's first; "
              "bound = kills x unconfirmed window\n" + chaos_table(results))
        failed |= not all(r.passed for r in results)
    if not args.no_overload:
        from tests.chaos.overload import run_overload

        overload = await run_overload(seconds=args.overload_seconds, work_dir=work_dir)
        print(overload.summary)
        print(overload_table(overload.results))
        failed |= not overload.passed
    print(f"\ntotal {time.monotonic() - started:.0f}s; {'FAILED' if failed else 'all passed'}")
    if failed or args.keep_logs:
        print(f"service logs kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    # aio-pika logs a warning for each cancelled RPC (the queue sampler stopping): noise in the report.
    for library in ("aio_pika", "aiormq"):
        logging.getLogger(library).setLevel(logging.ERROR)
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
