"""Retry decisions and the rungs derived from the config."""

from __future__ import annotations

import random

import pytest

from deliverer.retry import decide, parse_retry_after
from hookpipe.config import DestinationConfig, parse_config
from hookpipe.rungs import coarse_rung, coarse_rungs_up_to, configured_rungs


def destination(**settings: object) -> DestinationConfig:
    return DestinationConfig.model_validate({"url": "https://example.com/h", "signing": {"scheme": "none"},
                                             "retry": {"schedule": ["1s", "10s"], "max_age": "1h"}, **settings})


def step(attempt: int, *, status: int | None = 500, failure: str = "http_status", retry_after: float | None = None,
         age: float = 0.0, **settings: object):  # type: ignore[no-untyped-def]
    return decide(attempt=attempt, status=status, failure=failure, retry_after=retry_after, age=age,
                  destination=destination(**settings), rungs=[800, 900, 1000, 1100, 1200, 8000, 12000],
                  rng=random.Random(7))


def test_rungs_are_every_delay_in_five_jitter_buckets_without_duplicates() -> None:
    config = parse_config({"destinations": {
        "a": {"url": "https://a.example/h", "signing": {"scheme": "none"}, "retry": {"schedule": ["1s", "10s"]}},
        "b": {"url": "https://b.example/h", "signing": {"scheme": "none"}, "retry": {"schedule": ["1s"]}},
    }}, environ={}).config
    assert configured_rungs(config) == [800, 900, 1000, 1100, 1200, 8000, 9000, 10000, 11000, 12000]


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 800, 1200), (2, 8000, 12000)])
def test_each_attempt_waits_its_scheduled_delay_within_jitter(attempt: int, low: int, high: int) -> None:
    delays = {decide(attempt=attempt, status=500, failure="http_status", retry_after=None, age=0,
                     destination=destination(), rungs=[], rng=random.Random(seed)).retry_ms for seed in range(50)}
    assert all(delay is not None and low <= delay <= high for delay in delays)
    assert len(delays) > 1  # jitter spreads them


def test_past_the_schedule_the_event_is_exhausted() -> None:
    assert step(3).reason == "exhausted" and step(3).retry_ms is None


def test_dead_letter_on_and_blocked_addresses_are_not_retried() -> None:
    assert step(1, status=410).reason == "dead_letter_on"
    assert step(1, status=400, dead_letter_on=[400]).reason == "dead_letter_on"
    assert step(1, status=None, failure="blocked_address").reason == "blocked_address"


def test_a_retry_that_would_land_past_max_age_is_expired() -> None:
    assert step(1, age=3599.5).reason == "expired"


def test_retry_after_picks_the_smallest_rung_at_or_above_it_never_earlier_than_the_schedule() -> None:
    assert step(1, retry_after=5).retry_ms == 8000
    assert step(1, retry_after=0.1).retry_ms in {800, 900, 1000, 1100, 1200}  # the schedule wins
    assert step(1, retry_after=90).retry_ms == coarse_rung(90) == 120_000


def test_coarse_rungs_bound_how_many_queues_a_receiver_can_make_us_declare() -> None:
    assert {coarse_rung(s) for s in range(61, 120)} == {120_000}
    assert coarse_rung(7200.5) == 3 * 3600 * 1000


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412400.0) == 80
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("") is None


def test_prefetch_is_the_concurrency_but_at_most_a_minute_at_the_rate() -> None:
    from deliverer.service import prefetch

    assert prefetch(destination(concurrency=10)) == 10
    assert prefetch(destination(concurrency=10, rate_limit="50/s")) == 10
    assert prefetch(destination(concurrency=10, rate_limit="5/m")) == 5
    assert prefetch(destination(concurrency=10, rate_limit="1/h")) == 1


def test_a_retry_after_that_outlives_max_age_expires_the_event_now() -> None:
    assert step(1, retry_after=3600, age=10).reason == "expired"  # the test destination's max_age is 1 h


def test_the_coarse_grid_lists_every_rung_a_retry_after_can_make() -> None:
    grid = set(coarse_rungs_up_to(3 * 86400))
    assert {coarse_rung(s) for s in (0.5, 1, 59.2, 61, 3599, 3601, 86400, 3 * 86400 - 1)} <= grid
    assert len(grid) == 60 + 59 + 71
    assert max(coarse_rungs_up_to(90)) == 60_000
