"""Config builders and an in-process pipeline for integration tests, each test under its own prefix."""

from __future__ import annotations

import asyncio
import io
import random
import socket
import uuid
from pathlib import Path
from typing import Any

import yaml

from hookpipe.amqp.topology import Names, all_exchange_names, all_queue_names
from hookpipe.config import LoadedConfig, parse_config
from tests.support.broker import AMQP_URL, connect

#: The signing secret tests' destinations use (Standard Webhooks form).
DESTINATION_SECRET = "whsec_dGVzdC1kZXN0aW5hdGlvbi1zZWNyZXQtMzI="


#: Listening ports come from below Linux's ephemeral range (32768-60999), where outgoing connections take
#: their local ports: a port the kernel hands out for `bind(0)` can be taken by a client before we listen.
_LISTEN_PORTS = range(20000, 32000)


#: Ports this process has handed out: a config takes several before any is bound, and two picks of the same
#: still-free port would collide when the services start (seen once in CI: ingest's listener on a router's ops).
_handed_out: set[int] = set()


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on now, outside the ephemeral range, never handed out before."""
    for _ in range(100):
        port = random.choice(_LISTEN_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


def new_prefix() -> str:
    return f"hp-test-{uuid.uuid4().hex[:10]}"


def pipeline_config(
    prefix: str,
    receiver_url: str,
    *,
    broker_url: str = AMQP_URL,
    publish_timeout: str = "2s",
    **sections: Any,
) -> dict[str, Any]:
    """A config dict: source `demo` (unverified, id from `x-test-id`) routed to destination `receiver`."""
    config: dict[str, Any] = {
        "broker": {"url": broker_url, "prefix": prefix, "heartbeat": "2s"},
        "ingest": {"listen": f"127.0.0.1:{free_port()}", "ops": f"127.0.0.1:{free_port()}",
                   "publish_timeout": publish_timeout},
        "router": {"ops": f"127.0.0.1:{free_port()}"},
        "deliverer": {"ops": f"127.0.0.1:{free_port()}"},
        "archive": "off",
        "log": {"level": "info"},
        "sources": {
            "demo": {"verify": {"scheme": "none"}, "unverified": True, "id": {"header": "x-test-id"},
                     "dedup": "off"},
        },
        "destinations": {
            "receiver": {
                "url": receiver_url,
                "timeout": "5s",
                "signing": {"scheme": "standard-webhooks", "secrets": [DESTINATION_SECRET]},
                "concurrency": 20,
                "allow_private_network": ["127.0.0.0/8"],
                "retry": {"schedule": ["200ms", "500ms"], "max_age": "1h"},  # short, so tests do not wait
            },
        },
        "routes": [{"name": "demo", "sources": ["demo"], "to": ["receiver"]}],
    }
    config.update(sections)
    return config


def load(config: dict[str, Any]) -> LoadedConfig:
    return parse_config(config, environ={})


def write_config(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def ingest_url(config: dict[str, Any], source: str = "demo") -> str:
    return f"http://{config['ingest']['listen']}/ingest/{source}"


def ops_url(config: dict[str, Any], service: str, path: str) -> str:
    return f"http://{config[service]['ops']}{path}"


async def delete_topology(config: dict[str, Any]) -> None:
    """Remove every queue and exchange the config's prefix may have created."""
    loaded = load(config).config
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        # Rungs declared at run time are not in the config: a parked delivery (1 s) and short Retry-Afters.
        extra_rungs = [Names(loaded.broker.prefix).retry(ms) for ms in (1000, 2000, 3000, 4000, 5000)]
        for queue in all_queue_names(loaded) + extra_rungs:
            await channel.queue_delete(queue)
        for exchange in all_exchange_names(loaded) + extra_rungs:
            await channel.exchange_delete(exchange)


async def queue_depth(queue: str) -> int:
    connection = await connect()
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


class InProcessPipeline:
    """ingest, router and deliverer running in the test's event loop, against the real broker."""

    def __init__(self, config: dict[str, Any], services: tuple[str, ...] = ("ingest", "router", "deliverer")):
        from deliverer.service import DelivererService
        from ingest.app import IngestService
        from router.service import RouterService

        loaded = load(config)
        factories = {"ingest": IngestService, "router": RouterService, "deliverer": DelivererService}
        self.services = {name: factories[name](loaded) for name in services}

    def __getitem__(self, name: str) -> Any:
        return self.services[name]

    async def start(self) -> None:
        for service in self.services.values():
            await service.start()
        for service in self.services.values():
            links = [service.publisher.link] + ([service.consumer] if hasattr(service, "consumer") else [])
            for link in links:
                assert await link.wait_ready(15), f"{service.name}: {link.name} not ready"

    async def stop(self) -> None:
        """Stop every service; a stop that hangs fails the test with every task's stack, not a silent time-out."""
        for service in reversed(list(self.services.values())):
            try:
                await asyncio.wait_for(service.stop(), SERVICE_STOP_TIMEOUT)
            except TimeoutError:
                raise AssertionError(f"{service.name} did not stop within {SERVICE_STOP_TIMEOUT}s; tasks:\n"
                                     + _task_stacks()) from None


async def wait_for_depth(queue: str, expected: int, timeout: float = 20.0) -> None:
    """Wait until `queue` holds exactly `expected` ready messages; AssertionError with the last depth if not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    depth = await queue_depth(queue)
    while depth != expected:
        if loop.time() > deadline:
            raise AssertionError(f"{queue} holds {depth} messages, not {expected}, after {timeout}s")
        await asyncio.sleep(0.1)
        depth = await queue_depth(queue)


async def post_events(
    config: dict[str, Any], ids: list[str], *, body: bytes = b"{}", parallel: int = 20, source: str = "demo"
) -> None:
    """POST one event per id to `source` (id in `x-test-id`), `parallel` at a time; each must get 200."""
    import aiohttp

    limit = asyncio.Semaphore(parallel)
    async with aiohttp.ClientSession() as http:

        async def post(event_id: str) -> None:
            async with limit, http.post(ingest_url(config, source), data=body, headers={"x-test-id": event_id}) as r:
                assert r.status == 200, f"{event_id}: {r.status}"

        await asyncio.gather(*(post(event_id) for event_id in ids))


#: Seconds a service gets to stop (its own bounds add up to less: in-flight grace 20 s, each link 10 s).
SERVICE_STOP_TIMEOUT = 90.0


def _task_stacks() -> str:
    out = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(limit=12, file=out)
    return out.getvalue()[-20_000:]
