"""`hookpipe replay`: send archived events through the current rules again (the work: control.replay)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from control.common import CONFIG_HELP, EXIT_BROKER, EXIT_USAGE, BrokerUnreachable, load
from control.replay import (
    DRY_RUN_LISTED,
    ProgressLine,
    Replay,
    ReplayError,
    ReplayOptions,
    parse_moment,
    render_listing,
)
from hookpipe.amqp.broker import describe
from hookpipe.config.units import parse_rate


def add_parser(commands: Any) -> None:
    replay = commands.add_parser(
        "replay", help="send archived events through the current rules again",
        description="Reads the archive stream from --since to --until (default: now), keeps the events that pass "
                    "the filters and match the current routes, and publishes them to the router's queue "
                    "(never archived again). T is RFC 3339 (2026-11-27T08:00:00Z) or a duration back from now "
                    "(2h). Exit 0 when every publish is confirmed, 1 if not, 2 for bad options.",
    )
    replay.add_argument("--config", help=CONFIG_HELP)
    replay.add_argument("--since", required=True, metavar="T", help="start of the window")
    replay.add_argument("--until", metavar="T", help="end of the window (default: when the command starts)")
    replay.add_argument("--source", metavar="S", help="only events from this source")
    replay.add_argument("--type", metavar="T", help="only events of this type")
    replay.add_argument("--id", metavar="ID", help="only the event with this id")
    only = replay.add_mutually_exclusive_group()
    only.add_argument("--route", metavar="R", help="evaluate only this route; deliver only to its destinations")
    only.add_argument("--destination", metavar="D", help="keep only the deliveries to this destination")
    replay.add_argument("--dry-run", action="store_true",
                        help="list and count what would be replayed, publish nothing")
    replay.add_argument("--list", type=int, default=DRY_RUN_LISTED, metavar="N",
                        help=f"events a dry run lists, with their destinations under the current rules; the "
                             f"counts cover them all (default {DRY_RUN_LISTED}; 0: counts only)")
    replay.add_argument("--rate", metavar="N/s", help="publish at most this many events per second")
    replay.set_defaults(run=_replay)


def _replay(args: argparse.Namespace) -> int:
    config = load(args.config)
    started = datetime.now(UTC)
    try:
        options = ReplayOptions(
            since=parse_moment(args.since, started),
            until=parse_moment(args.until, started) if args.until else started,
            source=args.source, type=args.type, id=args.id, route=args.route, destination=args.destination,
            dry_run=args.dry_run, rate=parse_rate(args.rate) if args.rate else None, listed=args.list,
        )
        progress = ProgressLine()
        replay = Replay(config, options, progress)
    except (ReplayError, ValueError) as error:
        print(f"hookpipe: {error}", file=sys.stderr)
        return EXIT_USAGE
    window = f"{options.since.isoformat()} .. {options.until.isoformat()}"
    try:
        summary = asyncio.run(replay.run())
    except Exception as error:
        progress.finish()
        _report_failure(replay, error)
        return EXIT_BROKER
    progress.finish()
    for line in render_listing(summary):
        print(line)
    print(f"replay {window}: {summary.line(options.dry_run)}")
    return 0


def _report_failure(replay: Replay, error: Exception) -> None:
    """Why the replay stopped and, when it published some events, where a rerun can go on from."""
    if not isinstance(error, ReplayError):
        why = str(error) if isinstance(error, BrokerUnreachable) else describe(error)
        print(f"hookpipe: replay failed: {why}", file=sys.stderr)
        return
    print(f"hookpipe: replay failed: {error}; {replay.summary.line(replay.options.dry_run)}", file=sys.stderr)
    if replay.summary.last_published_at is not None:
        at = datetime.fromtimestamp(replay.summary.last_published_at / 1000, UTC).isoformat()
        print(f"hookpipe: events received up to {at} were published; rerun with --since {at} to go on "
              "(receivers drop repeats by webhook-id)", file=sys.stderr)
