"""The bare baselines hookpipe is measured against: the least code that gives the same three hops.

    python bench/bare.py ingest --queue Q --listen 127.0.0.1:P --ops 127.0.0.1:O
    python bench/bare.py relay  --source Q1 --target Q2 --ops 127.0.0.1:O
    python bench/bare.py post   --source Q2 --url http://127.0.0.1:P/webhooks --ops 127.0.0.1:O

Each command is one process, as each of hookpipe's services is, and keeps the guarantees hookpipe keeps
(docs/architecture.md, "Guarantees and how each hop keeps them") with none of its features:
- `ingest`: aiohttp; `POST /{anything}` reads the body, publishes it persistent and mandatory on a confirm channel
  (message id from the `x-bench-id` header) and answers 200 only after the confirm, 503 otherwise. No
  verification, no limits, no metrics, no dedup: a bare durable-publish ingest.
- `relay`: consumes Q1 (prefetch --prefetch), republishes each message persistent and mandatory with a confirm to
  Q2, then acks it; nacks with requeue when the publish fails. The router's hop without routing.
- `post`: consumes Q2 (prefetch --prefetch), POSTs the body to --url with `webhook-id` = the message id, then acks
  on 2xx and requeues otherwise. The deliverer's hop without signing, retries or breakers.

The harness (bench/e2e.py --bare, bench/compare.py) declares the queues (quorum, durable, like hookpipe's) before
it starts these and deletes them after. Each process answers `GET /readyz` on --ops with 200 once it is connected
(and consuming), so the harness can wait for it as for a service. Everything is on 127.0.0.1; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

import aio_pika
import aiohttp
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiohttp import web

#: Deadline for one publish, call to confirm (s): ingest's default publish_timeout.
PUBLISH_TIMEOUT = 5.0

#: Seconds a connect may take, TCP and AMQP handshake: a broker that accepts TCP but never answers fails the run.
CONNECT_TIMEOUT = 10.0


async def publish(channel: AbstractChannel, queue: str, body: bytes, message_id: str | None) -> None:
    """Persistent, mandatory, confirmed: raises on a nack, a return or the deadline."""
    message = aio_pika.Message(body, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
    await channel.default_exchange.publish(message, routing_key=queue, mandatory=True, timeout=PUBLISH_TIMEOUT)


async def confirm_channel(url: str, name: str) -> tuple[aio_pika.abc.AbstractConnection, AbstractChannel]:
    connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT, client_properties={"connection_name": name})
    return connection, await connection.channel(publisher_confirms=True, on_return_raises=True)


async def start_http(app: web.Application, address: str) -> web.AppRunner:
    host, _, port = address.rpartition(":")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, int(port), backlog=1024).start()
    return runner


async def serve_ready(address: str) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/readyz", lambda _: web.Response(text="ok"))
    return await start_http(app, address)


async def run_ingest(args: argparse.Namespace, stop: asyncio.Event) -> None:
    connection, channel = await confirm_channel(args.amqp_url, "bare-ingest")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            await publish(channel, args.queue, body, request.headers.get("x-bench-id"))
        except Exception as error:
            return web.Response(status=503, text=type(error).__name__)
        return web.Response(text="ok")

    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_post("/{tail:.*}", handle)
    runners = [await start_http(app, args.listen), await serve_ready(args.ops)]
    await stop.wait()
    for runner in runners:
        await runner.cleanup()
    await connection.close()


async def consume(args: argparse.Namespace, stop: asyncio.Event, name: str,
                  handle: Any) -> None:
    """Consume --source with --prefetch unacked messages, on its own connection, until SIGTERM."""
    connection = await aio_pika.connect(args.amqp_url, timeout=CONNECT_TIMEOUT,
                                        client_properties={"connection_name": name})
    channel = await connection.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=args.prefetch)
    queue = await channel.get_queue(args.source, ensure=True)
    tag = await queue.consume(handle, no_ack=False)
    runner = await serve_ready(args.ops)
    await stop.wait()
    with contextlib.suppress(Exception):
        await queue.cancel(tag)
    await runner.cleanup()
    await connection.close()


async def run_relay(args: argparse.Namespace, stop: asyncio.Event) -> None:
    connection, channel = await confirm_channel(args.amqp_url, "bare-relay-publish")

    async def handle(message: AbstractIncomingMessage) -> None:
        try:
            await publish(channel, args.target, message.body, message.message_id)
        except Exception:
            await message.nack(requeue=True)
            return
        await message.ack()

    await consume(args, stop, "bare-relay-consume", handle)
    await connection.close()


async def run_post(args: argparse.Namespace, stop: asyncio.Event) -> None:
    connector = aiohttp.TCPConnector(limit=args.prefetch)
    async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def handle(message: AbstractIncomingMessage) -> None:
            headers = {"webhook-id": message.message_id or "", "content-type": "application/json"}
            try:
                async with session.post(args.url, data=message.body, headers=headers) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                await message.ack()
            else:
                await message.nack(requeue=True)

        await consume(args, stop, "bare-post-consume", handle)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/bare.py", description="Bare baseline processes (bench/README.md).")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--ops", required=True, help="HOST:PORT answering GET /readyz once ready")
    hops = parser.add_subparsers(dest="hop", required=True)
    ingest = hops.add_parser("ingest", help="HTTP in, confirmed publish, then 200")
    ingest.add_argument("--listen", required=True)
    ingest.add_argument("--queue", required=True)
    relay = hops.add_parser("relay", help="consume, confirmed republish, then ack")
    relay.add_argument("--source", required=True)
    relay.add_argument("--target", required=True)
    relay.add_argument("--prefetch", type=int, default=200)
    post = hops.add_parser("post", help="consume, POST, then ack")
    post.add_argument("--source", required=True)
    post.add_argument("--url", required=True)
    post.add_argument("--prefetch", type=int, default=50)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hop = {"ingest": run_ingest, "relay": run_relay, "post": run_post}[args.hop]

    async def guarded() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await hop(args, stop)

    try:
        import uvloop
    except ImportError:
        asyncio.run(guarded())
    else:
        uvloop.run(guarded())
    return 0


if __name__ == "__main__":
    sys.exit(main())
