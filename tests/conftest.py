"""Shared fixtures. Integration and e2e tests need RabbitMQ at $AMQP_URL (make test starts it if needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.broker import AMQP_URL, SESSION_CHECK_TIMEOUT, handshake_problem
from tests.support.pipeline import delete_topology, new_prefix
from tests.support.receiver import Receiver

# A failed test's teardown is bounded by pytest-timeout too (pytest-timeout alone leaves it unbounded).
from tests.support.teardown_timeout import pytest_exception_interact, pytest_runtest_teardown  # noqa: F401

#: Test folders whose tests use the broker at $AMQP_URL (tests/deploy starts private nodes of its own).
BROKER_FOLDERS = ("integration", "e2e")

_TESTS = Path(__file__).resolve().parent


def _needs_broker(item: pytest.Item) -> bool:
    if item.get_closest_marker("integration") or item.get_closest_marker("e2e"):
        return True
    try:
        folder = item.path.resolve().relative_to(_TESTS).parts[0]
    except (ValueError, IndexError):
        return False
    return folder in BROKER_FOLDERS


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before the first test: when any collected test needs RabbitMQ, it must complete an AMQP handshake within
    SESSION_CHECK_TIMEOUT, else the run stops at once with one line saying why. A broker that accepts TCP but never
    answers would otherwise cost every test its own connect time-out, and a unit-only run never asks for one."""
    if session.config.option.collectonly or not any(_needs_broker(item) for item in session.items):
        return
    problem = asyncio.run(handshake_problem(AMQP_URL, SESSION_CHECK_TIMEOUT))
    if problem is not None:
        pytest.exit(problem, returncode=pytest.ExitCode.INTERRUPTED)


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
