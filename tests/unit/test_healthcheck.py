"""The image's HEALTHCHECK (`python -m hookpipe.runtime.healthcheck`) against a real ops listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hookpipe.runtime import healthcheck
from hookpipe.runtime.ops_listener import ops_app, start_site
from tests.support.pipeline import free_port, pipeline_config, write_config


async def always_ready() -> list[str]:
    return []


def config_with_ops(directory: Path, **ops: str) -> str:
    config = pipeline_config("hp-health", "http://127.0.0.1:9/webhooks")
    for service, address in ops.items():
        config.setdefault(service, {})["ops"] = address  # admin has no section in pipeline_config
    return str(write_config(directory, config))


async def test_healthy_when_the_running_service_answers_on_a_wildcard_ops_address(tmp_path: Path) -> None:
    port = free_port()
    runner = await start_site(ops_app(always_ready), f"127.0.0.1:{port}")
    try:
        path = config_with_ops(tmp_path, router=f"0.0.0.0:{port}")  # as in containers; probed on loopback
        assert await asyncio.to_thread(healthcheck.main, ["--config", path]) == 0
        assert await asyncio.to_thread(healthcheck.main, ["--config", path, "router"]) == 0
        assert await asyncio.to_thread(healthcheck.main, ["--config", path, "ingest"]) == 1
    finally:
        await runner.cleanup()


async def test_healthy_when_admin_answers_on_its_ops_address(tmp_path: Path) -> None:
    """The admin container runs the same HEALTHCHECK: admin.ops is among the addresses tried."""
    port = free_port()
    runner = await start_site(ops_app(always_ready), f"127.0.0.1:{port}")
    try:
        path = config_with_ops(tmp_path, ingest=f"127.0.0.1:{free_port()}", router=f"127.0.0.1:{free_port()}",
                               deliverer=f"127.0.0.1:{free_port()}", admin=f"0.0.0.0:{port}")
        assert await asyncio.to_thread(healthcheck.main, ["--config", path]) == 0
        assert await asyncio.to_thread(healthcheck.main, ["--config", path, "admin"]) == 0
        assert await asyncio.to_thread(healthcheck.main, ["--config", path, "deliverer"]) == 1
    finally:
        await runner.cleanup()


def test_unhealthy_when_no_ops_listener_answers(tmp_path: Path) -> None:
    # Every address free, admin's too: its default (127.0.0.1:9104) may be held by a running admin.
    path = config_with_ops(tmp_path, ingest=f"127.0.0.1:{free_port()}", router=f"127.0.0.1:{free_port()}",
                           deliverer=f"127.0.0.1:{free_port()}", admin=f"127.0.0.1:{free_port()}")
    assert healthcheck.main(["--config", path]) == 1


def test_a_missing_config_is_a_usage_error(tmp_path: Path) -> None:
    assert healthcheck.main(["--config", str(tmp_path / "absent.yaml")]) == 2


def test_wildcards_are_probed_on_loopback() -> None:
    assert healthcheck.probe_urls(["0.0.0.0:9101", "[::]:9102", "10.0.0.5:9103"]) == [
        "http://127.0.0.1:9101/healthz", "http://127.0.0.1:9102/healthz", "http://10.0.0.5:9103/healthz"]
