"""`hookpipe topology prune`: delete the retry rungs nothing needs any more.

Rungs are created two ways (docs/architecture.md, "Topology"): from the config's schedules, and at run time (a long
Retry-After rounds up to a coarse grid; the breaker parks prefetched deliveries for a second). A schedule change or an
old Retry-After leaves rungs behind. Plain AMQP cannot list queues, so without the management API the candidates are the
rungs this config can create at run time (a bounded set: hookpipe.rungs.runtime_rungs) plus any `--rung MS` given;
with `--management-url`, every `{prefix}.retry.{ms}` queue the broker has.

A rung is deleted only while it is empty and has no consumer, and never if the config's schedules use it.
Quorum queues cannot be deleted `if_empty` (RabbitMQ answers NOT_IMPLEMENTED), so the exchange goes first:
nothing new can be routed in. After a pause for publishes already routed, the queue is checked again and
deleted only if still empty; otherwise its exchange is declared again. Nothing waiting in a rung is lost.
A deliverer that still publishes to a pruned rung sees its publish fail, requeues the delivery and declares
the rung again.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from aio_pika.abc import AbstractConnection

from hookpipe.amqp.broker import queue_state
from hookpipe.amqp.topology import Names, declare_retry_rung
from hookpipe.config import Config
from hookpipe.rungs import configured_rungs, runtime_rungs

#: Seconds between deleting the empty rungs' exchanges and checking their queues again.
SETTLE_SECONDS = 1.0


@dataclass
class PruneReport:
    deleted: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)  # messages waiting or a consumer attached: kept
    configured: list[int] = field(default_factory=list)  # the config's schedules use them: kept


def candidate_rungs(config: Config, extra: Iterable[int] = ()) -> list[int]:
    return sorted({*runtime_rungs(config), *extra})


async def prune_rungs(
    connection: AbstractConnection, config: Config, candidates: Iterable[int], *, dry_run: bool = False
) -> PruneReport:
    """Delete each existing, empty, unused rung among `candidates` that the config does not use."""
    names = Names.of(config.broker)
    keep = set(configured_rungs(config))
    report = PruneReport()
    empty: list[int] = []
    for ms in sorted(set(candidates)):
        state = await queue_state(connection, names.retry(ms))
        if state is None:
            continue
        if ms in keep:
            report.configured.append(ms)
        elif state.messages or state.consumers:
            report.busy.append(ms)
        else:
            empty.append(ms)
    if dry_run or not empty:
        report.deleted = empty
        return report
    # Nothing can be routed into a rung once its exchange is gone; a publish routed just before may still be on
    # its way into the queue, so the queue is checked again after a pause before it is deleted.
    for ms in empty:
        async with connection.channel() as channel:
            await channel.exchange_delete(names.retry(ms))
    await asyncio.sleep(SETTLE_SECONDS)
    for ms in empty:
        state = await queue_state(connection, names.retry(ms))
        if state is not None and (state.messages or state.consumers):
            async with connection.channel() as channel:  # keep the rung whole, exchange and binding included
                await declare_retry_rung(channel, names, ms)
            report.busy.append(ms)
            continue
        async with connection.channel() as channel:
            await channel.queue_delete(names.retry(ms))
        report.deleted.append(ms)
    report.busy.sort()
    return report


async def listed_rungs(management_url: str, amqp_url: str, prefix: str) -> list[int]:
    """Every `{prefix}.retry.{ms}` queue of the broker's vhost, from the management HTTP API
    (`http://user:password@host:15672`)."""
    pattern = re.compile(re.escape(Names(prefix).retry_prefix) + r"(\d+)")
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"
    parts = urlsplit(management_url)
    auth = aiohttp.BasicAuth(unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    host = parts.hostname or "127.0.0.1"
    base = parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl().rstrip("/")
    async with aiohttp.ClientSession(auth=auth, timeout=aiohttp.ClientTimeout(total=30)) as session:
        url = f"{base}/api/queues/{quote(vhost, safe='')}?columns=name"
        async with session.get(url) as response:
            response.raise_for_status()
            queues = await response.json()
    return sorted(int(match.group(1)) for queue in queues if (match := pattern.fullmatch(queue["name"])))
