"""`hookpipe routes test`: which routes match sample events and what each destination would receive."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import orjson

from control.commands.config import checked_config
from control.common import CONFIG_HELP, config_path
from control.match_documents import header, raw_event, read_events
from hookpipe.outcomes import RouterDeadLetterReason

if TYPE_CHECKING:
    from hookpipe.event import Event
    from router.rules import RouteTable

#: Exit status of `routes test` when an event cannot be read (the others are still reported).
EXIT_BAD_EVENT = 1


def add_parser(commands: Any) -> None:
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
    raw.add_argument("--header", metavar="NAME=VALUE", type=header, action="append", default=[],
                     help="a request header; repeatable (content-type defaults to application/json)")
    test.set_defaults(run=_routes_test, usage_error=test.error)


def _check_options(args: argparse.Namespace) -> None:
    """Match documents or one raw body, never both nor neither; a raw body's options only with --body."""
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


def _routes_test(args: argparse.Namespace) -> int:
    """Route each event given as a match document, or the one raw body given with --body, as the router would,
    and show what each destination gets."""
    _check_options(args)
    _, sources, routes = checked_config(config_path(args.config))
    if args.source is not None and args.source not in sources:
        args.usage_error(f"unknown source '{args.source}'; sources: {', '.join(sources) or 'none'}")
    events = read_events(args.events) if args.body is None else iter([raw_event(args, sources[args.source])])
    status = 0
    for label, event in events:
        if event is None:
            status = EXIT_BAD_EVENT
            continue
        report = routing_report(label, event, routes)
        if args.json:
            print(orjson.dumps(report).decode(), flush=True)
        else:
            print(_describe_routing(report), flush=True)
    return status


def routing_report(label: str, event: Event, routes: RouteTable) -> dict[str, Any]:
    """One event's routing as `--json` prints it: the routes matched and each delivery, or its dead letter."""
    from router.rules import UnparsableBody
    from router.transform import TransformError

    report: dict[str, Any] = {"input": label, "id": event.id, "source": event.source, "type": event.type}
    try:
        matched, deliveries = routes.match(event)
    except (UnparsableBody, TransformError) as error:
        reason = (RouterDeadLetterReason.BAD_JSON if isinstance(error, UnparsableBody)
                  else RouterDeadLetterReason.TRANSFORM_FAILED)
        return report | {"routes": [], "deliveries": [], "dead_letter": {"reason": reason, "error": str(error)}}
    return report | {"routes": matched, "deliveries": [
        {"destination": delivery.destination, "route": delivery.route,
         "content_type": delivery.content_type or event.content_type, "payload": _payload_value(delivery.body)}
        for delivery in deliveries
    ]}


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

