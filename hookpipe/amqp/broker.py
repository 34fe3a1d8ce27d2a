"""The broker layer every service uses: self-healing connections, confirmed publishes, supervised consumers.

The broker rules (docs/architecture.md, "The broker layer"), in one place:
- consuming and publishing use separate connections, so a flow-control alarm on publishing cannot stall acks;
- every connection has a heartbeat of at most 10 s and reconnects by itself, with backoff, re-running the
  service's set-up (declarations, consumers) each time;
- `broker.url` may list a cluster's nodes: a connection tries them in order, from the one after the node that
  last failed or dropped, so a link that loses its node reconnects to one that answers;
- every publish is persistent, `mandatory`, on a confirm channel that raises on returns, under a deadline:
  a nack, a return, a time-out or a closed channel raises PublishFailed, never passes for success.

We use plain `aio_pika.connect` with our own supervisor rather than `connect_robust`: re-running one set-up
function after every reconnect is easier to reason about than restoring objects one by one, and it handles the
cases robust connections leave open (a consumer cancelled because its queue was deleted, a channel closed by
the broker for a protocol error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import aio_pika
import aiormq
import aiormq.exceptions
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)

from hookpipe.amqp import acks
from hookpipe.amqp.confirms import ChannelGone, ConfirmedChannel
from hookpipe.amqp.wire import Outgoing
from hookpipe.config import ConfigError, redact_url
from hookpipe.runtime import metrics

log = logging.getLogger(__name__)

#: Seconds a reload waits for the broker before refusing the new config: it must declare what the config adds,
#: and a service waiting longer would hold every later reload behind this one.
RELOAD_CONNECT_TIMEOUT = 10.0

#: First wait before reconnecting (s); doubles per failure up to RECONNECT_MAX_DELAY, so a broker restart is
#: picked up within seconds while a long outage is not hammered.
RECONNECT_DELAY = 0.25
RECONNECT_MAX_DELAY = 5.0

#: Time allowed for the TCP and AMQP handshake of one connection attempt (s). A broker that accepts TCP but never
#: answers (wedged) fails the attempt: the link stays not ready, /readyz says why, and the supervisor tries again.
CONNECT_TIMEOUT = 10.0

#: Seconds the set-up after a connect (declarations, consumers) may take before the link gives up and
#: reconnects: a broker that stops answering mid-set-up must not hold the link (or a shutdown) forever.
SETUP_TIMEOUT = 30.0

#: Seconds a consumer cancel may wait for the broker's answer.
CANCEL_TIMEOUT = 5.0

#: Seconds close() waits for the supervisor to finish on its own before cancelling it.
CLOSE_TIMEOUT = 10.0

OnOpen = Callable[[AbstractConnection], Awaitable[None]]


class PublishFailure(StrEnum):
    """Why a publish was not confirmed: `PublishFailed.reason`, the `reason` field of the log lines that report
    it, and the start of its message (`publish nacked: ...`)."""

    DISCONNECTED = "disconnected"  # no usable channel before the deadline, or it closed before the confirm
    NACKED = "nacked"  # the broker refused it
    RETURNED = "returned"  # no queue bound for its exchange and routing key (every publish is mandatory)
    TIMEOUT = "timeout"  # no confirm before the deadline


class PublishFailed(Exception):
    """A publish that the broker did not confirm, and why."""

    def __init__(self, reason: PublishFailure, detail: str = "") -> None:
        super().__init__(f"publish {reason.value}" + (f": {detail}" if detail else ""))
        self.reason = reason


class Link:
    """One AMQP connection kept open by a supervisor task, to one of the nodes `url` lists (one URL, or several).

    After every (re)connect it runs `on_open(connection)`; only when that succeeds is the link ready. When the
    connection drops, or `reconnect()` is called, the link is not ready until the next `on_open` succeeds.
    Each connect tries the nodes in order, from the one after the node that last failed or dropped, each within
    CONNECT_TIMEOUT; `url` is the node the link is on (or tries next).
    """

    def __init__(
        self, url: str | Sequence[str], *, name: str, heartbeat: float, on_open: OnOpen | None = None
    ) -> None:
        self.urls: tuple[str, ...] = (url,) if isinstance(url, str) else tuple(url)
        if not self.urls:
            raise ValueError("a link needs at least one broker URL")
        self._node = 0  # index in `urls` of the node connected to, or to try next
        self.name = name
        self.heartbeat = heartbeat
        self._on_open = on_open
        self._connection: AbstractConnection | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Why the last connection attempt failed (for readiness), None once one succeeds.
        self.last_error: str | None = None

    @property
    def url(self) -> str:
        """The node the link is connected to, or the one it tries next."""
        return self.urls[self._node]

    @property
    def connection(self) -> AbstractConnection | None:
        """The open connection while the link is ready, else None."""
        return self._connection if self._ready.is_set() else None

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"link:{self.name}")

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the link is ready; False if `timeout` passed first."""
        if self._ready.is_set():  # every publish asks: spare it wait_for's task and timer
            return True
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def reconnect(self, reason: str) -> None:
        """Drop the current connection; the supervisor opens a new one and re-runs the set-up."""
        if self._connection is not None and not self._closing:
            log.warning("reconnecting to the broker", extra={"link": self.name, "reason": reason})
            self._ready.clear()
            self._lost.set()

    async def close(self) -> None:
        self._closing = True
        self._ready.clear()
        self._lost.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=CLOSE_TIMEOUT)
            if not done:  # stuck in a connect or set-up the broker does not answer: stop it
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _supervise(self) -> None:
        delay = RECONNECT_DELAY
        while not self._closing:
            connection: AbstractConnection | None = None
            self._lost = asyncio.Event()
            try:
                connection = await self._connect()
                lost = self._lost
                connection.close_callbacks.add(lambda *_, lost=lost: lost.set())
                if self._on_open is not None:
                    await asyncio.wait_for(self._on_open(connection), SETUP_TIMEOUT)
                if self._closing:  # close() was called while we were connecting
                    continue
                self._connection = connection
                self.last_error = None
                self._ready.set()
                log.info("connected to the broker", extra={"link": self.name, "url": redact_url(self.url)})
                delay = RECONNECT_DELAY
                await lost.wait()
                if not self._closing:
                    log.warning("broker connection lost", extra={"link": self.name, "url": redact_url(self.url)})
                    self._next_node()  # its node may be the one that went away: the next connect starts after it
            except asyncio.CancelledError:
                raise
            except AllNodesFailed as error:  # each node's failure was logged as it was tried
                self.last_error = str(error)
            except Exception as error:  # the set-up on a node that answered
                self.last_error = describe(error)
                log.warning(
                    "broker connection failed",
                    extra={"link": self.name, "url": redact_url(self.url), "error": self.last_error},
                )
                self._next_node()
            finally:
                self._ready.clear()
                self._connection = None
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 5)
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY)

    def _next_node(self) -> None:
        self._node = (self._node + 1) % len(self.urls)

    async def _connect(self) -> AbstractConnection:
        """One attempt per node, from the current one on; the first connection made, or AllNodesFailed (which
        leaves the current node where it started: after the one that failed last)."""
        failures: list[tuple[str, str]] = []
        for _ in self.urls:
            try:
                return await connect_node(self.url, timeout=CONNECT_TIMEOUT, heartbeat=int(self.heartbeat),
                                          client_properties={"connection_name": self.name})
            except Exception as error:
                failures.append((self.url, describe(error)))
                log.warning(
                    "broker connection failed",
                    extra={"link": self.name, "url": redact_url(self.url), "error": failures[-1][1]},
                )
                self._next_node()
        raise AllNodesFailed(failures)


class AllNodesFailed(Exception):
    """No node of `broker.url` could be connected to; the message gives each node's failure (passwords masked),
    or the one failure of a single URL as it always read."""

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        """`failures`: (URL, described error) of each node, in the order they were tried."""
        if len(failures) == 1:
            text = failures[0][1]
        else:
            text = "; ".join(f"{redact_url(url)}: {failure}" for url, failure in failures)
        super().__init__(text)


async def connect_node(url: str, *, timeout: float, **kwargs: Any) -> AbstractConnection:
    """One connection attempt to one node; aio-pika's time-out bounds the TCP connect and the whole AMQP
    handshake. `kwargs` are aio_pika.connect's (heartbeat, client_properties)."""
    try:
        return await aio_pika.connect(url, timeout=timeout, **kwargs)
    except TimeoutError:  # aio-pika's has no message: say what did not happen
        raise TimeoutError(f"no answer to the connection handshake within {timeout:g} s") from None


async def connect_any(urls: Sequence[str], *, timeout: float, **kwargs: Any) -> AbstractConnection:
    """A connection to the first of `urls` (a cluster's nodes) that answers, each tried within `timeout`
    seconds; AllNodesFailed if none does. For one-off tools; a service keeps a Link."""
    failures: list[tuple[str, str]] = []
    for url in urls:
        try:
            return await connect_node(url, timeout=timeout, **kwargs)
        except Exception as error:
            failures.append((url, describe(error)))
    raise AllNodesFailed(failures)


class Publisher:
    """Publishes with confirms on its own connection. `declare(connection)` runs after every reconnect.

    Parameters:
    - url, name, heartbeat: the connection (name shows in RabbitMQ's connection list); url may list a cluster's
      nodes (Link);
    - timeout: the default deadline (s) for one publish, from call to confirm, including any wait for a
      reconnect;
    - declare: topology this publisher relies on, declared on each new connection.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        name: str,
        heartbeat: float,
        timeout: float,
        declare: Callable[[AbstractConnection], Awaitable[None]] | None = None,
    ) -> None:
        self.timeout = timeout
        self._declare = declare
        self._opened: AbstractChannel | None = None  # aio-pika's channel, kept for its lifecycle
        self._channel: ConfirmedChannel | None = None
        self._reopen_lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        self.link = Link(url, name=name, heartbeat=heartbeat, on_open=self._on_open)

    def start(self) -> None:
        self.link.start()

    async def close(self) -> None:
        await self.link.close()
        if self._channel is not None:
            self._channel.close()
        for task in list(self._retiring):
            task.cancel()

    async def _on_open(self, connection: AbstractConnection) -> None:
        await self._open_channel(connection)
        if self._declare is not None:
            await self._declare(connection)

    async def _open_channel(self, connection: AbstractConnection) -> ConfirmedChannel:
        opened = await connection.channel(publisher_confirms=True, on_return_raises=True)
        if self._channel is not None:
            self._channel.close()
        self._opened = opened
        self._channel = ConfirmedChannel(cast(aiormq.Channel, await opened.get_underlay_channel()))
        return self._channel

    async def _usable_channel(self, deadline: float) -> ConfirmedChannel:
        loop = asyncio.get_running_loop()
        if not await self.link.wait_ready(max(0.0, deadline - loop.time())):
            raise PublishFailed(PublishFailure.DISCONNECTED, "broker not reachable before the deadline")
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        # The broker closes a channel on some errors (a publish to a missing exchange): open another.
        async with self._reopen_lock:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            connection = self.link.connection
            if connection is None:
                raise PublishFailed(PublishFailure.DISCONNECTED)
            try:
                return await asyncio.wait_for(self._open_channel(connection), deadline - loop.time())
            except (TimeoutError, aiormq.exceptions.AMQPError, RuntimeError) as error:
                raise PublishFailed(PublishFailure.DISCONNECTED, describe(error)) from None

    async def publish(
        self, message: Outgoing, *, exchange: str, routing_key: str, timeout: float | None = None
    ) -> None:
        """Publish and wait for the broker's confirm; raises PublishFailed on anything else.

        `message` comes from hookpipe.amqp.wire (persistent, properties encoded once). `exchange=""` is the default
        exchange, which routes by queue name.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        channel = await self._usable_channel(deadline)
        # aiormq matches a return to its publish by message_id. Two in-flight publishes sharing an id (one
        # event fanned out) could have a return blamed on the wrong one; the router acks an event only when
        # all its publishes succeed, and equal ids mean the same event, so the event still fails as a whole.
        try:
            async with asyncio.timeout_at(deadline):
                await channel.publish(message, exchange=exchange, routing_key=routing_key)
        except aiormq.exceptions.PublishError:
            unbound = f"no queue bound for {exchange or '(default)'}/{routing_key}"
            raise PublishFailed(PublishFailure.RETURNED, unbound) from None
        except aiormq.exceptions.DeliveryError:
            self._retire(channel)
            raise PublishFailed(PublishFailure.NACKED) from None
        except TimeoutError:
            raise PublishFailed(PublishFailure.TIMEOUT) from None
        except ChannelGone as error:
            raise PublishFailed(PublishFailure.DISCONNECTED, str(error)) from None

    def _retire(self, channel: ConfirmedChannel) -> None:
        """After a nack, publish on a new channel. On a RabbitMQ 3.10 cluster, a channel whose publish met a
        quorum queue's leader election can go on being nacked for every publish until the lost node returns,
        while a new channel's publishes are confirmed. The old channel closes once the publishes already on it
        had their time to be answered."""
        if self._channel is not channel:
            return  # already replaced
        opened, self._channel, self._opened = self._opened, None, None
        log.warning("a publish was nacked: the next ones go on a new channel", extra={"link": self.link.name})

        async def close_later() -> None:
            await asyncio.sleep(self.timeout)
            channel.close()
            await close_quietly(opened)

        task = asyncio.get_running_loop().create_task(close_later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)


MessageHandler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Consumption:
    """One consumer on its own channel; the link reconnects if the broker cancels it or closes the channel,
    but not when we close it (`close()`)."""

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue) -> None:
        self.channel = channel
        self.queue = queue
        self.tag = ""
        self.closing = False

    async def cancel(self) -> None:
        """Stop receiving new messages; those in flight can still be acked. Bounded: a broker that does not
        answer the cancel must not hold a shutdown (closing the channel later ends the consumer anyway)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.queue.cancel(self.tag), CANCEL_TIMEOUT)

    async def close(self) -> None:
        """Close the channel: every message still unacked on it goes back to the queue."""
        self.closing = True
        with contextlib.suppress(Exception):
            await self.channel.close()


async def consume(
    link: Link,
    connection: AbstractConnection,
    queue_name: str,
    handler: MessageHandler,
    *,
    prefetch: int,
) -> Consumption:
    """Start consuming `queue_name` on a new channel with `prefetch` unacked messages at most.

    The queue must be declared already. If the broker cancels the consumer (its queue was deleted) or closes
    the channel, the link reconnects, and the service's set-up declares and consumes again.
    """
    channel = await connection.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.get_queue(queue_name, ensure=True)
    consumption = Consumption(channel, queue)

    def on_channel_close(_: Any, error: BaseException | None = None) -> None:
        # aio-pika reports our own close as an error too (ChannelClosed): only the broker's closes count.
        if consumption.closing or error is None or isinstance(error, asyncio.CancelledError):
            return
        link.reconnect(f"consumer channel of {queue_name} closed: {describe(error)}")

    channel.close_callbacks.add(on_channel_close)
    underlying = await channel.get_underlay_channel()
    underlying.on_consumer_cancel_callbacks.add(
        lambda _frame: link.reconnect(f"broker cancelled the consumer of {queue_name}")
    )
    batcher = acks.attach(underlying)

    async def registered(message: AbstractIncomingMessage) -> None:
        # Before the handler's first await: tags register in delivery order, which batched acks rely on.
        if message.delivery_tag is not None:
            batcher.delivered(message.delivery_tag)
        await handler(message)

    consumption.tag = await queue.consume(registered, no_ack=False)
    return consumption


class QueueReader:
    """Reads a queue (or a stream) on `channel` one message at a time, unacked: the first `count` messages, or
    all until none comes for `idle` seconds. The messages are the caller's to ack; closing the channel gives back
    the rest. For tools that read to an end (dlq scans, events show, replay), not for services."""

    def __init__(self, channel: AbstractChannel, queue_name: str, *, idle: float, count: int | None = None) -> None:
        self.channel = channel
        self.queue_name = queue_name
        self.remaining = count
        self.idle = idle
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

    async def start(self, prefetch: int, arguments: dict[str, Any] | None = None) -> None:
        """Consume with `prefetch` unacked at most; `arguments` such as a stream's `x-stream-offset`."""
        await self.channel.set_qos(prefetch_count=max(1, prefetch))
        queue = await self.channel.get_queue(self.queue_name, ensure=False)

        async def arrived(message: AbstractIncomingMessage) -> None:
            self._inbox.put_nowait(message)

        await queue.consume(arrived, no_ack=False, arguments=arguments)

    async def next(self) -> AbstractIncomingMessage | None:
        """The next message; None once `count` were read or none came for `idle` seconds."""
        if self.remaining is not None and self.remaining <= 0:
            return None
        try:
            message = await asyncio.wait_for(self._inbox.get(), self.idle)
        except TimeoutError:
            self.remaining = 0
            return None
        if self.remaining is not None:
            self.remaining -= 1
        return message


@dataclass(frozen=True, slots=True)
class QueueState:
    """A queue's ready messages and consumers, as a passive declare reports them."""

    messages: int
    consumers: int


#: Per connection: held while a passive declare may have the broker close its channel (see queue_state).
_passive_declares: weakref.WeakKeyDictionary[AbstractConnection, asyncio.Lock] = weakref.WeakKeyDictionary()


async def queue_state(connection: AbstractConnection, queue_name: str, timeout: float = 5.0) -> QueueState | None:
    """Passive declare on a throwaway channel (a missing queue closes the channel it is asked on); None if the
    queue does not exist.

    One at a time per connection: when the broker closes a channel, aiormq frees its number as the close arrives
    but answers it (CloseOk) a moment later, and a channel opened in between reuses the number: the broker then
    ends the whole connection ("second 'channel.open' seen"). By the time the declare's error reaches us, the
    answer is queued, so the next passive declare's channel is safe.
    """
    lock = _passive_declares.setdefault(connection, asyncio.Lock())
    async with lock:
        channel = await asyncio.wait_for(connection.channel(publisher_confirms=False), timeout)
        try:
            queue = await asyncio.wait_for(channel.declare_queue(queue_name, passive=True), timeout)
            result = queue.declaration_result
            return QueueState(result.message_count or 0, result.consumer_count or 0)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return None
        finally:
            await close_quietly(channel, timeout)


async def queue_exists(connection: AbstractConnection, queue_name: str, timeout: float = 5.0) -> bool:
    return await queue_state(connection, queue_name, timeout) is not None


async def hand_over(
    publisher: Publisher,
    message: AbstractIncomingMessage,
    out: Outgoing,
    *,
    exchange: str,
    routing_key: str,
    requeue_delay: float,
) -> bool:
    """Publish `out` in place of the consumed `message`, then ack it: True once done.

    If the publish is not confirmed, `message` is requeued after `requeue_delay` seconds (so a broker problem
    does not become a hot loop) and False is returned: the input is never acked before its output is safe.
    """
    try:
        await publisher.publish(out, exchange=exchange, routing_key=routing_key)
    except PublishFailed as failure:
        log.error("could not publish; the message is requeued",
                  extra={"event_id": message.message_id, "exchange": exchange, "error": str(failure)})
        await asyncio.sleep(requeue_delay)
        await requeue(message)
        return False
    await ack(message)
    return True


def link_problems(*links: Link) -> list[str]:
    """Readiness problems of a service's broker links (and the `hookpipe_broker_connected` gauge, refreshed)."""
    problems = []
    for link in links:
        metrics.BROKER_CONNECTED.labels(link=link.name).set(int(link.is_ready))
        if not link.is_ready:
            why = f": {link.last_error}" if link.last_error else ""
            where = redact_url(link.url) if len(link.urls) == 1 else f"any of {len(link.urls)} broker nodes"
            problems.append(f"{link.name} not connected to {where}{why}")
    return problems


async def ack(message: AbstractIncomingMessage) -> None:
    """Ack `message`, batched with the other acks of its channel (hookpipe.amqp.acks); logs a failure, as settle."""
    batcher = acks.batcher_of(message)
    if batcher is None or message.delivery_tag is None:
        await settle(message.ack())
        return
    await settle(batcher.ack(message.delivery_tag))


async def requeue(message: AbstractIncomingMessage) -> None:
    """Nack `message` back to its queue, in order with its channel's batched acks; logs a failure, as settle."""
    batcher = acks.batcher_of(message)
    if batcher is None or message.delivery_tag is None:
        await settle(message.nack(requeue=True))
        return
    await settle(batcher.nack(message.delivery_tag, requeue=True))


async def settle(operation: Awaitable[Any]) -> None:
    """Await an ack or nack. If its channel is gone, the broker requeues the message anyway: a duplicate later,
    never a loss, so this logs and carries on."""
    try:
        await operation
    except Exception as error:
        log.warning("could not settle a message; the broker will redeliver it", extra={"error": describe(error)})


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


#: Seconds a channel's close may wait for the broker's answer before it is given up on.
CLOSE_TIMEOUT = 5.0


async def close_quietly(channel: AbstractChannel | None, timeout: float = CLOSE_TIMEOUT) -> None:
    """Close `channel` if it is open, ignoring every error, and never waiting past `timeout` s. A channel the
    broker has just closed (a missing queue, a deleted stream) may not say so yet, and a close of it would wait
    for an answer that never comes: that wait once held a CI run for 20 minutes and a service's stop for good."""
    if channel is None or channel.is_closed:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(channel.close(), timeout)


def describe(error: BaseException) -> str:
    """A short description of an error for logs and dead-letter headers, any URL password masked."""
    text = str(error).strip()
    if not text:  # asyncio's time-outs (aio-pika's connect among them) carry no message
        text = "no answer in time" if isinstance(error, TimeoutError) else type(error).__name__
    return _URL_PASSWORD.sub(r"\1***@", f"{type(error).__name__}: {text}")[:300]


async def declare_for_reload(
    link: Link, declare: Callable[[AbstractChannel], Awaitable[None]], *, what: str
) -> None:
    """Run `declare` on a channel of `link`'s connection, for what a new config adds (`what` names it).

    Every service declares the same way on reload: a broker away for RELOAD_CONNECT_TIMEOUT, or one that refuses
    a declaration, refuses the reload with ConfigError. The running config stays, the reload is counted as
    failed, and the next change of the file or SIGHUP tries again.
    """
    if not await link.wait_ready(RELOAD_CONNECT_TIMEOUT):
        raise ConfigError([f"broker: not connected, so {what} cannot be declared; send SIGHUP to retry"])
    connection = link.connection
    try:
        if connection is None:
            raise ConnectionError("the connection closed")
        async with connection.channel(publisher_confirms=False) as channel:
            await declare(channel)
    except Exception as error:
        raise ConfigError([f"broker: cannot declare {what}: {describe(error)}"]) from None
