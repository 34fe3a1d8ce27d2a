"""ingest's in-flight cap: requests and reserved bytes."""

from __future__ import annotations

from ingest.limits import InFlight


def test_requests_past_the_cap_are_not_admitted_until_one_is_released() -> None:
    cap = InFlight(max_requests=2, max_bytes=1000)
    assert cap.try_admit(10) and cap.try_admit(10)
    assert not cap.try_admit(10)
    cap.release(10)
    assert cap.try_admit(10)


def test_a_reservation_past_the_byte_cap_is_refused_without_counting() -> None:
    cap = InFlight(max_requests=10, max_bytes=1000)
    assert cap.try_admit(600)
    assert not cap.try_admit(500)
    assert (cap.requests, cap.bytes) == (1, 600)
    cap.release(600)
    assert (cap.requests, cap.bytes) == (0, 0)
