"""e2e fixtures: the three services as OS processes; their logs are attached to any failure report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.service_set import ServiceSet

_SETS = pytest.StashKey[list[ServiceSet]]()


@pytest.fixture
async def services(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: Any, topology_cleanup: Callable[[dict], None]
) -> AsyncIterator[Callable[[dict[str, Any]], ServiceSet]]:
    """`services(config)` -> a ServiceSet (not started). Stopped before the receiver stops and before the
    topology is deleted (a live service would declare its queues again)."""
    sets: list[ServiceSet] = []
    request.node.stash[_SETS] = sets

    def make(config: dict[str, Any]) -> ServiceSet:
        topology_cleanup(config)
        service_set = ServiceSet(config, tmp_path)
        sets.append(service_set)
        return service_set

    yield make
    try:
        for service_set in sets:
            await service_set.stop()
    finally:
        for service_set in sets:
            service_set.kill_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for service_set in item.stash.get(_SETS, []):
            for name, text in service_set.logs().items():
                report.sections.append((f"service log: {name} ({report.when})", text))
