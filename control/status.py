"""`hookpipe status`: the pipeline at a glance, from the broker, every deliverer replica and the ops listeners.

Where each number comes from:
- queue depth (ready messages, not those a consumer holds unacked) and consumers: a passive declare of every
  queue the config names: the router queue, router dead letters, `unrouted` when on, each destination's queue
  and dead queue, and the configured retry rungs (plus the breaker's park rung) summed into one row;
- per destination, which replica delivers it, breaker state, paused, attempts in flight and the last failed
  attempt: every deliverer replica, asked over the broker (control.inquiry) and merged (control.replicas);
  when the broker cannot be reached, the deliverer's /status at the config's ops address (that one replica);
- rates: two samples `interval` seconds apart. A queue's rate is the change of its depth per second (positive:
  it grows). A destination's delivered/s and failed/s, ingest's accepted/s and the router's events/s are the
  increase of the services' own counters on /metrics over the same interval (replays included: the services
  count them apart, under `hookpipe_router_replayed_events_total` and `hookpipe_replayed_delivery_attempts_total`).
  The ops listeners scraped, for rates and readiness, are the addresses in the config: with several replicas of
  a service, that is one of them, and so are its rates.
A service that does not answer is shown as unknown; only an unreachable broker fails the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aio_pika.abc import AbstractConnection

from control.common import BrokerUnreachable, connect
from control.inquiry import ANSWER_DEADLINE, Answers, ask_deliverers, read_replica_status
from control.ops_client import Samples, get_json, ops_session, scrape
from control.replicas import merge
from control.table import NONE, UNKNOWN, clip, format_age, format_rate, format_table
from hookpipe.amqp.broker import QueueState, queue_state
from hookpipe.amqp.topology import Names
from hookpipe.config import Config, redact_url
from hookpipe.event import now_ms
from hookpipe.outcomes import DeliveryOutcome
from hookpipe.rungs import BREAKER_PARK_SECONDS, configured_rungs, rung_for

SERVICES = ("ingest", "router", "deliverer")

#: Width of the last-error column in the table (characters).
ERROR_WIDTH = 60

#: Width of the delivered-by column in the table (characters): replica ids are `host:pid`.
REPLICA_WIDTH = 40


@dataclass(frozen=True, slots=True)
class WatchedQueue:
    """A row of the queue table: one queue, or several summed (the retry rungs)."""

    label: str
    role: str  # router, router_dead, unrouted, deliver, dead, retry
    destination: str | None
    queues: tuple[str, ...]


def watched_queues(config: Config) -> list[WatchedQueue]:
    names = Names.of(config.broker)
    rows = [
        WatchedQueue(names.router_queue, "router", None, (names.router_queue,)),
        WatchedQueue(names.router_dead, "router_dead", None, (names.router_dead,)),
    ]
    if config.router.unrouted:
        rows.append(WatchedQueue(names.unrouted, "unrouted", None, (names.unrouted,)))
    for name in config.destinations:
        rows.append(WatchedQueue(names.deliver_queue(name), "deliver", name, (names.deliver_queue(name),)))
        rows.append(WatchedQueue(names.dead_queue(name), "dead", name, (names.dead_queue(name),)))
    rungs = sorted({*configured_rungs(config), rung_for(BREAKER_PARK_SECONDS)})
    rows.append(WatchedQueue(f"{names.retry_prefix}* ({len(rungs)} rungs)", "retry", None,
                             tuple(names.retry(ms) for ms in rungs)))
    return rows


@dataclass(slots=True)
class Sample:
    """One look at everything: queue states by queue name (None: missing) and each service's counters."""

    at: float
    queues: dict[str, QueueState | None]
    metrics: dict[str, Samples | None]


async def take_sample(
    connection: AbstractConnection, session: aiohttp.ClientSession, config: Config, queues: list[WatchedQueue]
) -> Sample:
    names = [name for row in queues for name in row.queues]
    states, scrapes = await asyncio.gather(
        asyncio.gather(*(queue_state(connection, name) for name in names)), scrape_services(session, config))
    return Sample(time.monotonic(), dict(zip(names, states, strict=True)), scrapes)


async def scrape_services(session: aiohttp.ClientSession, config: Config) -> dict[str, Samples | None]:
    scrapes = await asyncio.gather(*(scrape(session, _ops_address(config, service)) for service in SERVICES))
    return dict(zip(SERVICES, scrapes, strict=True))


def _ops_address(config: Config, service: str) -> str:
    return str(getattr(config, service).ops)


async def collect_status(
    config: Config, *, interval: float, connection: AbstractConnection | None = None
) -> dict[str, Any]:
    """The status document `--json` prints. `interval` 0 takes one sample and reports no rates. With
    `connection` (a service's own, such as hookpipe admin's), the broker is read through it and it is left open;
    without, a connection is opened for the call and closed after."""
    queues = watched_queues(config)
    document: dict[str, Any] = {
        "prefix": config.broker.prefix,
        "at": now_ms(),
        "broker": {"url": redact_url(config.broker.url), "reachable": False, "error": None},
        "interval_s": interval or None,
    }
    async with ops_session() as session, contextlib.AsyncExitStack() as stack:
        if connection is None:
            try:
                connection = await stack.enter_async_context(await connect(config))
            except BrokerUnreachable as error:
                document["broker"]["error"] = str(error)
        if connection is None:  # still say what the services say
            first = last = Sample(time.monotonic(), {}, await scrape_services(session, config))
            answers = await _ask_ops_listener(session, config)
        else:
            document["broker"]["reachable"] = True
            first, last = await _two_samples(connection, session, config, queues, interval)
            # After the samples, not beside them: aiormq can reuse a channel number the broker has not
            # closed yet (a passive declare of a missing queue closes its channel), which ends the
            # connection with "second 'channel.open' seen".
            answers = await ask_deliverers(connection, config)
        readiness = await asyncio.gather(
            *(get_json(session, _ops_address(config, service), "/readyz") for service in SERVICES))
    document["services"] = _services(config, first, last, readiness)
    document["deliverers"] = {
        "asked": "broker" if connection is not None else f"ops listener {config.deliverer.ops}",
        "replicas": sorted(answer.replica for answer in answers.replicas),
        "running": answers.running,
        "all_answered": answers.complete,
        "deadline_s": ANSWER_DEADLINE,
    }
    document["queues"] = [_queue_row(row, first, last) for row in queues] if document["broker"]["reachable"] else []
    document["destinations"] = _destinations(config, first, last, answers)
    return document


async def _two_samples(connection: AbstractConnection, session: aiohttp.ClientSession, config: Config,
                       queues: list[WatchedQueue], interval: float) -> tuple[Sample, Sample]:
    first = await take_sample(connection, session, config, queues)
    if interval <= 0:
        return first, first
    await asyncio.sleep(interval)
    return first, await take_sample(connection, session, config, queues)


async def _ask_ops_listener(session: aiohttp.ClientSession, config: Config) -> Answers:
    """With the broker out of reach: the deliverer at the config's ops address, as the one replica known."""
    address = str(config.deliverer.ops)
    answer = read_replica_status(await get_json(session, address, "/status"), replica=f"ops {address}",
                                 process=f"ops {address}", destinations=config.destinations)
    return Answers([answer] if answer is not None else [], heard=answer is not None)


def _rate(first: Sample, last: Sample, before: float | None, after: float | None) -> float | None:
    """Per second between two samples; None without two samples (or after a counter reset)."""
    elapsed = last.at - first.at
    if before is None or after is None or elapsed <= 0 or after < before:
        return None
    return round((after - before) / elapsed, 3)


def _counter(sample: Sample, service: str, name: str, **labels: str) -> float | None:
    samples = sample.metrics.get(service)
    return None if samples is None else samples.get(name, **labels)


#: Counters whose sum is a service's rate: replays (hookpipe replay) are counted apart from live traffic.
ROUTER_EVENTS = ("hookpipe_router_events_total", "hookpipe_router_replayed_events_total")
DELIVERY_ATTEMPTS = ("hookpipe_delivery_attempts_total", "hookpipe_replayed_delivery_attempts_total")


def _counters(sample: Sample, service: str, names: tuple[str, ...], **labels: str) -> float | None:
    values = [_counter(sample, service, name, **labels) for name in names]
    return None if None in values else sum(value for value in values if value is not None)


def _attempt_rate(first: Sample, last: Sample, destination: str, outcome: DeliveryOutcome) -> float | None:
    """Attempts per second to `destination` that came to `outcome`, live and replayed."""
    before, after = (_counters(sample, "deliverer", DELIVERY_ATTEMPTS, destination=destination, outcome=outcome)
                     for sample in (first, last))
    return _rate(first, last, before, after)


def _accepted(sample: Sample) -> float | None:
    samples = sample.metrics.get("ingest")
    if samples is None:
        return None
    by_status = samples.by("hookpipe_ingest_requests_total", "status")
    return sum(count for status, count in by_status.items() if status.startswith("2"))


def _services(config: Config, first: Sample, last: Sample, readiness: list[Any]) -> dict[str, Any]:
    services: dict[str, Any] = {}
    rates = {
        "ingest": ("accepted_per_s", _accepted(first), _accepted(last)),
        "router": ("events_per_s", _counters(first, "router", ROUTER_EVENTS), _counters(last, "router", ROUTER_EVENTS)),
        "deliverer": ("attempts_per_s", _counters(first, "deliverer", DELIVERY_ATTEMPTS),
                      _counters(last, "deliverer", DELIVERY_ATTEMPTS)),
    }
    for service, ready in zip(SERVICES, readiness, strict=True):
        reachable = isinstance(ready, dict)
        rate_name, before, after = rates[service]
        services[service] = {
            "ops": _ops_address(config, service),
            "reachable": reachable,
            "ready": ready.get("status") == "ready" if isinstance(ready, dict) else None,
            "problems": list(ready.get("problems", [])) if isinstance(ready, dict) else [],
            "rate": rate_name,
            "per_s": _rate(first, last, before, after),
        }
    return services


def _queue_row(row: WatchedQueue, first: Sample, last: Sample) -> dict[str, Any]:
    states = [last.queues.get(name) for name in row.queues]
    present = [state for state in states if state is not None]
    messages = sum(state.messages for state in present) if present else None
    before = [first.queues.get(name) for name in row.queues]
    earlier = sum(state.messages for state in before if state is not None) if any(before) else None
    return {
        "name": row.label,
        "role": row.role,
        "destination": row.destination,
        "exists": bool(present),
        "messages": messages,
        "consumers": sum(state.consumers for state in present) if present else None,
        "change_per_s": _depth_change(first, last, earlier, messages),
    }


def _depth_change(first: Sample, last: Sample, before: int | None, after: int | None) -> float | None:
    elapsed = last.at - first.at
    if before is None or after is None or elapsed <= 0:
        return None
    return round((after - before) / elapsed, 3)


def _destinations(config: Config, first: Sample, last: Sample, answers: Answers) -> dict[str, Any]:
    names = Names.of(config.broker)
    merged = merge(answers.replicas, config.destinations)
    result: dict[str, Any] = {}
    for name in config.destinations:
        queue = last.queues.get(names.deliver_queue(name))
        dead = last.queues.get(names.dead_queue(name))
        result[name] = {
            "messages": None if queue is None else queue.messages,
            "consumers": None if queue is None else queue.consumers,
            "dead_letters": None if dead is None else dead.messages,
            **merged[name],
            "delivered_per_s": _attempt_rate(first, last, name, DeliveryOutcome.DELIVERED),
            "failed_per_s": _attempt_rate(first, last, name, DeliveryOutcome.FAILED),
        }
    return result


def render_status(document: dict[str, Any]) -> str:
    """The status document as three aligned tables: services, queues, destinations."""
    broker = document["broker"]
    interval = document["interval_s"]
    heading = f"hookpipe status: prefix {document['prefix']}, broker {broker['url']}"
    if not broker["reachable"]:
        heading += f" UNREACHABLE ({broker['error']})"
    lines = [heading + (f", rates over {interval:g}s" if interval else ", no rates (--interval 0)"),
             _deliverers_line(document["deliverers"]), ""]

    services = document["services"]
    lines += format_table(["SERVICE", "OPS", "STATE", "RATE/S"], [
        [name, s["ops"], _service_state(s), _service_rate(s)] for name, s in services.items()
    ])
    if document["queues"]:
        lines.append("")
        lines += format_table(["QUEUE", "DEPTH", "CONSUMERS", "CHANGE/S"], [
            [q["name"], _or(q["messages"], "missing"), _or(q["consumers"], NONE), format_rate(q["change_per_s"])]
            for q in document["queues"]
        ])
    lines.append("")
    now = document["at"]
    lines += format_table(
        ["DESTINATION", "DEPTH", "BREAKER", "PAUSED", "DEAD", "DELIVERED/S", "FAILED/S", "IN FLIGHT",
         "DELIVERED BY", "LAST ERROR"],
        [[name, _or(d["messages"], UNKNOWN), _or(d["breaker"], UNKNOWN), _yes_no(d["paused"]),
          _or(d["dead_letters"], UNKNOWN), format_rate(d["delivered_per_s"]), format_rate(d["failed_per_s"]),
          _or(d["in_flight"], UNKNOWN), _delivered_by(d), _last_error(d["last_error"], now)]
         for name, d in document["destinations"].items()],
    )
    return "\n".join(lines)


def _deliverers_line(deliverers: dict[str, Any]) -> str:
    """Which deliverer replicas the destinations' state comes from, and where the rates come from."""
    replicas, running = deliverers["replicas"], deliverers["running"]
    if deliverers["asked"] != "broker":
        where = f"destination state from the deliverer at {deliverers['asked']} only (the broker is out of reach)"
    elif not replicas:
        where = "no deliverer replica running" if deliverers["all_answered"] else \
            f"no deliverer replica answered within {deliverers['deadline_s']:g}s"
    else:
        total = running or len(replicas)
        counted = f"{len(replicas)} of {running}" if running else str(len(replicas))
        where = f"{counted} deliverer {'replica' if total == 1 else 'replicas'} answered" \
                + ("" if deliverers["all_answered"] else f" within {deliverers['deadline_s']:g}s") \
                + ": " + ", ".join(replicas)
    return where + "; rates and readiness from each service's ops address in the config (one replica each)"


def _delivered_by(destination: dict[str, Any]) -> str:
    if not destination["replicas"]:
        return UNKNOWN
    return clip(",".join(destination["delivered_by"]), REPLICA_WIDTH) if destination["delivered_by"] else NONE


def _service_state(service: dict[str, Any]) -> str:
    if not service["reachable"]:
        return "down"
    if service["ready"]:
        return "ready"
    return "not ready: " + "; ".join(service["problems"]) if service["problems"] else "not ready"


def _service_rate(service: dict[str, Any]) -> str:
    if not service["reachable"]:
        return UNKNOWN
    return f"{format_rate(service['per_s'])} {service['rate'].removesuffix('_per_s')}"


def _last_error(error: dict[str, Any] | None, now: int) -> str:
    if not error:
        return NONE
    what = error.get("reason", "")
    if error.get("status") is not None:
        what += f" {error['status']}"
    if error.get("error"):
        what += f": {error['error']}"
    return clip(f"{format_age((now - error.get('at', now)) / 1000)} ago {what}", ERROR_WIDTH)


def _yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else ("yes" if value else "no")


def _or(value: object, fallback: str) -> str:
    return fallback if value is None else str(value)
