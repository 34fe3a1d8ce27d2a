"""`hookpipe status`: queues, rates and each destination's state at a glance (the work: control.status)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from control.common import CONFIG_HELP, EXIT_BROKER, duration, load, print_json
from control.status import collect_status, render_status
from hookpipe.amqp.broker import describe
from hookpipe.config import redact_url


def add_parser(commands: Any) -> None:
    status = commands.add_parser(
        "status", help="queues, rates, deliverer replicas and each destination's breaker, pause and dead letters",
        description="Depth and consumers of every queue (passive declares), rates over --interval (queue depth "
                    "change, and the services' counters from /metrics at the ops addresses in the config: one "
                    "replica each), and per destination the replica delivering it, breaker state, paused flag, "
                    "attempts in flight, dead-letter count and last error (every deliverer replica, asked over the "
                    "broker, until each has answered or 2s). A service that does not answer is shown as unknown; "
                    "exit 1 only when the broker cannot be reached.",
    )
    status.add_argument("--config", help=CONFIG_HELP)
    status.add_argument("--interval", default="1s", type=duration,
                        help="time between the two samples the rates come from (default 1s; 0: no rates)")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(run=_status)


def _status(args: argparse.Namespace) -> int:
    config = load(args.config)
    try:
        document = asyncio.run(collect_status(config, interval=args.interval))
    except Exception as error:  # the broker went away between two samples
        print(f"hookpipe: cannot read the status from {redact_url(config.broker.url)}: {describe(error)}",
              file=sys.stderr)
        return EXIT_BROKER
    if args.json:
        print_json(document)
    else:
        print(render_status(document))
    return 0 if document["broker"]["reachable"] else EXIT_BROKER
