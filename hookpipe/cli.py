"""The `hookpipe` command: run a service, check a config, try routes on sample events, apply the topology."""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hookpipe import __version__

if TYPE_CHECKING:
    from hookpipe.config import LoadedConfig
    from hookpipe.event import Event
    from ingest.app import Source
    from router.rules import RouteTable

#: Exit status of `routes test` when an event cannot be read (the others are still reported).
EXIT_BAD_EVENT = 1

#: Exit status when whoever reads stdout closes it early (`hookpipe ... | head -1`): 128 + SIGPIPE (13), what a
#: shell reports for cat or grep ended by SIGPIPE. Not 0: the command may have stopped before its work was done
#: (`routes test` reads no further events), and `set -o pipefail` scripts see hookpipe as they see those tools.
EXIT_BROKEN_PIPE = 141

#: The --config option's help, the same on every command.
CONFIG_HELP = "pipeline YAML (default: $HOOKPIPE_CONFIG)"

#: The keys of a match document given to `routes test`; `verified` is optional and true by default.
EVENT_KEYS = ("id", "source", "type", "headers", "body", "verified")

#: A match document's keys as the messages of `routes test` show them.
MATCH_DOCUMENT = "{" + ", ".join(f'"{key}"' for key in EVENT_KEYS) + "}"

#: Content type of a raw body given to `routes test --body` without a `--header content-type=...`.
RAW_BODY_CONTENT_TYPE = "application/json"


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


def _checked_config(path: str) -> tuple[LoadedConfig, dict[str, Source], RouteTable]:
    """Load the config and compile it as the services do when they start; on any problem print one line each
    and exit 2."""
    from hookpipe.config import ConfigError
    from hookpipe.service import EXIT_CONFIG_ERROR, load_or_exit
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
        for problem in problems:
            print(f"hookpipe: config error: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR)
    return loaded, sources, routes


def _config_check(args: argparse.Namespace) -> int:
    loaded, _, _ = _checked_config(_config_path(args.file))
    for warning in loaded.warnings:
        print(f"hookpipe: warning: {warning}", file=sys.stderr)
    config = loaded.config
    print(f"{loaded.path}: ok ({len(config.sources)} sources, {len(config.destinations)} destinations, "
          f"{len(config.routes)} routes)")
    return 0


def _routes_test(args: argparse.Namespace) -> int:
    """Route each event given as a match document, or the one raw body given with --body, as the router would,
    and show what each destination gets."""
    from router.rules import UnparsableBody
    from router.transform import TransformError

    raw_options = [option for option, value in (("--source", args.source), ("--type", args.type), ("--id", args.id),
                                                ("--header", args.header)) if value]
    if args.body is None and raw_options:
        args.usage_error(f"{raw_options[0]} describes a raw body: give --body FILE with it")
    if args.body is not None and args.events:
        args.usage_error("give EVENT files (match documents) or --body FILE (a raw body), not both")
    if args.body is not None and args.source is None:
        args.usage_error("--body needs --source NAME: the source the provider posts to")
    if args.body is None and not args.events:
        args.usage_error("give EVENT files (match documents), or --source NAME --body FILE for a raw body")
    _, sources, routes = _checked_config(_config_path(args.config))
    if args.source is not None and args.source not in sources:
        args.usage_error(f"unknown source '{args.source}'; sources: {', '.join(sources) or 'none'}")
    events = _read_events(args.events) if args.body is None else iter([_raw_event(args, sources[args.source])])
    status = 0
    for label, event in events:
        if event is None:
            status = EXIT_BAD_EVENT
            continue
        report: dict[str, Any] = {"input": label, "id": event.id, "source": event.source, "type": event.type}
        try:
            matched, deliveries = routes.match(event)
        except (UnparsableBody, TransformError) as error:
            reason = "bad_json" if isinstance(error, UnparsableBody) else "transform_failed"
            report |= {"routes": [], "deliveries": [], "dead_letter": {"reason": reason, "error": str(error)}}
        else:
            report |= {"routes": matched, "deliveries": [
                {"destination": delivery.destination, "route": delivery.route,
                 "content_type": delivery.content_type or event.content_type, "payload": _payload_value(delivery.body)}
                for delivery in deliveries
            ]}
        if args.json:
            print(orjson.dumps(report).decode(), flush=True)
        else:
            print(_describe_routing(report), flush=True)
    return status


def _read_events(arguments: list[str]) -> Iterator[tuple[str, Event | None]]:
    """(label, event) per event in input order; None, after printing why, for one that cannot be read."""
    for argument in arguments:
        if argument == "-":
            for number, line in enumerate(sys.stdin.buffer, start=1):
                if line.strip():
                    yield _parse_event(f"<stdin>:{number}", line)
            continue
        try:
            data = Path(argument).read_bytes()
        except OSError as error:
            print(f"hookpipe: cannot read event {argument}: {error.strerror}", file=sys.stderr)
            yield argument, None
            continue
        yield _parse_event(argument, data)


def _parse_event(label: str, data: bytes) -> tuple[str, Event | None]:
    try:
        return label, _event_from_document(orjson.loads(data))
    except orjson.JSONDecodeError as error:
        problem = f"not JSON ({error})"
    except NotAMatchDocument as error:  # most likely a provider's payload, given as it was posted
        body = "FILE" if label.startswith("<stdin>") else label
        problem = (f"{error}: an EVENT is a match document, {MATCH_DOCUMENT} with the provider's payload under "
                   f"\"body\"; to test a raw payload as the provider posts it, give --source NAME --body {body}")
    except ValueError as error:
        problem = str(error)
    print(f"hookpipe: cannot read event {label}: {problem}", file=sys.stderr)
    return label, None


class NotAMatchDocument(ValueError):
    """A JSON object with keys a match document does not have."""


def _event_from_document(document: Any) -> Event:
    """The event a match document describes; the raw body is the document's body as compact JSON."""
    from hookpipe.event import Event, now_ms

    if not isinstance(document, dict):
        raise ValueError("expected a JSON object with id, source, type, headers and body")
    unknown = sorted(set(document).difference(EVENT_KEYS))
    if unknown:
        raise NotAMatchDocument(f"unknown key '{unknown[0]}'")
    for key in ("id", "source", "body"):
        if key not in document:
            raise ValueError(f"'{key}' is required")
    if not isinstance(document["id"], str) or not document["id"]:
        raise ValueError("'id' must be a non-empty string")
    if not isinstance(document["source"], str) or not document["source"]:
        raise ValueError("'source' must be a non-empty string")
    if not isinstance(document.get("type"), str | None):
        raise ValueError("'type' must be a string or null")
    headers = document.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise ValueError("'headers' must be an object of strings")
    verified = document.get("verified", True)
    if not isinstance(verified, bool):
        raise ValueError("'verified' must be true or false")
    return Event(
        id=document["id"], source=document["source"], type=document.get("type"), received_at=now_ms(),
        verified=verified, content_type="application/json", body=orjson.dumps(document["body"]),
        headers={name.lower(): value for name, value in headers.items()},
    )


def _raw_event(args: argparse.Namespace, source: Source) -> tuple[str, Event | None]:
    """The event ingest would publish for a request to `source` with this body and these headers: the id and
    type found where ingest finds them (unless given), the headers ingest keeps, the body byte for byte."""
    import time

    from hookpipe.event import Event, now_ms
    from ingest.app import identify
    from ingest.verify import InboundRequest, Rejected

    label = "<stdin>" if args.body == "-" else args.body
    try:
        body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
    except OSError as error:
        print(f"hookpipe: cannot read body {label}: {error.strerror}", file=sys.stderr)
        return label, None
    headers: dict[str, str] = {}
    for name, value in args.header:  # a repeated header's values joined, as ingest joins them
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    request = InboundRequest(method="POST", query_string="", headers=headers, body=body, now=time.time())
    try:
        event_id, event_type, _ = identify(source, request)
    except Rejected as rejection:  # ingest would answer 400
        print(f"hookpipe: cannot read body {label}: ingest would refuse it ({rejection.reason})", file=sys.stderr)
        return label, None
    kept = {name: value for name, value in headers.items()
            if name not in source.dropped_headers and not name.startswith("x-hookpipe-")}
    return label, Event(
        id=args.id or event_id, source=source.name, type=args.type or event_type, received_at=now_ms(),
        verified=not source.config.unverified, content_type=headers.get("content-type", RAW_BODY_CONTENT_TYPE),
        body=body, headers=kept,
    )


def _header(text: str) -> tuple[str, str]:
    """`--header NAME=VALUE` (or `NAME: VALUE`) as a lower-case name and a value."""
    cut = min((text.index(mark) for mark in "=:" if mark in text), default=-1)
    name, value = text[:cut].strip().lower(), text[cut + 1:].strip()
    if cut < 0 or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{text}'")
    return name, value


def _payload_value(body: bytes) -> Any:
    """A payload as a JSON value for the report (as text if it is not JSON)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def _describe_routing(report: dict[str, Any]) -> str:
    """The human form of one event's routing: a heading line, then one line per delivery."""
    event_type = "null" if report["type"] is None else report["type"]
    heading = f"{report['input']}: event {report['id']} (source {report['source']}, type {event_type})"
    if "dead_letter" in report:
        dead = report["dead_letter"]
        return f"{heading}\n  dead-lettered ({dead['reason']}): {dead['error']}"
    if not report["routes"]:
        return f"{heading}\n  no route matched"
    lines = [heading, f"  routes: {', '.join(report['routes'])}"]
    for delivery in report["deliveries"]:
        payload = delivery["payload"]
        text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        lines.append(f"  {delivery['destination']} <- {delivery['route']} ({delivery['content_type']}): {text}")
    return "\n".join(lines)


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


def _topology_prune(args: argparse.Namespace) -> int:
    import aio_pika

    from hookpipe.broker import describe
    from hookpipe.config import redact_url
    from hookpipe.prune import PruneReport, candidate_rungs, listed_rungs, prune_rungs
    from hookpipe.service import load_or_exit

    config = load_or_exit(_config_path(args.config)).config
    management_url = args.management_url or os.environ.get("HOOKPIPE_MANAGEMENT_URL")

    async def prune() -> PruneReport:
        extra = list(args.rung)
        if management_url:
            extra += await listed_rungs(management_url, config.broker.url, config.broker.prefix)
        connection = await aio_pika.connect(config.broker.url, timeout=10)
        async with connection:
            return await prune_rungs(connection, config, candidate_rungs(config, extra), dry_run=args.dry_run)

    try:
        report = asyncio.run(prune())
    except Exception as error:
        where = redact_url(management_url) if management_url else redact_url(config.broker.url)
        print(f"hookpipe: cannot prune the topology via {where}: {describe(error)}", file=sys.stderr)
        return 1
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


def _replay(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from hookpipe.broker import describe
    from hookpipe.replay import ProgressLine, Replay, ReplayError, ReplayOptions, parse_moment, render_listing
    from hookpipe.service import load_or_exit
    from hookpipe.units import parse_rate

    config = load_or_exit(_config_path(args.config)).config
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
        return 2
    window = f"{options.since.isoformat()} .. {options.until.isoformat()}"
    try:
        summary = asyncio.run(replay.run())
    except ReplayError as error:
        progress.finish()
        print(f"hookpipe: replay failed: {error}; {replay.summary.line(options.dry_run)}", file=sys.stderr)
        if replay.summary.last_published_at is not None:
            at = datetime.fromtimestamp(replay.summary.last_published_at / 1000, UTC).isoformat()
            print(f"hookpipe: events received up to {at} were published; rerun with --since {at} to go on "
                  "(receivers drop repeats by webhook-id)", file=sys.stderr)
        return 1
    except Exception as error:
        progress.finish()
        print(f"hookpipe: replay failed: {describe(error)}", file=sys.stderr)
        return 1
    progress.finish()
    for line in render_listing(summary):
        print(line)
    print(f"replay {window}: {summary.line(options.dry_run)}")
    return 0


def _destination_command(args: argparse.Namespace) -> int:
    """Pause or resume a destination: recorded in its flag queue (what a deliverer reads when it starts or
    reconnects), then broadcast to every running deliverer."""
    import aio_pika
    import orjson

    from hookpipe.broker import describe
    from hookpipe.service import load_or_exit
    from hookpipe.topology import Names, declare_control, set_pause_flag

    config = load_or_exit(_config_path(args.config)).config
    if args.destination not in config.destinations:
        print(f"hookpipe: no destination named '{args.destination}' in the config; destinations: "
              f"{', '.join(config.destinations) or 'none'}", file=sys.stderr)
        return 2
    names = Names(config.broker.prefix)
    paused = args.action == "pause"

    async def send() -> bool:
        """True when a running deliverer heard the command."""
        connection = await aio_pika.connect(config.broker.url, timeout=10)
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await set_pause_flag(channel, names, args.destination, paused=paused)
            exchange = await declare_control(channel, names)
            command = orjson.dumps({"action": args.action, "destination": args.destination})
            try:
                await exchange.publish(aio_pika.Message(command), routing_key="", mandatory=True, timeout=10)
            except aio_pika.exceptions.PublishError:  # no deliverer bound a command queue: none is running
                return False
            return True

    try:
        heard = asyncio.run(send())
    except Exception as error:
        print(f"hookpipe: cannot reach the broker: {describe(error)}", file=sys.stderr)
        return 1
    state = "paused" if paused else "resumed"
    where = "on every running deliverer" if heard else "(no deliverer is running now)"
    if not paused and config.destinations[args.destination].paused:
        later = "the config's `paused: true` pauses it again whenever a deliverer starts"
    else:
        later = f"deliverers that start later find it {state}"
    print(f"destination '{args.destination}' {state} {where}; {later}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from hookpipe.replay import DRY_RUN_LISTED

    parser = argparse.ArgumentParser(prog="hookpipe", description="Self-hosted webhook event pipeline.")
    parser.add_argument("--version", action="version", version=f"hookpipe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    for name, run, text in (
        ("ingest", _run_ingest, "run the public webhook listener"),
        ("router", _run_router, "run the routing service"),
        ("deliverer", _run_deliverer, "run the outbound delivery service"),
    ):
        service = commands.add_parser(name, help=text)
        service.add_argument("--config", help=CONFIG_HELP)
        service.set_defaults(run=run)

    config = commands.add_parser("config", help="work with the config file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file: exit 0 if usable, 2 if not")
    check.add_argument("file", nargs="?", help=CONFIG_HELP)
    check.set_defaults(run=_config_check)

    routes = commands.add_parser("routes", help="work with the routes")
    routes_commands = routes.add_subparsers(dest="routes_command", required=True)
    test = routes_commands.add_parser(
        "test", help="show which routes match sample events and what each destination would receive",
        usage="%(prog)s [--config FILE] [--json] EVENT...\n"
              "       %(prog)s [--config FILE] [--json] --source NAME [--type T] [--id ID] "
              "[--header NAME=VALUE]... --body FILE",
        description="Each EVENT is a file holding a match document: a JSON object {id, source, type, headers, "
                    "body, verified (optional, default true)} with the provider's payload under body, such as "
                    '{"id": "evt_1", "source": "stripe", "type": "invoice.paid", "headers": {}, "body": {...}}; '
                    "or - for one such object per line on stdin. Its raw body is taken to be body as compact "
                    "JSON. To test a provider's payload as it is posted, give --source and --body instead: the "
                    "body is used byte for byte, and the id and type are found where ingest finds them (the "
                    "source's id and type settings, or its scheme's; an id is generated if there is none) unless "
                    "--id and --type give them. Exit 2 for a config that cannot be used or bad options, 1 if an "
                    "event cannot be read (the others are still reported).",
    )
    test.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    test.add_argument("--json", action="store_true", help="one JSON object per event and line")
    test.add_argument("events", nargs="*", metavar="EVENT", help="a match document file, or - for stdin")
    raw = test.add_argument_group("a raw body, as the provider posts it")
    raw.add_argument("--body", metavar="FILE", help="the request body (- for stdin)")
    raw.add_argument("--source", metavar="NAME", help="the source it is posted to (/ingest/NAME)")
    raw.add_argument("--type", metavar="T", help="the event type (default: where ingest finds it)")
    raw.add_argument("--id", metavar="ID", help="the event id (default: where ingest finds it, else generated)")
    raw.add_argument("--header", metavar="NAME=VALUE", type=_header, action="append", default=[],
                     help="a request header; repeatable (content-type defaults to application/json)")
    test.set_defaults(run=_routes_test, usage_error=test.error)

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

    destination = commands.add_parser("destination", help="control a destination on the running deliverers")
    destination_commands = destination.add_subparsers(dest="action", required=True)
    for action, text in (("pause", "stop delivering; events wait in the queue"), ("resume", "deliver again")):
        command = destination_commands.add_parser(action, help=text)
        command.add_argument("destination")
        command.add_argument("--config", help=CONFIG_HELP)
        command.set_defaults(run=_destination_command)

    from hookpipe.operations import add_operations_commands

    add_operations_commands(commands)  # status, events show, dlq list|show|replay|purge
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader of stdout that stops early (`| head`) ends it quietly with EXIT_BROKEN_PIPE."""
    try:
        try:
            args = build_parser().parse_args(argv)
            return int(args.run(args))
        finally:
            sys.stdout.flush()  # meet a reader that has gone here, not in the interpreter's flush at exit
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # a socket's broken pipe, not stdout's: a real failure
        # Python ignores SIGPIPE, so the write raised instead of ending the process. Point stdout at devnull,
        # so that nothing still buffered raises again at exit, and stop, as a tool that SIGPIPE ended would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _stdout_gone() -> bool:
    """Whether stdout's reader has closed its end (poll() reports POLLERR on such a pipe, POLLHUP on a socket)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() on this platform, or stdout has no descriptor
        return True


if __name__ == "__main__":
    sys.exit(main())
