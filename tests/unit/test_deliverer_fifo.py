"""In-order delivery's decisions (deliverer.fifo): wait in place or give the head back, count its attempts across
a give-back, dead-letter when the schedule says so. Attempts, decisions and ends are fakes; no broker, no clock."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from deliverer.fifo import HeadAttempts, InOrder
from deliverer.outcomes import AttemptReason
from deliverer.retry import Decision
from deliverer.sender import AttemptResult
from hookpipe.config import DestinationConfig
from hookpipe.event import Event, now_ms
from hookpipe.outcomes import DeadLetterReason

FAILED = AttemptResult(False, AttemptReason.HTTP_STATUS, 503)
DELIVERED = AttemptResult(True, AttemptReason.OK, 200)


def sender() -> Any:
    config = DestinationConfig.model_validate({"url": "https://example.com/h", "signing": {"scheme": "none"},
                                               "ordering": "fifo", "retry": {"schedule": ["1s"], "max_age": "1h"}})
    return SimpleNamespace(name="d", config=config)


def event(event_id: str = "e1", *, attempt: int = 0, age_ms: int = 0) -> Event:
    return Event(id=event_id, source="demo", type=None, received_at=now_ms() - age_ms, verified=True,
                 content_type=None, body=b"{}", attempt=attempt)


class Line:
    """Fakes for every part: attempts answer from `results`, decisions from `delays_ms` (None: dead-letter)."""

    def __init__(self, results: list[AttemptResult], delays_ms: list[int | None]) -> None:
        self.results = results
        self.delays_ms = delays_ms
        self.attempts: list[int] = []
        self.ends: list[tuple[Any, ...]] = []
        self.slept: list[float] = []

    async def attempt(self, _: Any, __: Event, attempt: int) -> AttemptResult:
        self.attempts.append(attempt)
        return self.results.pop(0)

    def next_step(self, *_: Any) -> Decision:
        ms = self.delays_ms.pop(0)
        return Decision(reason=DeadLetterReason.EXHAUSTED) if ms is None else Decision(retry_ms=ms)

    async def delivered(self, message: Any) -> None:
        self.ends.append(("ack", message))

    async def dead_letter(self, name: str, message: Any, reason: DeadLetterReason, attempts: int,
                          result: AttemptResult | None = None) -> None:
        self.ends.append(("dead", reason, attempts))

    async def give_back(self, name: str, delay: float) -> None:
        self.ends.append(("given back", delay))

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def in_order(self, wait_in_place: float = 60.0) -> InOrder:
        return InOrder(attempt=self.attempt, next_step=self.next_step, ends=self, give_back=self.give_back,
                       wait_in_place=wait_in_place, sleep=self.sleep)


async def test_a_short_retry_delay_waits_in_place_holding_the_head() -> None:
    line = Line([FAILED, FAILED, DELIVERED], [500, 60_000])
    await line.in_order(wait_in_place=60).deliver(sender(), "m", event())
    assert line.attempts == [1, 2, 3]
    assert line.slept == [0.5, 60.0]
    assert line.ends == [("ack", "m")]


async def test_a_longer_delay_gives_the_head_back_and_its_next_delivery_continues_the_count() -> None:
    line = Line([FAILED, DELIVERED], [60_001])
    in_order = line.in_order(wait_in_place=60)
    await in_order.deliver(sender(), "m", event())
    assert line.ends == [("given back", 60.001)] and line.slept == []
    await in_order.deliver(sender(), "m again", event())  # the same head, redelivered after the wait
    assert line.attempts == [1, 2]
    assert line.ends[-1] == ("ack", "m again")


def test_a_held_count_belongs_to_its_head_only() -> None:
    heads = HeadAttempts()
    heads.hold("d", event("e1"), 3)
    assert heads.next_attempt("d", event("e2", attempt=1)) == 2  # another head: its own retries count
    heads.hold("d", event("e1"), 3)
    assert heads.next_attempt("d", event("e1")) == 4
    assert heads.next_attempt("d", event("e1")) == 1  # taken once


async def test_when_the_schedule_is_over_the_head_is_dead_lettered_with_the_attempts_made() -> None:
    line = Line([FAILED, FAILED], [100, None])
    await line.in_order().deliver(sender(), "m", event())
    assert line.ends == [("dead", DeadLetterReason.EXHAUSTED, 2)]


async def test_an_expired_head_is_dead_lettered_without_an_attempt() -> None:
    line = Line([], [])
    await line.in_order().deliver(sender(), "m", event(attempt=2, age_ms=3_600_001))
    assert line.attempts == []
    assert line.ends == [("dead", DeadLetterReason.EXPIRED, 2)]
