"""The one place that knows RabbitMQ names and arguments (docs/architecture.md, "Topology").

Every exchange and queue name starts with the configured prefix. Declarations are idempotent, and a queue's
arguments never change under an existing name: RabbitMQ refuses that with 406, so a new setting means a new
queue name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange

from hookpipe.config import ArchiveConfig, BrokerConfig, Config
from hookpipe.rungs import configured_rungs

#: How often a consumer may crash on one message before RabbitMQ dead-letters it as poison.
DELIVERY_LIMIT = 50

#: Largest archive stream segment (bytes); RabbitMQ's default is 500 MB.
ARCHIVE_SEGMENT_BYTES = 100 * 1024**2

#: Unmatched events kept when `router.unrouted` is on; the oldest are dropped past this many.
UNROUTED_MAX_LENGTH = 10_000


@dataclass(frozen=True, slots=True)
class Names:
    """Exchange and queue names under one topology prefix, and how many nodes each new quorum queue is
    replicated on (`broker.quorum_replicas`; None: RabbitMQ's default, every node of the cluster)."""

    prefix: str
    quorum_replicas: int | None = None

    @classmethod
    def of(cls, broker: BrokerConfig) -> Names:
        return cls(broker.prefix, broker.quorum_replicas)

    @property
    def ingested(self) -> str:
        """Topic exchange ingest publishes to, key `{source}.{type}`."""
        return f"{self.prefix}.ingested"

    @property
    def archive(self) -> str:
        """Stream bound to the ingested exchange: every accepted event, kept for `hookpipe replay`."""
        return f"{self.prefix}.archive"

    @property
    def delivery_log(self) -> str:
        """Stream of the delivery log: every routing decision and delivery attempt (hookpipe.delivery_log),
        published to by name through the default exchange; `hookpipe admin` indexes it."""
        return f"{self.prefix}.attempts"

    @property
    def router_queue(self) -> str:
        return f"{self.prefix}.router"

    @property
    def router_dead(self) -> str:
        """Events the router could not process: poison messages and fan-outs that could not be published."""
        return f"{self.prefix}.router.dead"

    @property
    def unrouted(self) -> str:
        return f"{self.prefix}.unrouted"

    @property
    def deliver(self) -> str:
        """Direct exchange the router publishes deliveries to, key = destination name."""
        return f"{self.prefix}.deliver"

    def deliver_queue(self, destination: str) -> str:
        return f"{self.prefix}.deliver.{destination}"

    def dead_queue(self, destination: str) -> str:
        return f"{self.prefix}.dead.{destination}"

    @property
    def control(self) -> str:
        """Fanout exchange for operator commands to every running deliverer (pause, resume)."""
        return f"{self.prefix}.control"

    def pause_flag(self, destination: str) -> str:
        """An empty queue whose existence says an operator paused the destination: what a deliverer reads when
        it starts or reconnects (the control exchange only reaches deliverers already running)."""
        return f"{self.prefix}.paused.{destination}"

    def delivery_lease(self, destination: str) -> str:
        """The lease of delivering to one destination (hookpipe.amqp.lease): the one deliverer holding it
        consumes the destination's queue."""
        return f"{self.prefix}.lease.deliver.{destination}"

    @property
    def router_lease(self) -> str:
        """The lease of routing, taken when the config has an in-order (fifo) destination: the one router
        holding it consumes the router queue."""
        return f"{self.prefix}.lease.router"

    def roll_call(self, service: str) -> str:
        """An always-empty quorum queue every running replica of `service` consumes: its consumer count is the
        number of replicas (a lease queue's cannot tell: RabbitMQ counts only its active consumer)."""
        return f"{self.prefix}.replicas.{service}"

    def retry(self, ms: int) -> str:
        """A retry rung: fanout exchange and quorum queue of that name, whose TTL is `ms`."""
        return f"{self.retry_prefix}{ms}"

    @property
    def retry_prefix(self) -> str:
        return f"{self.prefix}.retry."


def _quorum(names: Names, **arguments: Any) -> dict[str, Any]:
    """A quorum queue's arguments. Its replica count is fixed when RabbitMQ creates it: the argument is only
    sent when configured (adding, dropping or changing it on an existing queue is refused with 406)."""
    replicas = {} if names.quorum_replicas is None else {"x-quorum-initial-group-size": names.quorum_replicas}
    return {"x-queue-type": "quorum", **replicas, **arguments}


def _poison_to(dead_queue: str) -> dict[str, Any]:
    """A delivery limit always comes with an at-least-once dead-letter target (via the default exchange)."""
    return {
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead_queue,
        "x-dead-letter-strategy": "at-least-once",
        # at-least-once dead-lettering requires reject-publish; with no length limit it never rejects.
        "x-overflow": "reject-publish",
    }


async def declare_ingest_path(channel: AbstractChannel, names: Names) -> None:
    """The ingested exchange and the router's input queue bound to it (ingest and router use both)."""
    exchange = await channel.declare_exchange(names.ingested, ExchangeType.TOPIC, durable=True)
    await channel.declare_queue(names.router_dead, durable=True, arguments=_quorum(names))
    queue = await channel.declare_queue(
        names.router_queue, durable=True, arguments=_quorum(names, **_poison_to(names.router_dead))
    )
    await queue.bind(exchange, routing_key="#")


def stream_max_age(seconds: float) -> str:
    """RabbitMQ's `x-max-age` notation (`7D`, `36h`, `90s`): the largest unit that states `seconds` exactly."""
    whole = max(1, round(seconds))
    for unit, size in (("D", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def archive_arguments(archive: ArchiveConfig) -> dict[str, Any]:
    return {
        "x-queue-type": "stream",
        "x-max-age": stream_max_age(archive.max_age),
        "x-max-length-bytes": archive.max_bytes,
        # Retention drops whole segments: smaller ones keep the archive closer to its limits.
        "x-stream-max-segment-size-bytes": min(archive.max_bytes, ARCHIVE_SEGMENT_BYTES),
    }


async def declare_archive(channel: AbstractChannel, names: Names, archive: ArchiveConfig) -> None:
    """The archive stream, bound to the ingested exchange for every key. Its retention is fixed at creation:
    declaring it again with other limits fails (406) and closes the channel, so callers give it one of its own
    and keep the existing stream (a RabbitMQ policy changes retention in place)."""
    exchange = await channel.declare_exchange(names.ingested, ExchangeType.TOPIC, durable=True)
    stream = await channel.declare_queue(names.archive, durable=True, arguments=archive_arguments(archive))
    await stream.bind(exchange, routing_key="#")


async def declare_stream(channel: AbstractChannel, name: str, retention: ArchiveConfig) -> None:
    """A stream not bound to any exchange (the delivery log): publishers address it by name. Like the archive,
    its retention is fixed at creation (a later declaration with other limits fails with 406)."""
    await channel.declare_queue(name, durable=True, arguments=archive_arguments(retention))


async def declare_unrouted(channel: AbstractChannel, names: Names) -> None:
    await channel.declare_queue(
        names.unrouted,
        durable=True,
        arguments=_quorum(names, **{"x-max-length": UNROUTED_MAX_LENGTH, "x-overflow": "drop-head"}),
    )


async def declare_destination(
    channel: AbstractChannel, names: Names, destination: str, *, ordering: str = "unordered"
) -> None:
    """A destination's queue, bound to the deliver exchange, and its dead-letter queue.

    A `fifo` destination's queue has a single active consumer, so one deliverer at a time delivers it, in
    queue order. That is a queue argument: switching an existing destination's ordering means draining and
    deleting its queue first (RabbitMQ refuses to redeclare a queue with other arguments).
    """
    exchange = await channel.declare_exchange(names.deliver, ExchangeType.DIRECT, durable=True)
    dead = names.dead_queue(destination)
    await channel.declare_queue(dead, durable=True, arguments=_quorum(names))
    arguments = _quorum(names, **_poison_to(dead))
    if ordering == "fifo":
        arguments["x-single-active-consumer"] = True
    queue = await channel.declare_queue(names.deliver_queue(destination), durable=True, arguments=arguments)
    await queue.bind(exchange, routing_key=destination)


async def declare_retry_rung(channel: AbstractChannel, names: Names, ms: int) -> None:
    """A delay of `ms`: messages published to the rung's exchange (key = destination) wait in its queue, then
    RabbitMQ dead-letters them, at least once and keeping their key, back to the destination's queue."""
    exchange = await channel.declare_exchange(names.retry(ms), ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(names.retry(ms), durable=True, arguments=_quorum(names, **{
        "x-message-ttl": ms,
        "x-dead-letter-exchange": names.deliver,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }))
    await queue.bind(exchange)


async def declare_lease(channel: AbstractChannel, names: Names, queue_name: str) -> None:
    """A lease queue (hookpipe.amqp.lease): one active consumer at a time, the holder of its token."""
    arguments = _quorum(names, **{"x-single-active-consumer": True})
    await channel.declare_queue(queue_name, durable=True, arguments=arguments)


async def declare_roll_call(channel: AbstractChannel, names: Names, service: str) -> None:
    await channel.declare_queue(names.roll_call(service), durable=True, arguments=_quorum(names))


async def declare_control(channel: AbstractChannel, names: Names) -> AbstractExchange:
    return await channel.declare_exchange(names.control, ExchangeType.FANOUT, durable=True)


async def set_pause_flag(channel: AbstractChannel, names: Names, destination: str, *, paused: bool) -> None:
    """Record an operator's pause (a durable quorum queue, so a clustered broker keeps it) or its resume."""
    if paused:
        await channel.declare_queue(names.pause_flag(destination), durable=True, arguments=_quorum(names))
    else:
        await channel.queue_delete(names.pause_flag(destination))


async def declare_all(channel: AbstractChannel, config: Config) -> None:
    """Everything the config needs: `hookpipe topology apply`."""
    names = Names.of(config.broker)
    await declare_ingest_path(channel, names)
    if config.archive is not None:
        await declare_archive(channel, names, config.archive)
    if config.delivery_log is not None:
        await declare_stream(channel, names.delivery_log, config.delivery_log)
    if config.router.unrouted:
        await declare_unrouted(channel, names)
    for name, destination in config.destinations.items():
        await declare_destination(channel, names, name, ordering=destination.ordering)
    for ms in configured_rungs(config):
        await declare_retry_rung(channel, names, ms)


def all_queue_names(config: Config) -> list[str]:
    """Every queue `declare_all` may create, for tools and test clean-up."""
    names = Names.of(config.broker)
    queues = [names.router_queue, names.router_dead, names.unrouted, names.archive, names.delivery_log]
    for destination in config.destinations:
        queues += [names.deliver_queue(destination), names.dead_queue(destination), names.pause_flag(destination),
                   names.delivery_lease(destination)]
    queues += [names.router_lease, names.roll_call("deliverer")]
    return queues + [names.retry(ms) for ms in configured_rungs(config)]


def all_exchange_names(config: Config) -> list[str]:
    names = Names.of(config.broker)
    return [names.ingested, names.deliver, names.control] + [names.retry(ms) for ms in configured_rungs(config)]
