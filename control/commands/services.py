"""`hookpipe ingest|router|deliverer [--config FILE]`: run one service, as `python -m ingest` does."""

from __future__ import annotations

import argparse
from typing import Any

from hookpipe.runtime.service import main

#: The attribute of the parsed arguments that holds a service command's own options, handed on to its parser.
FORWARDED = "service_argv"

SERVICES = (
    ("ingest", "run the public webhook listener"),
    ("router", "run the routing service"),
    ("deliverer", "run the outbound delivery service"),
)


def add_parser(commands: Any) -> None:
    for name, text in SERVICES:
        service = commands.add_parser(name, help=text, add_help=False)  # --help and --config: main's parser
        service.set_defaults(run=_run, **{FORWARDED: []})


def _run(args: argparse.Namespace) -> int:
    argv = getattr(args, FORWARDED)
    if args.command == "ingest":
        from ingest.app import IngestService

        return main("ingest", IngestService, argv)
    if args.command == "router":
        from router.service import RouterService

        return main("router", RouterService, argv)
    from deliverer.service import DelivererService

    return main("deliverer", DelivererService, argv)
