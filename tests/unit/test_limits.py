"""ingest's in-flight caps: requests, body bytes as they arrive, and requests waiting for their body."""

from __future__ import annotations

from ingest.limits import InFlight


def test_requests_past_the_cap_are_not_admitted_until_one_is_released() -> None:
    cap = InFlight(max_requests=2, max_bytes=1000)
    first, second = cap.admit("a"), cap.admit("a")
    assert first is not None and second is not None
    assert cap.admit("b") is None
    first.release()
    assert cap.admit("b") is not None


def test_bytes_are_counted_as_they_arrive_and_refused_past_the_byte_cap() -> None:
    cap = InFlight(max_requests=10, max_bytes=1000)
    one, two = cap.admit("a"), cap.admit("b")
    assert one is not None and two is not None
    assert cap.bytes == 0  # nothing is reserved up front, whatever the request declares
    assert one.try_hold(400) and one.try_hold(200)
    assert not two.try_hold(500)
    assert two.try_hold(400)
    assert (cap.requests, cap.bytes) == (2, 1000)
    one.release()
    assert (cap.requests, cap.bytes) == (1, 400)
    two.release()
    two.release()  # idempotent: a second release uncounts nothing
    assert (cap.requests, cap.bytes, cap.waiting) == (0, 0, 0)


def test_one_client_cannot_hold_more_than_its_share_of_waiting_reads() -> None:
    cap = InFlight(max_requests=16, max_bytes=1000)
    assert (cap.max_waiting, cap.max_waiting_per_client) == (8, 4)
    slow = [cap.admit("10.0.0.1") for _ in range(5)]
    waiting = [admission.try_wait() for admission in slow if admission is not None]
    assert waiting == [True, True, True, True, False]
    honest = cap.admit("10.0.0.2")
    assert honest is not None and honest.try_wait()  # another client still gets a waiting slot
    slow[0].release()  # type: ignore[union-attr]
    assert slow[4].try_wait()  # type: ignore[union-attr]


def test_waiting_reads_together_hold_at_most_half_the_request_slots() -> None:
    cap = InFlight(max_requests=8, max_bytes=1000)
    admitted = [cap.admit(f"10.0.0.{n}") for n in range(8)]
    assert [admission.try_wait() for admission in admitted if admission is not None] == [True] * 4 + [False] * 4
    assert cap.waiting == 4
    admitted[0].stop_waiting()  # type: ignore[union-attr]
    assert cap.waiting == 3 and admitted[7].try_wait()  # type: ignore[union-attr]
    for admission in admitted:
        admission.release()  # type: ignore[union-attr]
    assert (cap.requests, cap.waiting, cap._waiting_by_client) == (0, 0, {})


def test_tiny_caps_still_let_one_request_wait() -> None:
    cap = InFlight(max_requests=1, max_bytes=10)
    admission = cap.admit("a")
    assert admission is not None and admission.try_wait()
