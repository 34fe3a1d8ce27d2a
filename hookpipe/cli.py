"""The `hookpipe` command: run a service, check a config, apply the topology."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from hookpipe import __version__


def _config_path(value: str | None) -> str:
    path = value or os.environ.get("HOOKPIPE_CONFIG")
    if not path:
        print("hookpipe: give --config FILE or set HOOKPIPE_CONFIG", file=sys.stderr)
        raise SystemExit(2)
    return path


def _run_ingest(args: argparse.Namespace) -> int:
    from hookpipe.service import run_service
    from ingest.app import IngestService

    return run_service("ingest", _config_path(args.config), IngestService)


def _run_router(args: argparse.Namespace) -> int:
    from hookpipe.service import run_service
    from router.service import RouterService

    return run_service("router", _config_path(args.config), RouterService)


def _run_deliverer(args: argparse.Namespace) -> int:
    from deliverer.service import DelivererService
    from hookpipe.service import run_service

    return run_service("deliverer", _config_path(args.config), DelivererService)


def _config_check(args: argparse.Namespace) -> int:
    from hookpipe.config import ConfigError
    from hookpipe.service import load_or_exit
    from ingest.app import compile_sources
    from router.rules import compile_routes

    loaded = load_or_exit(_config_path(args.file))
    problems = []
    for compile_step in (compile_sources, compile_routes):  # what each service checks when it starts
        try:
            compile_step(loaded.config)
        except ConfigError as error:
            problems += error.problems
    if problems:
        for problem in problems:
            print(f"hookpipe: config error: {problem}", file=sys.stderr)
        return 2
    for warning in loaded.warnings:
        print(f"hookpipe: warning: {warning}", file=sys.stderr)
    config = loaded.config
    print(f"{loaded.path}: ok ({len(config.sources)} sources, {len(config.destinations)} destinations, "
          f"{len(config.routes)} routes)")
    return 0


def _topology_apply(args: argparse.Namespace) -> int:
    import aio_pika

    from hookpipe.config import redact_url
    from hookpipe.service import load_or_exit
    from hookpipe.topology import declare_all

    config = load_or_exit(_config_path(args.config)).config

    async def apply() -> None:
        connection = await aio_pika.connect(config.broker.url, timeout=10)
        async with connection:
            await declare_all(await connection.channel(), config)

    try:
        asyncio.run(apply())
    except Exception as error:
        from hookpipe.broker import describe

        print(f"hookpipe: cannot apply the topology on {redact_url(config.broker.url)}: {describe(error)}",
              file=sys.stderr)
        return 1
    print(f"topology '{config.broker.prefix}' declared")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hookpipe", description="Self-hosted webhook event pipeline.")
    parser.add_argument("--version", action="version", version=f"hookpipe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    for name, run, text in (
        ("ingest", _run_ingest, "run the public webhook listener"),
        ("router", _run_router, "run the routing service"),
        ("deliverer", _run_deliverer, "run the outbound delivery service"),
    ):
        service = commands.add_parser(name, help=text)
        service.add_argument("--config", help="pipeline YAML (default: $HOOKPIPE_CONFIG)")
        service.set_defaults(run=run)

    config = commands.add_parser("config", help="work with the config file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file: exit 0 if usable, 2 if not")
    check.add_argument("file", nargs="?", help="pipeline YAML (default: $HOOKPIPE_CONFIG)")
    check.set_defaults(run=_config_check)

    topology = commands.add_parser("topology", help="RabbitMQ exchanges and queues")
    topology_commands = topology.add_subparsers(dest="topology_command", required=True)
    apply = topology_commands.add_parser("apply", help="declare every exchange and queue the config needs")
    apply.add_argument("--config", help="pipeline YAML (default: $HOOKPIPE_CONFIG)")
    apply.set_defaults(run=_topology_apply)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
