"""A pytest plugin (tests/conftest.py loads it): pytest-timeout's budget also covers the teardown of a failed test.

pytest-timeout arms one timer for a test's setup, call and teardown, and cancels it in `pytest_exception_interact`,
a hook meant for debugger sessions that pytest calls on every failure. So once a test has failed, its teardown runs
with no time-out at all: a fixture clean-up waiting on a broker that accepts TCP but never answers hung `make test`
for 14 minutes without a word. Here the timer is armed again, with the full budget, for such a teardown.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

_TIMER_CANCELLED = pytest.StashKey[bool]()


def pytest_exception_interact(node: pytest.Item | pytest.Collector, call: pytest.CallInfo[object],
                              report: pytest.TestReport | pytest.CollectReport) -> None:
    if isinstance(node, pytest.Item) and report.when in ("setup", "call"):
        node.stash[_TIMER_CANCELLED] = True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    armed = item.stash.get(_TIMER_CANCELLED, False) and _arm_again(item)
    try:
        return (yield)
    finally:
        if armed:
            item.config.pluginmanager.hook.pytest_timeout_cancel_timer(item=item)


def _arm_again(item: pytest.Item) -> bool:
    """Arm pytest-timeout's timer for `item` as it armed it for the whole test; False if it has none to arm."""
    if not item.config.pluginmanager.hasplugin("timeout"):
        return False
    import pytest_timeout

    settings = pytest_timeout._get_item_settings(item)  # the test's own: ini, --timeout, its timeout mark
    if not settings.timeout or settings.func_only:  # no time-out, or one for the test function alone
        return False
    item.config.pluginmanager.hook.pytest_timeout_set_timer(item=item, settings=settings)
    return True
