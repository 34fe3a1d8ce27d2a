"""What every `hookpipe` command shares: the config it reads, the one way it reaches the broker, JSON output,
exit statuses and option types.

Exit statuses: 0 done; 1 the broker cannot be reached, or the work stopped early; 2 a usage or config problem.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aio_pika.abc import AbstractConnection

from hookpipe.amqp.broker import CONNECT_TIMEOUT, AllNodesFailed, connect_any, describe
from hookpipe.config import Config, redact_url
from hookpipe.config.units import parse_duration, parse_rate
from hookpipe.runtime.service import CONFIG_HELP, config_path, load_or_exit

__all__ = ["CONFIG_HELP", "CONNECT_TIMEOUT", "config_path"]

EXIT_BROKER = 1
EXIT_USAGE = 2

T = TypeVar("T")


class BrokerUnreachable(Exception):
    """The broker cannot be reached; the message says why."""


def load(value: str | None) -> Config:
    """The config --config (`value`) or $HOOKPIPE_CONFIG names; exit 2 when there is none or it cannot be used."""
    return load_or_exit(config_path(value)).config


async def connect(config: Config) -> AbstractConnection:
    """A connection to the first node of `broker.url` that answers, each tried within CONNECT_TIMEOUT; else
    BrokerUnreachable, naming each node's failure."""
    try:
        return await connect_any(config.broker.url, timeout=CONNECT_TIMEOUT)
    except AllNodesFailed as error:
        raise BrokerUnreachable(str(error)) from None


def with_broker(config: Config, work: Callable[[AbstractConnection], Awaitable[T]], *,
                failure: str | None = None) -> T:
    """Run `work` with a connection to the broker and return what it returns; if the broker cannot be reached,
    or the work fails, print `hookpipe: FAILURE: why` and exit 1. FAILURE defaults to `cannot reach the broker
    at URL` (password masked)."""

    async def run() -> T:
        async with await connect(config) as connection:
            return await work(connection)

    try:
        return asyncio.run(run())
    except Exception as error:
        why = str(error) if isinstance(error, BrokerUnreachable) else describe(error)
        failure = failure or f"cannot reach the broker at {redact_url(config.broker.url)}"
        print(f"hookpipe: {failure}: {why}", file=sys.stderr)
        raise SystemExit(EXIT_BROKER) from None


def print_json(document: Any) -> None:
    print(orjson.dumps(document).decode())


def duration(text: str) -> float:
    """An option's duration such as `500ms` or `2s`; a bare number is seconds (`0`)."""
    try:
        return parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def rate(text: str) -> float:
    """An option's rate such as `50/s`."""
    try:
        return parse_rate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
