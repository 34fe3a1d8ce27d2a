"""Best-effort dedup of provider ids: bounded, expiring, and only what was confirmed."""

from __future__ import annotations

from ingest.dedup import RecentIds


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_id_is_seen_within_the_window_and_forgotten_after() -> None:
    clock = Clock()
    recent = RecentIds(window=60, max_ids=10, clock=clock)
    recent.remember("a")
    clock.now = 59
    assert recent.seen("a")
    clock.now = 61
    assert not recent.seen("a")
    assert len(recent) == 0


def test_past_max_ids_the_oldest_are_forgotten_first() -> None:
    recent = RecentIds(window=60, max_ids=3, clock=Clock())
    for event_id in "abcd":
        recent.remember(event_id)
    assert [recent.seen(i) for i in "abcd"] == [False, True, True, True]


async def test_only_a_confirmed_publish_is_remembered_and_waiters_learn_the_outcome() -> None:
    recent = RecentIds(window=60, max_ids=10, clock=Clock())
    failed = recent.begin("x")
    assert recent.publishing("x") is failed
    recent.end("x", failed, published=False)
    assert failed.result() is False and not recent.seen("x") and recent.publishing("x") is None
    confirmed = recent.begin("x")
    recent.end("x", confirmed, published=True)
    assert confirmed.result() is True and recent.seen("x")
