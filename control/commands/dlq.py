"""`hookpipe dlq list|show|replay|purge`: dead letters read in place, sent back, or deleted (the work:
control.dlq).

Exit statuses: 0 done; 1 the broker cannot be reached, or a replay or purge stopped early (nothing was lost:
run it again); 2 a usage or config problem (unknown destination, purge without --yes).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aio_pika.abc import AbstractConnection

from control import dlq, replicas
from control.common import (
    CONFIG_HELP,
    CONNECT_TIMEOUT,
    EXIT_BROKER,
    EXIT_USAGE,
    BrokerUnreachable,
    load,
    print_json,
    rate,
    with_broker,
)
from control.inquiry import Answers, ask_deliverers
from control.ops_client import ops_session, scrape
from control.table import NONE, clip, format_age, format_table
from hookpipe.amqp.broker import Publisher, queue_state
from hookpipe.amqp.topology import Names
from hookpipe.config import Config
from hookpipe.event import now_ms

#: Deadline of one replay or tail publish, from call to confirm (s).
PUBLISH_TIMEOUT = 10.0

#: Characters of a dead letter's error shown in `dlq show`'s table (`--json` has it whole).
ERROR_WIDTH = 60


def add_parser(commands: Any) -> None:
    dead = commands.add_parser("dlq", help="dead letters: list, show, replay, purge")
    dead_commands = dead.add_subparsers(dest="dlq_command", required=True)
    listing = dead_commands.add_parser(
        "list", help="dead letters per destination, and counts by reason",
        description="Depth of each dead queue (`router` is the router's). Reason counts come from the services' "
                    "counters (dead-lettered since each started): every deliverer replica's, asked over the broker, "
                    "and the router's /metrics at its ops address; or with --scan from reading the queues in place "
                    "(what is there now).",
    )
    listing.add_argument("--config", help=CONFIG_HELP)
    listing.add_argument("--scan", action="store_true", help="count reasons by reading the queues, not metrics")
    listing.add_argument("--json", action="store_true", help="one JSON object")
    listing.set_defaults(run=_dlq_list)

    peek = dead_commands.add_parser("show", help="dead letters in detail, left in place")
    _selection_arguments(peek, ids=False)
    peek.add_argument("--limit", type=int, default=50, help="most dead letters shown (default 50)")
    peek.add_argument("--json", action="store_true", help="one JSON object")
    peek.set_defaults(run=_dlq_show)

    replay = dead_commands.add_parser(
        "replay", help="send dead letters back to their destination's queue, attempts reset",
        description="Each selected dead letter is published again (a destination's to the deliver exchange keyed by "
                    "the destination, the router's to the router queue) without its dead-letter headers and attempt "
                    "count, and removed only once that publish is confirmed. With a filter, the others are copied "
                    "to the tail of their queue (confirmed) and then removed from its head. At most the messages "
                    "there at the start are handled. Interrupting it loses nothing; running it again finishes.",
    )
    _selection_arguments(replay, ids=True)
    replay.add_argument("--rate", type=rate, help="most replays per second, such as 50/s (default: no limit)")
    replay.add_argument("--json", action="store_true", help="one JSON object")
    replay.set_defaults(run=_dlq_replay)

    purge = dead_commands.add_parser(
        "purge", help="delete dead letters (needs --yes)",
        description="Removes the selected dead letters; with a filter the others are kept (copied to the tail, "
                    "confirmed, before they leave the head). Without --yes it only says how many it would remove.",
    )
    _selection_arguments(purge, ids=True)
    purge.add_argument("--yes", action="store_true", help="really delete")
    purge.add_argument("--json", action="store_true", help="one JSON object")
    purge.set_defaults(run=_dlq_purge)


def _selection_arguments(parser: argparse.ArgumentParser, *, ids: bool) -> None:
    parser.add_argument("--config", help=CONFIG_HELP)
    parser.add_argument("--destination", help=f"one destination, or `{dlq.ROUTER}` for the router's dead letters "
                                              "(default: all)")
    parser.add_argument("--reason", help="only dead letters of this reason (exhausted, expired, dead_letter_on, "
                                         "poison, publish_failed, ...)")
    if ids:
        parser.add_argument("--id", help="only the dead letters of this event id")


def _queues(config: Config, destination: str | None) -> list[dlq.DeadQueue]:
    try:
        return dlq.dead_queues(config, destination)
    except dlq.UnknownDestination:
        print(f"hookpipe: no destination named '{destination}' in the config; destinations: "
              f"{', '.join(config.destinations) or 'none'}, or `{dlq.ROUTER}` for the router's dead letters",
              file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _dlq_list(args: argparse.Namespace) -> int:
    config = load(args.config)
    queues = _queues(config, None)

    async def collect(connection: AbstractConnection) -> dict[str, Any]:
        rows = []
        router = None
        deliverers = Answers()
        if not args.scan:
            async with ops_session() as session:
                deliverers, router = await asyncio.gather(
                    ask_deliverers(connection, config), scrape(session, config.router.ops))
        for queue in queues:
            reasons: Mapping[str, float] | None
            if args.scan:
                found = await dlq.peek(connection, queue)
                state_exists, depth = found.exists, found.depth
                reasons = dict(Counter(letter.reason for letter in found.letters))
            else:
                state = await queue_state(connection, queue.queue)
                state_exists, depth = state is not None, state.messages if state else 0
                if queue.queue == Names.of(config.broker).router_dead:
                    reasons = None if router is None else router.by("hookpipe_router_dead_letters_total", "reason")
                else:
                    reasons = replicas.dead_lettered(deliverers.replicas, queue.destination)
            rows.append({"destination": queue.destination, "queue": queue.queue, "exists": state_exists,
                         "depth": depth, "reasons": None if reasons is None else
                         {reason: int(count) for reason, count in sorted(reasons.items())}})
        source = "scan" if args.scan else "metrics"
        return {"reasons_from": source, "metrics_reachable": None if args.scan else
                {"deliverer": bool(deliverers.replicas), "router": router is not None},
                "deliverer_replicas": None if args.scan else sorted(answer.replica for answer in deliverers.replicas),
                "deliverers_running": None if args.scan else deliverers.running,
                "queues": rows}

    document = with_broker(config, collect)
    if args.json:
        print_json(document)
        return 0
    heading = "REASONS (IN THE QUEUE NOW)" if args.scan else "REASONS (DEAD-LETTERED SINCE EACH SERVICE STARTED)"
    print("\n".join(format_table(["DESTINATION", "QUEUE", "DEPTH", heading], [
        [row["destination"], row["queue"], row["depth"] if row["exists"] else "missing", _reasons(row["reasons"])]
        for row in document["queues"]
    ])))
    if not args.scan:
        answered, running = document["deliverer_replicas"], document["deliverers_running"]
        counted = f"{len(answered)} of {running}" if running else str(len(answered))
        noun = "replica" if (running or len(answered)) == 1 else "replicas"
        print(f"destinations' reasons: {counted} deliverer {noun} answered"
              f"{': ' + ', '.join(answered) if answered else ''}; the router's: its ops address in the config")
    return 0


def _reasons(reasons: dict[str, int] | None) -> str:
    if reasons is None:
        return "unknown (service not answering; try --scan)"
    return ", ".join(f"{reason} {count}" for reason, count in reasons.items() if count) or NONE


def _dlq_show(args: argparse.Namespace) -> int:
    config = load(args.config)
    queues = _queues(config, args.destination)
    selection = dlq.Selection(reason=args.reason)

    showing = with_broker(config, lambda connection: dlq.show(connection, queues, selection, args.limit))
    peeks, letters, shown = showing.peeks, showing.matched, showing.shown
    now = now_ms()
    if args.json:
        print_json(showing.document(now))
        return 0
    print("\n".join(format_table(["ID", "DESTINATION", "REASON", "ATTEMPTS", "STATUS", "AGE", "ERROR"], [
        [letter.id, letter.destination, letter.reason, _or_none(letter.attempts), _or_none(letter.status),
         format_age(None if letter.dead_at is None else (now - letter.dead_at) / 1000),
         clip(letter.error, ERROR_WIDTH) if letter.error else NONE]
        for letter in shown
    ])))
    print(f"{len(shown)} shown of {len(letters)} matching" + "".join(
        f"; only {len(p.letters)} of {p.depth} read in {p.queue.queue}" for p in peeks if not p.complete))
    return 0


def _or_none(value: object) -> str:
    return NONE if value is None else str(value)


def _scan_command(
    args: argparse.Namespace,
    act: Callable[[Publisher, AbstractConnection, dlq.DeadQueue, dlq.Selection], Awaitable[dlq.ScanReport]],
    verb: str,
) -> int:
    config = load(args.config)
    queues = _queues(config, args.destination)
    selection = dlq.Selection(reason=args.reason, id=args.id)

    async def work(connection: AbstractConnection) -> list[dlq.ScanReport]:
        broker = config.broker
        publisher = Publisher(broker.url, name=f"hookpipe-dlq-{verb}", heartbeat=broker.heartbeat,
                              timeout=PUBLISH_TIMEOUT)
        publisher.start()
        try:
            if not await publisher.link.wait_ready(CONNECT_TIMEOUT):
                raise BrokerUnreachable("no publishing connection within the time-out")
            return [await act(publisher, connection, queue, selection) for queue in queues]
        finally:
            await publisher.close()

    reports = with_broker(config, work)
    if args.json:
        print_json({"reports": [{
            "destination": r.queue.destination, "queue": r.queue.queue, "exists": r.exists, "depth": r.depth,
            "scanned": r.scanned, verb: r.selected, "kept": r.kept, "failed": r.failed or None,
        } for r in reports]})
    else:
        for r in reports:
            if not r.exists:
                print(f"{r.queue.destination}: no dead queue {r.queue.queue}")
                continue
            kept = f", kept {r.kept}" if r.kept else ""
            print(f"{r.queue.destination}: {verb} {r.selected}{kept} of {r.depth} dead letters there at the start")
    failures = [r for r in reports if r.failed]
    for r in failures:
        print(f"hookpipe: {verb} of {r.queue.queue} stopped: {r.failed}; what was not done is still there, "
              "run the command again", file=sys.stderr)
    return EXIT_BROKER if failures else 0


def _dlq_replay(args: argparse.Namespace) -> int:
    async def act(publisher: Publisher, connection: AbstractConnection, queue: dlq.DeadQueue,
                  selection: dlq.Selection) -> dlq.ScanReport:
        return await dlq.replay(publisher, connection, queue, selection, rate=args.rate)

    return _scan_command(args, act, "replayed")


def _dlq_purge(args: argparse.Namespace) -> int:
    if not args.yes:
        config = load(args.config)
        queues = _queues(config, args.destination)
        selection = dlq.Selection(reason=args.reason, id=args.id)

        async def count(connection: AbstractConnection) -> int:
            peeks = [await dlq.peek(connection, queue) for queue in queues]
            return sum(1 for found in peeks for letter in found.letters if selection.matches(letter))

        would = with_broker(config, count)
        print(f"hookpipe: would purge {would} dead letters; add --yes to delete them", file=sys.stderr)
        return EXIT_USAGE
    return _scan_command(args, dlq.purge, "purged")
