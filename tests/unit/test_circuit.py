"""The circuit breaker's states."""

from __future__ import annotations

from deliverer.circuit import Breaker, BreakerState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> Breaker:
    return Breaker(failures=3, cooldown=10, max_cooldown=35, clock=clock)


def test_it_opens_after_the_threshold_of_consecutive_failures_only() -> None:
    b = breaker(Clock())
    assert not b.record_failure() and not b.record_failure()
    b.record_success()
    assert [b.record_failure() for _ in range(3)] == [False, False, True]
    assert b.state is BreakerState.OPEN
    assert not b.record_failure()  # already open: in-flight failures do not reopen it


def test_a_probe_is_due_after_the_cooldown_which_doubles_per_failed_probe_up_to_the_cap() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    assert b.probe_in() == 10
    cooldowns = []
    for _ in range(4):
        clock.now += b.probe_in()
        assert b.probe_in() == 0
        b.start_probe()
        assert b.state is BreakerState.HALF_OPEN
        assert b.record_failure() is True
        cooldowns.append(b.cooldown)
    assert cooldowns == [20, 35, 35, 35]


def test_a_successful_probe_closes_it_and_resets_the_cooldown() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    b.start_probe()
    b.record_failure()
    b.start_probe()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.cooldown == 10 and b.consecutive_failures == 0
