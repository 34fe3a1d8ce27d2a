"""`hookpipe config check [FILE]`: validate a config as the services would when they start."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from control.common import CONFIG_HELP, config_path

if TYPE_CHECKING:
    from hookpipe.config import LoadedConfig
    from ingest.app import Source
    from router.rules import RouteTable


def add_parser(commands: Any) -> None:
    config = commands.add_parser("config", help="work with the config file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file: exit 0 if usable, 2 if not")
    check.add_argument("file", nargs="?", help=CONFIG_HELP)
    check.set_defaults(run=_config_check)


def checked_config(path: str) -> tuple[LoadedConfig, dict[str, Source], RouteTable]:
    """Load the config and compile it as the services do when they start; on any problem print one line each
    and exit 2."""
    from hookpipe.config import ConfigError
    from hookpipe.runtime.service import exit_config_error, load_or_exit
    from ingest.app import compile_sources
    from router.rules import compile_routes

    loaded = load_or_exit(path)
    problems = []
    sources = {}
    try:
        sources = compile_sources(loaded.config)
    except ConfigError as error:
        problems += error.problems
    try:
        routes = compile_routes(loaded.config)
    except ConfigError as error:
        problems += error.problems
    if problems:
        exit_config_error(problems)
    return loaded, sources, routes


def _config_check(args: argparse.Namespace) -> int:
    loaded, _, _ = checked_config(config_path(args.file))
    for warning in loaded.warnings:
        print(f"hookpipe: warning: {warning}", file=sys.stderr)
    config = loaded.config
    print(f"{loaded.path}: ok ({len(config.sources)} sources, {len(config.destinations)} destinations, "
          f"{len(config.routes)} routes)")
    return 0
