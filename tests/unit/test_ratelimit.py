"""The token bucket behind per-source (and later per-destination) rate limits."""

from __future__ import annotations

import pytest

from hookpipe.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_one_seconds_worth_then_refuses() -> None:
    clock = Clock()
    bucket = TokenBucket(5, clock=clock)
    assert [bucket.try_take() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.wait_time() == pytest.approx(0.2)


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(2, clock=clock)
    assert bucket.try_take() and bucket.try_take() and not bucket.try_take()
    clock.now += 0.5
    assert bucket.try_take() and not bucket.try_take()
    clock.now += 3600
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]


def test_a_slow_rate_still_allows_one_event_and_says_how_long_to_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(1 / 60, clock=clock)  # 1/m
    assert bucket.try_take() and not bucket.try_take()
    assert bucket.wait_time() == pytest.approx(60)


async def test_take_waits_for_the_next_token() -> None:
    import time

    bucket = TokenBucket(20, burst=1)
    started = time.monotonic()
    for _ in range(5):
        await bucket.take()
    assert 0.15 <= time.monotonic() - started < 1.0  # the first is immediate, then one every 50 ms
