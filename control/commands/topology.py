"""`hookpipe topology apply|prune`: declare what the config needs; delete the retry rungs it no longer uses."""

from __future__ import annotations

import argparse
import os
from typing import Any

from aio_pika.abc import AbstractConnection

from control.common import CONFIG_HELP, load, with_broker
from control.prune import PruneReport, candidate_rungs, listed_rungs, prune_rungs
from hookpipe.amqp.topology import declare_all
from hookpipe.config import redact_url


def add_parser(commands: Any) -> None:
    topology = commands.add_parser("topology", help="RabbitMQ exchanges and queues")
    topology_commands = topology.add_subparsers(dest="topology_command", required=True)
    apply = topology_commands.add_parser("apply", help="declare every exchange and queue the config needs")
    apply.add_argument("--config", help=CONFIG_HELP)
    apply.set_defaults(run=_topology_apply)
    prune = topology_commands.add_parser(
        "prune", help="delete empty retry rungs the config does not use",
        description="Deletes each retry rung queue (and its exchange) that is empty, has no consumer and is not "
                    "used by the config's schedules. Plain AMQP cannot list queues: the rungs checked are those "
                    "this config can create at run time, the --rung values, and with --management-url (or "
                    "$HOOKPIPE_MANAGEMENT_URL) every retry rung the broker lists.",
    )
    prune.add_argument("--config", help=CONFIG_HELP)
    prune.add_argument("--management-url", help="RabbitMQ management API, e.g. http://guest:guest@127.0.0.1:15672")
    prune.add_argument("--rung", type=int, action="append", default=[], metavar="MS",
                       help="also check the rung of this TTL (ms); repeatable")
    prune.add_argument("--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    prune.set_defaults(run=_topology_prune)


def _topology_apply(args: argparse.Namespace) -> int:
    config = load(args.config)

    async def apply(connection: AbstractConnection) -> None:
        await declare_all(await connection.channel(), config)

    with_broker(config, apply, failure=f"cannot apply the topology on {redact_url(config.broker.url)}")
    print(f"topology '{config.broker.prefix}' declared")
    return 0


def _topology_prune(args: argparse.Namespace) -> int:
    config = load(args.config)
    management_url = args.management_url or os.environ.get("HOOKPIPE_MANAGEMENT_URL")

    async def prune(connection: AbstractConnection) -> PruneReport:
        extra = list(args.rung)
        if management_url:
            extra += await listed_rungs(management_url, config.broker.url[0], config.broker.prefix)  # for its vhost
        return await prune_rungs(connection, config, candidate_rungs(config, extra), dry_run=args.dry_run)

    where = redact_url(management_url) if management_url else redact_url(config.broker.url)
    report = with_broker(config, prune, failure=f"cannot prune the topology via {where}")
    verb = "would delete" if args.dry_run else "deleted"
    print(f"retry rungs {verb}: {_rung_list(report.deleted)}")
    print(f"kept, not empty or in use: {_rung_list(report.busy)}")
    print(f"kept, used by the config: {_rung_list(report.configured)}")
    if not management_url:
        print("(without --management-url only the rungs this config can create at run time and --rung values "
              "are checked; rungs of an older config's schedule need the management API or --rung)")
    return 0


def _rung_list(rungs: list[int]) -> str:
    return ", ".join(f"{ms} ms" for ms in rungs) if rungs else "none"
