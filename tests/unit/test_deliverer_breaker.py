"""A destination's breaker at work (deliverer.breaker): what it consumes, when it probes, and what a probe decides.

The consumers are a fake that records what the breaker asks; time is a fake clock and a sleep that records the
wait and returns at once."""

from __future__ import annotations

import asyncio

from deliverer.breaker import PROBE_PREFETCH, DestinationBreaker
from deliverer.circuit import BreakerState
from deliverer.outcomes import AttemptReason
from deliverer.sender import AttemptResult
from hookpipe.config import BreakerConfig

FAILED = AttemptResult(False, AttemptReason.HTTP_STATUS, 503)


class FakeLine:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None] | str] = []
        self.active: set[str] = set()
        self.paused_names: set[str] = set()

    def paused(self, name: str) -> bool:
        return name in self.paused_names

    def consuming(self, name: str) -> bool:
        return name in self.active

    async def consume(self, name: str, prefetch: int | None = None) -> None:
        self.calls.append(("consume", prefetch))
        self.active.add(name)

    async def stop(self, name: str) -> None:
        self.calls.append("stop")
        self.active.discard(name)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def breaker(line: FakeLine, time: FakeTime) -> DestinationBreaker:
    settings = BreakerConfig(failures=2, cooldown=10, max_cooldown=25)
    return DestinationBreaker("d", settings, line, clock=time.clock, sleep=time.sleep)


async def settle() -> None:
    for _ in range(5):  # the probe task: sleep (returns at once), then its consume
        await asyncio.sleep(0)


async def open_it(b: DestinationBreaker) -> None:
    await b.failed(FAILED)
    await b.failed(FAILED)


async def test_closed_it_consumes_at_the_full_prefetch() -> None:
    line = FakeLine()
    await breaker(line, FakeTime()).consume_or_wait()
    assert line.calls == [("consume", None)]


async def test_the_failure_that_opens_it_stops_consuming_and_a_probe_follows_after_the_cooldown() -> None:
    line, time = FakeLine(), FakeTime()
    b = breaker(line, time)
    await b.consume_or_wait()
    await b.failed(FAILED)
    assert line.calls == [("consume", None)] and b.state is BreakerState.CLOSED
    await b.failed(FAILED)
    assert b.state is BreakerState.OPEN and line.calls[-1] == "stop"
    await settle()
    assert time.slept == [10]
    assert b.state is BreakerState.HALF_OPEN and line.calls[-1] == ("consume", PROBE_PREFETCH)


async def test_a_successful_probe_closes_it_and_consumes_at_the_full_prefetch_again() -> None:
    line, time = FakeLine(), FakeTime()
    b = breaker(line, time)
    await open_it(b)
    await settle()
    await b.succeeded()
    assert b.state is BreakerState.CLOSED
    assert line.calls[-3:] == [("consume", PROBE_PREFETCH), "stop", ("consume", None)]


async def test_a_success_while_closed_touches_no_consumer() -> None:
    line = FakeLine()
    b = breaker(line, FakeTime())
    await b.failed(FAILED)
    await b.succeeded()
    assert line.calls == [] and b.consecutive_failures == 0


async def test_a_failed_probe_opens_it_again_for_a_doubled_cooldown() -> None:
    line, time = FakeLine(), FakeTime()
    b = breaker(line, time)
    await open_it(b)
    await settle()
    await b.failed(FAILED)  # the probe
    assert b.state is BreakerState.OPEN and line.calls[-1] == "stop"
    await settle()
    assert time.slept == [10, 20] and b.state is BreakerState.HALF_OPEN


async def test_while_open_it_waits_for_its_probe_and_never_consumes_at_the_full_prefetch() -> None:
    line, time = FakeLine(), FakeTime()
    b = breaker(line, time)
    await open_it(b)
    calls = len(line.calls)
    await b.consume_or_wait()  # e.g. a resume before the probe: the pending probe stays the only one
    await settle()
    assert line.calls[calls:] == [("consume", PROBE_PREFETCH)] and time.slept == [10]


async def test_a_probe_whose_consumer_is_gone_is_lost_and_a_new_probe_follows() -> None:
    line, time = FakeLine(), FakeTime()
    b = breaker(line, time)
    await open_it(b)
    await settle()
    await b.consume_or_wait()  # the probe's consumer still runs: nothing to do
    assert b.state is BreakerState.HALF_OPEN and line.calls[-1] == ("consume", PROBE_PREFETCH)
    line.active.clear()  # a new connection, or its consumer stopped on reload
    await b.consume_or_wait()
    assert b.state is BreakerState.OPEN
    await settle()
    assert b.state is BreakerState.HALF_OPEN and line.calls[-1] == ("consume", PROBE_PREFETCH)


async def test_a_paused_destination_gets_no_probe() -> None:
    line, time = FakeLine(), FakeTime()
    b = breaker(line, time)
    await open_it(b)
    line.paused_names.add("d")
    await settle()
    assert b.state is BreakerState.OPEN and line.calls == ["stop"]


async def test_a_cancelled_probe_never_starts() -> None:
    line, time = FakeLine(), FakeTime()
    b = breaker(line, time)
    await open_it(b)
    b.cancel_probe()
    await settle()
    assert b.state is BreakerState.OPEN and line.calls == ["stop"]
