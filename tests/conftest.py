"""Shared fixtures. Integration and e2e tests need RabbitMQ at $AMQP_URL (make test starts it if needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support.pipeline import delete_topology, new_prefix
from tests.support.receiver import Receiver


@pytest.fixture
def prefix() -> str:
    """A topology prefix of this test's own, so runs and tests never see each other's queues."""
    return new_prefix()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def topology_cleanup() -> AsyncIterator[Callable[[dict[str, Any]], None]]:
    """Register configs whose queues and exchanges are deleted after the test."""
    configs: list[dict[str, Any]] = []
    yield configs.append
    for config in configs:
        await delete_topology(config)
