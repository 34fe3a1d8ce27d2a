"""`hookpipe events show ID`: where an event is (the work: control.events)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from control.common import CONFIG_HELP, EXIT_USAGE, load, print_json, with_broker
from control.events import EXIT_NOT_FOUND, locate, render_location, stream_offset


def add_parser(commands: Any) -> None:
    events = commands.add_parser("events", help="find events")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    show = events_commands.add_parser(
        "show", help="what happened to an event: received, routed, every attempt, dead-lettered",
        description="Reads the delivery-log index hookpipe admin keeps (admin.index) when it can be read from "
                    "here: the routing decision and every attempt per destination. Without it, or when it does "
                    "not know the event as archived, reads the archive stream from --since to its end. Reads "
                    "every dead queue in place (nothing is removed). Exit 0 when found, 3 when not.",
    )
    show.add_argument("id", help="the event id (the provider's delivery id, or hookpipe's UUIDv7)")
    show.add_argument("--config", help=CONFIG_HELP)
    show.add_argument("--since", default="first",
                      help="where the archive read starts: first (default), a time such as 2026-11-27T06:00:00Z, "
                           "or a duration such as 2h")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(run=_events_show)


def _events_show(args: argparse.Namespace) -> int:
    config = load(args.config)
    try:
        stream_offset(args.since)
    except ValueError as error:
        print(f"hookpipe: {error}", file=sys.stderr)
        return EXIT_USAGE
    document = with_broker(config, lambda connection: locate(connection, config, args.id, since=args.since))
    if args.json:
        print_json(document)
    else:
        print(render_location(document))
    return 0 if document["found"] else EXIT_NOT_FOUND
