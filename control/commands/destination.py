"""`hookpipe destination pause|resume NAME`: stop or restart deliveries to one destination on every deliverer."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractConnection

from control.common import CONFIG_HELP, EXIT_USAGE, load, with_broker
from hookpipe.amqp.broker import close_quietly
from hookpipe.amqp.topology import Names, declare_control, set_pause_flag

#: Deadline of the command's broadcast publish, from call to confirm (s).
PUBLISH_TIMEOUT = 10.0


def add_parser(commands: Any) -> None:
    destination = commands.add_parser("destination", help="control a destination on the running deliverers")
    destination_commands = destination.add_subparsers(dest="action", required=True)
    for action, text in (("pause", "stop delivering; events wait in the queue"), ("resume", "deliver again")):
        command = destination_commands.add_parser(action, help=text)
        command.add_argument("destination")
        command.add_argument("--config", help=CONFIG_HELP)
        command.set_defaults(run=_destination_command)


def _destination_command(args: argparse.Namespace) -> int:
    """Pause or resume a destination: recorded in its flag queue (what a deliverer reads when it starts or
    reconnects), then broadcast to every running deliverer."""
    config = load(args.config)
    if args.destination not in config.destinations:
        print(f"hookpipe: no destination named '{args.destination}' in the config; destinations: "
              f"{', '.join(config.destinations) or 'none'}", file=sys.stderr)
        return EXIT_USAGE
    paused = args.action == "pause"

    async def send(connection: AbstractConnection) -> bool:
        return await set_paused(connection, Names.of(config.broker), args.destination, paused=paused)

    heard = with_broker(config, send, failure="cannot reach the broker")
    state = "paused" if paused else "resumed"
    where = "on every running deliverer" if heard else "(no deliverer is running now)"
    if not paused and config.destinations[args.destination].paused:
        later = "the config's `paused: true` pauses it again whenever a deliverer starts"
    else:
        later = f"deliverers that start later find it {state}"
    print(f"destination '{args.destination}' {state} {where}; {later}")
    return 0


async def set_paused(connection: AbstractConnection, names: Names, destination: str, *, paused: bool) -> bool:
    """Pause or resume `destination`: its flag queue set or removed (what a deliverer reads when it starts or
    reconnects), then the command broadcast to every running deliverer. True when a running deliverer heard it,
    False when none runs. Broker failures raise; the channel it opens is closed either way."""
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    try:
        await set_pause_flag(channel, names, destination, paused=paused)
        exchange = await declare_control(channel, names)
        command = orjson.dumps({"action": "pause" if paused else "resume", "destination": destination})
        try:
            await exchange.publish(aio_pika.Message(command), routing_key="", mandatory=True, timeout=PUBLISH_TIMEOUT)
        except aio_pika.exceptions.PublishError:  # no deliverer bound a command queue: none is running
            return False
        return True
    finally:
        await close_quietly(channel)
