"""Retry rungs: which delay queues a config needs, as plain arithmetic (no broker).

A retry waits in a rung, a quorum queue whose message TTL is the delay in ms (hookpipe.amqp.topology declares it).
The rungs are derived from the config: every delay of every destination's schedule, stretched by each jitter
factor. A `Retry-After` no configured rung covers gets a rung of a coarse grid, so a receiver cannot make us
declare a queue per value it sends.
"""

from __future__ import annotations

import math

from hookpipe.config import Config

#: Retry jitter buckets: each scheduled delay is stretched by one of these factors, picked at random, so the
#: retries of a burst spread out instead of coming back at once. Each (delay x factor) is a queue.
JITTER_FACTORS = (0.8, 0.9, 1.0, 1.1, 1.2)

#: A delivery whose breaker opened after it was prefetched waits this long (s) in a retry rung, then is back in
#: its queue (deliverer); the rung is declared at run time, like the coarse ones below.
BREAKER_PARK_SECONDS = 1.0

def rung_for(seconds: float) -> int:
    """The retry rung (queue TTL, ms) of a delay."""
    return max(1, round(seconds * 1000))


def configured_rungs(config: Config) -> list[int]:
    """Every retry rung the config's schedules need, jitter buckets included, sorted."""
    return sorted({
        rung_for(delay * factor)
        for destination in config.destinations.values()
        for delay in destination.retry.schedule
        for factor in JITTER_FACTORS
    })


#: The coarse grid's steps (s): whole seconds up to a minute, whole minutes up to an hour, then whole hours.
COARSE_STEPS = (1, 60, 3600)


def coarse_rung(seconds: float) -> int:
    """A rung for a delay no configured rung covers (a long Retry-After), rounded up to a coarse grid so a
    receiver sending arbitrary values cannot make us declare a queue per value."""
    for step in COARSE_STEPS:
        if seconds <= 60 * step or step == COARSE_STEPS[-1]:
            return rung_for(math.ceil(seconds / step) * step)
    raise AssertionError("unreachable")


def coarse_rungs_up_to(seconds: float) -> list[int]:
    """Every rung coarse_rung can return for a delay of at most `seconds` (the grid's points)."""
    points = (*range(1, 61), *range(120, 3601, 60), *range(7200, int(seconds) + 1, 3600))
    return [rung_for(point) for point in points if point <= seconds]


def runtime_rungs(config: Config) -> list[int]:
    """Every rung a deliverer may declare at run time under this config: the breaker's park rung and the coarse
    grid up to the longest max_age (a longer Retry-After expires the event instead)."""
    longest = max((destination.retry.max_age for destination in config.destinations.values()), default=0.0)
    return sorted({rung_for(BREAKER_PARK_SECONDS), *coarse_rungs_up_to(longest)})
