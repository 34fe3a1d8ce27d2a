"""The raw broker rate: how fast this machine's RabbitMQ takes and hands out messages with nothing else around.

    .venv/bin/python bench/broker_rate.py                       # 20,000 messages of 1 KiB, once
    .venv/bin/python bench/broker_rate.py --messages 5000 --json

One publisher connection publishes N persistent, mandatory messages with publisher confirms to a fresh durable
quorum queue (as hookpipe's are), keeping --window publishes in flight (confirms pipelined); meanwhile a
consumer on its own connection (prefetch --prefetch) acks each message. The rate is N over first publish ->
last message consumed. Both clients run in this one Python process, so at high rates the client, not the
broker, may be the limit: the report gives RabbitMQ's CPU per message beside it. The queue is deleted after.
bench/compare.py runs this as its third figure; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

# Importing `common` (bench/common.py) puts the repository root on sys.path.
from common import (
    CONNECT_TIMEOUT,
    add_amqp_argument,
    add_output_arguments,
    check_amqp_url,
    declare_quorum_queues,
    delete_queues,
    find_broker_pids,
    log,
    make_body,
    own_cpu,
    read_process_stats,
    run_main,
)

#: Publishes in flight (awaiting their confirm) at once.
DEFAULT_WINDOW = 200

#: Unacked messages the consumer holds; the router's prefetch.
DEFAULT_PREFETCH = 200

#: Bound on one measurement (s).
RATE_TIMEOUT = 300.0


@dataclass
class BrokerRate:
    messages: int
    consumed: int
    seconds: float
    messages_per_s: float
    published_per_s: float
    broker_cpu_ms_per_message: float | None
    client_cpu_ms_per_message: float


async def measure_broker_rate(url: str, messages: int, body_size: int, *, window: int = DEFAULT_WINDOW,
                              prefetch: int = DEFAULT_PREFETCH) -> BrokerRate:
    """Publish `messages` with confirms (`window` in flight) while consuming them; see the module docstring."""
    import aio_pika

    queue_name = f"bench-rate-{secrets.token_hex(5)}"
    await declare_quorum_queues(url, [queue_name])
    body = make_body("rate", body_size)
    consumed = 0
    all_consumed = asyncio.Event()
    broker_pids = find_broker_pids()
    try:
        publisher = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT,
                                           client_properties={"connection_name": "bench-rate-publish"})
        consumer = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT,
                                          client_properties={"connection_name": "bench-rate-consume"})
        async with publisher, consumer:
            consume_channel = await consumer.channel()
            await consume_channel.set_qos(prefetch_count=prefetch)
            queue = await consume_channel.get_queue(queue_name)

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                nonlocal consumed
                await message.ack()
                consumed += 1
                if consumed >= messages:
                    all_consumed.set()

            await queue.consume(on_message)
            channel = await publisher.channel(publisher_confirms=True, on_return_raises=True)
            slots = asyncio.Semaphore(window)
            failures: list[BaseException] = []

            async def publish_one(number: int) -> None:
                try:
                    await channel.default_exchange.publish(
                        aio_pika.Message(body, message_id=f"rate-{number}",
                                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=queue_name, mandatory=True, timeout=30)
                except Exception as error:
                    failures.append(error)
                finally:
                    slots.release()

            broker_before = {pid: read_process_stats(pid) for pid in broker_pids}
            client_before = own_cpu()
            started = time.perf_counter()
            tasks = []
            for number in range(messages):
                await slots.acquire()
                tasks.append(asyncio.create_task(publish_one(number)))
            await asyncio.gather(*tasks)
            published = time.perf_counter()
            if failures:
                raise RuntimeError(f"{len(failures)} publishes failed, e.g. {failures[0]!r}")
            await asyncio.wait_for(all_consumed.wait(), RATE_TIMEOUT)
            ended = time.perf_counter()
            client_cpu = own_cpu() - client_before
            broker_cpu = 0.0
            for pid, before in broker_before.items():
                after = read_process_stats(pid)
                if before is not None and after is not None:
                    broker_cpu += after.cpu_s - before.cpu_s
    finally:
        await delete_queues(url, [queue_name])
    seconds = ended - started
    return BrokerRate(
        messages=messages, consumed=consumed, seconds=round(seconds, 3),
        messages_per_s=round(messages / seconds, 1),
        published_per_s=round(messages / (published - started), 1),
        broker_cpu_ms_per_message=round(1000 * broker_cpu / messages, 3) if broker_pids else None,
        client_cpu_ms_per_message=round(1000 * client_cpu / messages, 3),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/broker_rate.py", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20000, help="messages to publish and consume")
    parser.add_argument("--body-size", type=int, default=1024, help="body size in bytes (default 1024)")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="publishes in flight (default 200)")
    parser.add_argument("--prefetch", type=int, default=DEFAULT_PREFETCH, help="consumer prefetch (default 200)")
    add_amqp_argument(parser)
    add_output_arguments(parser, "(unused)")
    args = parser.parse_args(argv)
    check_amqp_url(parser, args.amqp_url)
    if min(args.messages, args.window, args.prefetch) < 1 or args.body_size < 0:
        parser.error("--messages, --window and --prefetch must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    async def run() -> int:
        result = await measure_broker_rate(args.amqp_url, args.messages, args.body_size, window=args.window,
                                           prefetch=args.prefetch)
        figures: dict[str, Any] = asdict(result)
        if args.json:
            print(json.dumps(figures))
        else:
            log(" ".join(f"{key} {value}" for key, value in figures.items()))
        return 0

    return run_main(run)


if __name__ == "__main__":
    sys.exit(main())
